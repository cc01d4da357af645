package dev.tourniquet.agent;

/** The status of one mitigation on this server. */
public enum Status {
  /** Enforced on every target that handles it. */
  APPLIED("Applied"),
  /** Active in audit mode: matched and counted, never blocking. */
  AUDIT("Audit"),
  /** Would be applied, but mitigations are disabled on this server or in the organisation. */
  DETECTED("Detected"),
  /** Blocked by an administrator; never applied, removed if it was. */
  BLOCKED("Blocked"),
  /** Applying it failed (enforcer error, health probe, invalid document); not retried until unblocked or revised. */
  FAILED("Failed"),
  /** Does not apply to this server's product or version, is expired, held, or no target can enforce it. */
  NOT_APPLICABLE("NotApplicable"),
  /** Removed: withdrawn, fixed, or rolled back by an operator. */
  REMOVED("Removed");

  private final String label;

  Status(String label) {
    this.label = label;
  }

  /**
   * Returns the name shown by {@code tourniquet status} and in JSON.
   *
   * @return e.g. {@code NotApplicable}
   */
  public String label() {
    return label;
  }

  /**
   * Returns the status with a label.
   *
   * @param label e.g. {@code Applied}
   * @return the status
   * @throws IllegalArgumentException if no status has that label
   */
  public static Status ofLabel(String label) {
    for (Status s : values()) {
      if (s.label.equals(label)) {
        return s;
      }
    }
    throw new IllegalArgumentException("expected a status (Applied, Audit, Detected, Blocked, Failed, NotApplicable, Removed) but found \"" + label + "\"");
  }
}
