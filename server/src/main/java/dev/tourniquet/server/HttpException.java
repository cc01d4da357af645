package dev.tourniquet.server;

import java.util.List;
import java.util.Locale;

/**
 * A request the server refuses, with the HTTP status and a message that says what was wrong, where, and
 * what was expected. The message is sent to the client as {@code {"error": "..."}}; it never contains a
 * secret.
 */
final class HttpException extends Exception {
  private static final long serialVersionUID = 1L;

  private final int status;
  private final List<String> allowed;

  HttpException(int status, String message) {
    this(status, message, List.of());
  }

  private HttpException(int status, String message, List<String> allowed) {
    super(message);
    this.status = status;
    this.allowed = allowed;
  }

  int status() {
    return status;
  }

  /** The methods a 405 names in its {@code Allow} header (RFC 9110 15.5.6); empty otherwise. */
  List<String> allowed() {
    return allowed;
  }

  /** 405: {@code method} is not one of {@code allowed}. */
  static HttpException methodNotAllowed(String method, String... allowed) {
    return new HttpException(405, "method " + method + " is not allowed here; expected " + String.join(" or ", allowed),
        List.of(allowed));
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
