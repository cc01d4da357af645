package dev.tourniquet.rules;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One request's server variables, computed on first use, plus the state of rule processing: the current
 * (possibly rewritten) URL and the captures of the rule being evaluated.
 *
 * <p>Variables follow IIS: {@code URL} is the decoded path, {@code QUERY_STRING} the raw query without
 * {@code ?}, {@code REQUEST_URI} and {@code UNENCODED_URL} the raw request-target as sent. A rewrite changes
 * {@code URL}, {@code QUERY_STRING} and what {@code <match url>} sees; the raw target stays. Repeated
 * header fields are joined with {@code ", "}, and {@code Cookie} fields with {@code "; "} (RFC 9113
 * §8.2.3), so a cookie split across fields is matched as one.
 */
final class RequestContext implements Template.Environment {
  private static final CompiledPattern.Captures NONE = CompiledPattern.Captures.of();

  private final HttpRequest request;
  private final HttpResponse response;
  private String path;
  private String query;
  private Map<String, String> requestHeaders;
  private Map<String, String> responseHeaders;

  CompiledPattern.Captures ruleCaptures = NONE;
  CompiledPattern.Captures conditionCaptures = NONE;

  private RequestContext(HttpRequest request, HttpResponse response, String path, String query) {
    this.request = request;
    this.response = response;
    this.path = path;
    this.query = query;
  }

  /**
   * Checks the request against the limits and splits its target.
   *
   * @throws RequestException if the request is malformed or too large
   */
  static RequestContext of(HttpRequest request, HttpResponse response, Limits limits) {
    String target = request.target();
    if (target.length() > limits.maxTargetLength()) {
      throw new RequestException(String.format(Locale.ROOT,
          "request target of %d characters exceeds the limit of %d", target.length(), limits.maxTargetLength()), 414);
    }
    if (request.headers().size() > limits.maxHeaders()) {
      throw new RequestException(String.format(Locale.ROOT,
          "%d header fields exceed the limit of %d", request.headers().size(), limits.maxHeaders()), 431);
    }
    long headerBytes = 0;
    for (Header h : request.headers()) {
      headerBytes += h.name().length() + h.value().length();
    }
    if (headerBytes > limits.maxHeaderBytes()) {
      throw new RequestException(String.format(Locale.ROOT,
          "header fields of %d bytes exceed the limit of %d", headerBytes, limits.maxHeaderBytes()), 431);
    }
    if (target.isEmpty() || target.charAt(0) != '/') {
      throw new RequestException("request target '" + abbreviate(target)
          + "' is not in origin form; expected a path beginning with '/'", 400);
    }
    for (int i = 0; i < target.length(); i++) {
      char c = target.charAt(i);
      if (c <= 0x20 || c == 0x7F) {
        throw new RequestException(String.format(Locale.ROOT,
            "request target contains the control or space character U+%04X at offset %d; expected it percent-encoded",
            (int) c, i), 400);
      }
    }
    int q = target.indexOf('?');
    String rawPath = q < 0 ? target : target.substring(0, q);
    String query = q < 0 ? "" : target.substring(q + 1);
    String decoded = UrlCodec.decodePathStrict(rawPath);
    if (decoded == null) {
      throw new RequestException("request path '" + abbreviate(rawPath)
          + "' has malformed percent-encoding or invalid UTF-8; expected %XX sequences of valid UTF-8", 400);
    }
    return new RequestContext(request, response, decoded, query);
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 80) + "…";
  }

  /** The same request, seen with another response (after an outbound rule changed a header). */
  RequestContext withResponse(HttpResponse newResponse) {
    return new RequestContext(request, newResponse, path, query);
  }

  /** What {@code <match url>} sees: the decoded path without its leading slash. */
  String matchInput() {
    return path.isEmpty() ? path : path.substring(1);
  }

  String query() {
    return query;
  }

  /** Applies a rewrite: later rules see the new path and query. */
  void rewrite(String newPath, String newQuery) {
    this.path = UrlCodec.decodeLenient(newPath);
    this.query = newQuery;
  }

  void resetCaptures() {
    ruleCaptures = NONE;
    conditionCaptures = NONE;
  }

  @Override
  public String variable(String name) {
    switch (name) {
      case "URL":
        return path;
      case "QUERY_STRING":
        return query;
      case "REQUEST_URI":
      case "UNENCODED_URL":
        return request.target();
      case "HTTPS":
        return request.https() ? "on" : "off";
      case "SERVER_PORT":
        return Integer.toString(request.serverPort());
      case "REMOTE_ADDR":
        return request.remoteAddr();
      case "REQUEST_METHOD":
        return request.method();
      case "SERVER_PROTOCOL":
        return "HTTP/1.1";
      default:
        break;
    }
    if (name.startsWith("HTTP_")) {
      if (requestHeaders == null) {
        requestHeaders = index(request.headers());
      }
      return requestHeaders.getOrDefault(name.substring(5), "");
    }
    if (name.startsWith("RESPONSE_") && response != null) {
      if (responseHeaders == null) {
        responseHeaders = index(response.headers());
      }
      return responseHeaders.getOrDefault(name.substring(9), "");
    }
    return "";
  }

  /** Header fields by IIS variable suffix: upper case, '-' as '_'; repeated fields joined. */
  static Map<String, String> index(List<Header> headers) {
    Map<String, String> byName = new HashMap<>();
    for (Header h : headers) {
      String key = variableSuffix(h.name());
      String separator = key.equals("COOKIE") ? "; " : ", ";
      byName.merge(key, h.value(), (a, b) -> a + separator + b);
    }
    return byName;
  }

  static String variableSuffix(String headerName) {
    return headerName.toUpperCase(Locale.ROOT).replace('-', '_');
  }

  @Override
  public String ruleGroup(int index) {
    return ruleCaptures.group(index);
  }

  @Override
  public String conditionGroup(int index) {
    return conditionCaptures.group(index);
  }
}
