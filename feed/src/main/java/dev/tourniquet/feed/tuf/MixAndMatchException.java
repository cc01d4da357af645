package dev.tourniquet.feed.tuf;

/**
 * Snapshot or targets metadata has a different version than the metadata that refers to it lists, so it
 * belongs to another state of the repository (mix-and-match attack; TUF 5.5.4, 5.6.4).
 */
public final class MixAndMatchException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  private final String listedBy;
  private final long expectedVersion;
  private final long foundVersion;

  MixAndMatchException(String file, String listedBy, String step, long expectedVersion, long foundVersion) {
    super(file, format("version differs from the one listed in %s, possible mix-and-match attack (TUF %s):"
        + " expected version %d but found %d", listedBy, step, expectedVersion, foundVersion));
    this.listedBy = listedBy;
    this.expectedVersion = expectedVersion;
    this.foundVersion = foundVersion;
  }

  /**
   * Returns the metadata that lists the expected version, e.g. {@code "timestamp.json"}.
   *
   * @return the referring metadata
   */
  public String listedBy() {
    return listedBy;
  }

  /**
   * Returns the version listed by the referring metadata.
   *
   * @return the version
   */
  public long expectedVersion() {
    return expectedVersion;
  }

  /**
   * Returns the version inside the file.
   *
   * @return the version
   */
  public long foundVersion() {
    return foundVersion;
  }
}
