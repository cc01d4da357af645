package dev.tourniquet.feed.tuf;

import java.time.Instant;

/**
 * Metadata has expired at the fixed update start time: the repository, a mirror or an attacker is
 * serving a frozen feed (TUF 5.3.10, 5.4.4, 5.5.6, 5.6.5).
 */
public final class ExpiredException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  private final Role role;
  private final Instant expires;
  private final Instant now;

  ExpiredException(String file, Role role, String step, Instant expires, Instant now) {
    super(file, format("%s metadata expired, possible freeze attack (TUF %s): expected an expiry after %s"
        + " but found %s", role.typeName(), step, now, expires));
    this.role = role;
    this.expires = expires;
    this.now = now;
  }

  /**
   * Returns the role of the expired metadata.
   *
   * @return the role
   */
  public Role role() {
    return role;
  }

  /**
   * Returns the metadata's expiry.
   *
   * @return the expiry
   */
  public Instant expires() {
    return expires;
  }

  /**
   * Returns the fixed update start time the expiry was compared with.
   *
   * @return the update start time
   */
  public Instant now() {
    return now;
  }
}
