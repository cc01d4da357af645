package dev.tourniquet.rules;

import java.util.List;
import java.util.Objects;

/**
 * A request as it reaches the server, before any decoding: what the rules are evaluated against.
 *
 * @param method the method, for example {@code GET}
 * @param target the raw request-target as sent on the wire: path and optional query, percent-encoded
 * @param protocol the protocol as the server reports it, for example {@code HTTP/1.1} or {@code HTTP/1.0}:
 *     the value of {@code {SERVER_PROTOCOL}}
 * @param headers the header fields, in order; a repeated field appears several times
 * @param remoteAddr the client's address
 * @param https whether the request came over TLS
 * @param serverPort the port the request arrived on
 */
public record HttpRequest(String method, String target, String protocol, List<Header> headers, String remoteAddr,
    boolean https, int serverPort) {
  /** The protocol of {@link #of}. */
  public static final String HTTP_1_1 = "HTTP/1.1";

  /**
   * Creates a request.
   *
   * @throws NullPointerException if an argument is null
   */
  public HttpRequest {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(protocol, "protocol");
    Objects.requireNonNull(remoteAddr, "remoteAddr");
    headers = List.copyOf(headers);
  }

  /**
   * Creates a plain HTTP/1.1 request on port 80 from 127.0.0.1.
   *
   * @param method the method
   * @param target the raw request-target
   * @param headers the header fields
   * @return the request
   */
  public static HttpRequest of(String method, String target, List<Header> headers) {
    return new HttpRequest(method, target, HTTP_1_1, headers, "127.0.0.1", false, 80);
  }

  /**
   * The same request with another target, as a rewrite makes it.
   *
   * @param newTarget the new raw request-target
   * @return the request
   */
  public HttpRequest withTarget(String newTarget) {
    return new HttpRequest(method, newTarget, protocol, headers, remoteAddr, https, serverPort);
  }
}
