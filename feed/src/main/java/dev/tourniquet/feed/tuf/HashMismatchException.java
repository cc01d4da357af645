package dev.tourniquet.feed.tuf;

/**
 * Downloaded bytes do not have the hash that the referring, already verified metadata lists (TUF 5.5.2,
 * 5.6.2 for metadata; 5.7.3 for target files).
 */
public final class HashMismatchException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  private final String algorithm;
  private final String expected;
  private final String found;

  HashMismatchException(String file, String listedBy, String step, String algorithm, String expected,
      String found) {
    super(file, format("%s hash differs from the one listed in %s (TUF %s): expected %s but found %s",
        algorithm, listedBy, step, expected, found));
    this.algorithm = algorithm;
    this.expected = expected;
    this.found = found;
  }

  /**
   * Returns the hash algorithm, {@code "sha256"} or {@code "sha512"}.
   *
   * @return the algorithm
   */
  public String algorithm() {
    return algorithm;
  }

  /**
   * Returns the listed hex digest.
   *
   * @return the expected digest
   */
  public String expected() {
    return expected;
  }

  /**
   * Returns the hex digest of the bytes received.
   *
   * @return the actual digest
   */
  public String found() {
    return found;
  }
}
