package dev.tourniquet.feed.tuf;

import java.util.Locale;

/**
 * A feed failed verification: the TUF client workflow rejected what the repository served.
 *
 * <p>Every subclass names one check a caller can act on and carries its data; the message names the file,
 * the check (citing the TUF specification step) and reads "expected X but found Y". Whatever the failure,
 * the client's trusted store keeps no timestamp, snapshot or targets from the failed run; only a new root
 * that the run verified is kept (TUF 5.3.8).
 */
public abstract sealed class FeedVerificationException extends Exception
    permits ThresholdNotMetException,
        RollbackException,
        RootChainGapException,
        ExpiredException,
        MixAndMatchException,
        MetaFileRemovedException,
        HashMismatchException,
        LengthMismatchException,
        OversizedException,
        MissingFileException,
        MalformedMetadataException,
        UnknownTargetException {

  private static final long serialVersionUID = 1L;

  private final String file;

  FeedVerificationException(String file, String message) {
    super(file + ": " + message);
    this.file = file;
  }

  /**
   * Returns the file that failed, as requested from the repository or named in the trusted store, e.g.
   * {@code "3.snapshot.json"} or {@code "targets/0a1b....M1.json"}.
   *
   * @return the file name
   */
  public String file() {
    return file;
  }

  static String format(String pattern, Object... args) {
    return String.format(Locale.ROOT, pattern, args);
  }
}
