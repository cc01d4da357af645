package dev.tourniquet.feed.tuf;

/**
 * A download of unknown length exceeded the client's size cap, or a target file is listed with a length
 * above the cap (endless data attack; TUF 5.3.3, 5.4.1, 5.5.1, 5.6.1). The download is cut at the cap.
 */
public final class OversizedException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  private final long limit;

  OversizedException(String file, String step, long limit) {
    super(file, format("download exceeds the size cap, possible endless data attack (TUF %s): expected at"
        + " most %d bytes but found more", step, limit));
    this.limit = limit;
  }

  /**
   * Returns the cap in bytes.
   *
   * @return the cap
   */
  public long limit() {
    return limit;
  }
}
