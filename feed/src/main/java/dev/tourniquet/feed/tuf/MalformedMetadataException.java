package dev.tourniquet.feed.tuf;

/**
 * Metadata is not valid JSON, is not in the form the TUF specification (section 4) requires, or uses
 * something the client refuses rather than guesses at (duplicate object keys, floating-point numbers,
 * an unsupported {@code spec_version}, an unsafe target path).
 */
public final class MalformedMetadataException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  private final String problem;

  MalformedMetadataException(String file, String problem) {
    super(file, "malformed metadata: " + problem);
    this.problem = problem;
  }

  /**
   * Returns what is wrong, naming the field path, e.g.
   * {@code "signed.version: expected an integer of at least 1 but found \"3\""}.
   *
   * @return the problem
   */
  public String problem() {
    return problem;
  }
}
