package dev.tourniquet.feed.tuf;

/**
 * A file the client needs is not on the repository (for example HTTP 404). The client cannot tell a
 * publisher's mistake from an attacker withholding the file, so it stops without changing anything.
 */
public final class MissingFileException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  MissingFileException(String file, String step) {
    super(file, format("file not found on the repository (TUF %s): expected the file but found nothing",
        step));
  }
}
