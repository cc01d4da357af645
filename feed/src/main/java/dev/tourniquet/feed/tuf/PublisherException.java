package dev.tourniquet.feed.tuf;

/**
 * A publisher's operation on a feed repository or a key file was refused. Each subclass is one failure a
 * publisher can act on; the message names the file or role and reads "expected X but found Y".
 */
public abstract sealed class PublisherException extends Exception
    permits RepositoryStateException, KeyNotAuthorisedException, SignedContentMismatchException,
        RevisionRollbackException, ExpiredMitigationException, IdCaseConflictException, KeyFileException,
        WrongPassphraseException, InsecureKeyFileException {
  private static final long serialVersionUID = 1L;

  PublisherException(String message) {
    super(message);
  }
}
