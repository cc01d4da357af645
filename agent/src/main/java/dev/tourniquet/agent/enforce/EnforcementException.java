package dev.tourniquet.agent.enforce;

/**
 * An enforcer could not converge its target. The message says which step failed and what the target or
 * the command answered; {@link #restored()} says whether the target was put back as it was.
 */
public final class EnforcementException extends Exception {
  private static final long serialVersionUID = 1L;

  private final boolean restored;

  /**
   * Creates an exception.
   *
   * @param message what failed, e.g. {@code nginx -t failed: … unknown directive "foo"}
   * @param restored true if the target was restored to its state before the call
   * @param cause the underlying failure, or null
   */
  public EnforcementException(String message, boolean restored, Throwable cause) {
    super(message, cause);
    this.restored = restored;
  }

  /**
   * Creates an exception for a failure after which the target was restored.
   *
   * @param message what failed
   */
  public EnforcementException(String message) {
    this(message, true, null);
  }

  /**
   * Tells whether the target was restored to its state before the failed call.
   *
   * @return true if restored; false if the restore failed too and an operator must look
   */
  public boolean restored() {
    return restored;
  }
}
