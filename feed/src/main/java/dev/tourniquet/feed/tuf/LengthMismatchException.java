package dev.tourniquet.feed.tuf;

/**
 * Downloaded bytes are longer or shorter than the length the referring metadata lists (TUF 5.5.1, 5.6.1,
 * 5.7.3). The client never truncates a longer download to the listed length: the extra bytes are the
 * evidence.
 */
public final class LengthMismatchException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  private final long expected;
  private final long found;
  private final boolean longer;

  LengthMismatchException(String file, String listedBy, String step, long expected, long found,
      boolean longer) {
    super(file, format("length differs from the one listed in %s (TUF %s): expected %d bytes but found %s",
        listedBy, step, expected, longer ? "more than " + expected : found + " bytes"));
    this.expected = expected;
    this.found = found;
    this.longer = longer;
  }

  /**
   * Returns the listed length in bytes.
   *
   * @return the expected length
   */
  public long expected() {
    return expected;
  }

  /**
   * Returns the number of bytes read; when {@link #longer()} the download was cut there.
   *
   * @return the bytes read
   */
  public long found() {
    return found;
  }

  /**
   * Returns whether the download was longer than listed (it was cut after one extra byte).
   *
   * @return true if longer, false if shorter
   */
  public boolean longer() {
    return longer;
  }
}
