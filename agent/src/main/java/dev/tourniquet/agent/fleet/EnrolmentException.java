package dev.tourniquet.agent.fleet;

import java.io.IOException;

/**
 * The agent could not enrol with its fleet server: the server refused the one-time token (wrong, used or
 * expired), refused the server's name (already enrolled), or could not be reached. Nothing was written:
 * there is still no credential, and the next start tries again with the token file then configured. The
 * message names the token file (never the token) and carries the server's reason.
 */
public final class EnrolmentException extends IOException {
  private static final long serialVersionUID = 1L;

  EnrolmentException(String message, Throwable cause) {
    super(message, cause);
  }
}
