package dev.tourniquet.feed.tuf;

/**
 * New snapshot metadata no longer lists a targets metadata file that the trusted snapshot listed
 * (TUF 5.5.5).
 */
public final class MetaFileRemovedException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  private final String metaPath;

  MetaFileRemovedException(String file, String metaPath) {
    super(file, format("metadata listed in the trusted snapshot is missing (TUF 5.5.5): expected an entry"
        + " for %s but found none", metaPath));
    this.metaPath = metaPath;
  }

  /**
   * Returns the metadata file that disappeared, e.g. {@code "targets.json"}.
   *
   * @return the path listed in the trusted snapshot
   */
  public String metaPath() {
    return metaPath;
  }
}
