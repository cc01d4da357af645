package dev.tourniquet.feed.tuf;

/**
 * The repository is not in a state that allows the operation, or an argument does not fit it: not
 * initialised, nothing staged, a staged version overtaken by a later publish, an unknown target, metadata
 * that must be re-signed first.
 */
public final class RepositoryStateException extends PublisherException {
  private static final long serialVersionUID = 1L;

  private final String subject;

  RepositoryStateException(String subject, String problem) {
    super(subject + ": " + problem);
    this.subject = subject;
  }

  /**
   * Returns what the problem is about, e.g. {@code "staged root.json"} or a repository path.
   *
   * @return the subject
   */
  public String subject() {
    return subject;
  }
}
