package dev.tourniquet.feed.tuf;

/**
 * The file served as {@code N.root.json} holds a root of a later version than N, so the chain of trust
 * would skip a version whose keys never vouched for it (TUF 5.3.5: the new version must be exactly N).
 */
public final class RootChainGapException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  private final long expectedVersion;
  private final long foundVersion;

  RootChainGapException(String file, long expectedVersion, long foundVersion) {
    super(file, format("root chain skips a version (TUF 5.3.5): expected version %d but found %d",
        expectedVersion, foundVersion));
    this.expectedVersion = expectedVersion;
    this.foundVersion = foundVersion;
  }

  /**
   * Returns the version the file name promised.
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
