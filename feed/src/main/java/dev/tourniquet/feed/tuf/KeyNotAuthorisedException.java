package dev.tourniquet.feed.tuf;

/**
 * A key was used to sign metadata of a role that does not list it. Signing anyway would add a signature
 * that no client counts.
 */
public final class KeyNotAuthorisedException extends PublisherException {
  private static final long serialVersionUID = 1L;

  private final Role role;
  private final String keyId;

  KeyNotAuthorisedException(Role role, String keyId, String keysOf) {
    super(FeedVerificationException.format("%s role: expected a key listed for it in %s but found key %s",
        role.typeName(), keysOf, keyId));
    this.role = role;
    this.keyId = keyId;
  }

  /**
   * Returns the role being signed.
   *
   * @return the role
   */
  public Role role() {
    return role;
  }

  /**
   * Returns the id of the key that is not authorised.
   *
   * @return the key id
   */
  public String keyId() {
    return keyId;
  }
}
