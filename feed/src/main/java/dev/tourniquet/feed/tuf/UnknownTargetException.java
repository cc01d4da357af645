package dev.tourniquet.feed.tuf;

/**
 * The trusted targets metadata lists no target of the requested name (TUF 5.7.2).
 */
public final class UnknownTargetException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  private final String target;

  UnknownTargetException(String file, String target) {
    super(file, format("no such target (TUF 5.7.2): expected an entry for \"%s\" but found none", target));
    this.target = target;
  }

  /**
   * Returns the requested target name.
   *
   * @return the target name
   */
  public String target() {
    return target;
  }
}
