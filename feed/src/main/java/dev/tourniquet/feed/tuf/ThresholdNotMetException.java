package dev.tourniquet.feed.tuf;

/**
 * Fewer distinct authorised keys produced a valid signature than the role's threshold requires
 * (TUF 5.3.4, 5.4.2, 5.5.3, 5.6.3). Signatures by unknown keys, keys of another role, keys of an
 * unsupported type, and repeated signatures by the same key do not count.
 */
public final class ThresholdNotMetException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  private final Role role;
  private final String keysOf;
  private final int threshold;
  private final int valid;

  ThresholdNotMetException(String file, Role role, String keysOf, String step, int threshold, int valid) {
    super(file, format("signature threshold of the %s role in %s not met (TUF %s): expected at least %d"
        + " valid signature%s from distinct authorised keys but found %d",
        role.typeName(), keysOf, step, threshold, threshold == 1 ? "" : "s", valid));
    this.role = role;
    this.keysOf = keysOf;
    this.threshold = threshold;
    this.valid = valid;
  }

  /**
   * Returns the role whose keys had to sign.
   *
   * @return the role
   */
  public Role role() {
    return role;
  }

  /**
   * Returns which root metadata defined the keys, e.g. {@code "the trusted root (version 1)"}.
   *
   * @return a description of the key source
   */
  public String keysOf() {
    return keysOf;
  }

  /**
   * Returns the number of valid signatures required.
   *
   * @return the threshold
   */
  public int threshold() {
    return threshold;
  }

  /**
   * Returns the number of valid signatures by distinct authorised keys found.
   *
   * @return the count
   */
  public int valid() {
    return valid;
  }
}
