package dev.tourniquet.agent;

/**
 * The agent's configuration file is invalid. The message names the file, the key and what was expected.
 */
public final class ConfigException extends Exception {
  private static final long serialVersionUID = 1L;

  /**
   * Creates an exception.
   *
   * @param message e.g. {@code agent.yaml: targets[0].type: expected one of nginx, servlet … but found "x"}
   */
  public ConfigException(String message) {
    super(message);
  }

  /**
   * Creates an exception with a cause.
   *
   * @param message what is wrong, where
   * @param cause the underlying failure
   */
  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
