package dev.tourniquet.server;

import java.util.Locale;

/**
 * A request the server refuses, with the HTTP status and a message that says what was wrong, where, and
 * what was expected. The message is sent to the client as {@code {"error": "..."}}; it never contains a
 * secret.
 */
final class HttpException extends Exception {
  private static final long serialVersionUID = 1L;

  private final int status;

  HttpException(int status, String message) {
    super(message);
    this.status = status;
  }

  int status() {
    return status;
  }

  static HttpException badRequest(String format, Object... args) {
    return new HttpException(400, String.format(Locale.ROOT, format, args));
  }

  static HttpException unauthorized(String message) {
    return new HttpException(401, message);
  }

  static HttpException forbidden(String format, Object... args) {
    return new HttpException(403, String.format(Locale.ROOT, format, args));
  }

  static HttpException notFound(String format, Object... args) {
    return new HttpException(404, String.format(Locale.ROOT, format, args));
  }

  static HttpException conflict(String format, Object... args) {
    return new HttpException(409, String.format(Locale.ROOT, format, args));
  }
}
