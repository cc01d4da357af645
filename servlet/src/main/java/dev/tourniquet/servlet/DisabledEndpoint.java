package dev.tourniquet.servlet;

import java.util.Locale;
import java.util.Objects;

/**
 * A {@code disable-endpoint} action: every request under the prefix is answered with {@code status} and a
 * short plain-text body, and never reaches the application.
 *
 * @param pathPrefix the prefix
 * @param status the status to answer, 400 to 599 (the file's default is 503)
 */
public record DisabledEndpoint(PathPrefix pathPrefix, int status) {
  /** The status when the file names none. */
  public static final int DEFAULT_STATUS = 503;

  /**
   * Creates the action.
   *
   * @throws NullPointerException if {@code pathPrefix} is null
   * @throws IllegalArgumentException if {@code status} is not from 400 to 599
   */
  public DisabledEndpoint {
    Objects.requireNonNull(pathPrefix, "pathPrefix");
    if (status < 400 || status > 599) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "expected a status from 400 to 599 but found %d", status));
    }
  }
}
