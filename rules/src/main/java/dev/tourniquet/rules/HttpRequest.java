package dev.tourniquet.rules;

import java.util.List;
import java.util.Objects;

/**
 * A request as it reaches the server, before any decoding: what the rules are evaluated against.
 *
 * @param method the method, for example {@code GET}
 * @param target the raw request-target as sent on the wire: path and optional query, percent-encoded
 * @param headers the header fields, in order; a repeated field appears several times
 * @param remoteAddr the client's address
 * @param https whether the request came over TLS
 * @param serverPort the port the request arrived on
 */
public record HttpRequest(String method, String target, List<Header> headers, String remoteAddr, boolean https, int serverPort) {
  /**
   * Creates a request.
   *
   * @throws NullPointerException if an argument is null
   */
  public HttpRequest {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(remoteAddr, "remoteAddr");
    headers = List.copyOf(headers);
  }

  /**
   * Creates a plain-HTTP request on port 80 from 127.0.0.1.
   *
   * @param method the method
   * @param target the raw request-target
   * @param headers the header fields
   * @return the request
   */
  public static HttpRequest of(String method, String target, List<Header> headers) {
    return new HttpRequest(method, target, headers, "127.0.0.1", false, 80);
  }
}
