package dev.tourniquet.feed.tuf;

/**
 * A version went back: new metadata is older than what the client already trusts (TUF 5.3.5, 5.4.3,
 * 5.5.5). Rejecting it stops an attacker from replaying old, validly signed metadata.
 */
public final class RollbackException extends FeedVerificationException {
  private static final long serialVersionUID = 1L;

  private final String subject;
  private final long trustedVersion;
  private final long foundVersion;

  RollbackException(String file, String subject, String step, long trustedVersion, long foundVersion) {
    super(file, format("rollback of %s (TUF %s): expected version %d or later but found %d",
        subject, step, trustedVersion, foundVersion));
    this.subject = subject;
    this.trustedVersion = trustedVersion;
    this.foundVersion = foundVersion;
  }

  /**
   * Returns what went back, e.g. {@code "timestamp.json"} or {@code "targets.json as listed in snapshot.json"}.
   *
   * @return the subject
   */
  public String subject() {
    return subject;
  }

  /**
   * Returns the lowest acceptable version.
   *
   * @return the version
   */
  public long trustedVersion() {
    return trustedVersion;
  }

  /**
   * Returns the version found.
   *
   * @return the version
   */
  public long foundVersion() {
    return foundVersion;
  }
}
