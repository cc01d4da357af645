package dev.tourniquet.agent.enforce.service;

/**
 * A service manager did not do what it was asked, or answered something this code cannot read. The
 * message names the command, its exit code and what it printed, and what was expected, e.g.
 * {@code `sc.exe stop msexchangeum` exited with 1051: [SC] ControlService FAILED 1051: … dependent}.
 */
public final class ServiceManagerException extends Exception {
  private static final long serialVersionUID = 1L;

  /**
   * Creates an exception.
   *
   * @param message what failed and what was expected
   */
  public ServiceManagerException(String message) {
    super(message);
  }

  /**
   * Creates an exception with a cause.
   *
   * @param message what failed
   * @param cause the underlying failure
   */
  public ServiceManagerException(String message, Throwable cause) {
    super(message, cause);
  }
}
