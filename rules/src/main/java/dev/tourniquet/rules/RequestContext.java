package dev.tourniquet.rules;

import java.util.Arrays;
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
  /** Where the path ends in the target: at its {@code ?}, or its end. */
  private final int pathEnd;
  /** The decoded path; null until used when the target's path has no percent-encoding (it is then a copy of it). */
  private String path;
  /** The query; null until used (it is then a copy of the target's, without {@code ?}). */
  private String query;
  /** {@link #matchInput()}, computed on first use; null after a rewrite until used again. */
  private String matchInput;
  private Map<String, String> responseHeaders;
  /** Request headers by the hash of their variable suffix: open addressing, header index + 1. */
  private final int[] headerSlots;
  private final int headerMask;
  private final int[] headerHashes;

  CompiledPattern.Captures ruleCaptures = NONE;
  CompiledPattern.Captures conditionCaptures = NONE;

  private RequestContext(HttpRequest request, HttpResponse response, int pathEnd, String path, String query,
      HeaderIndex index, int headerMask) {
    this.request = request;
    this.response = response;
    this.pathEnd = pathEnd;
    this.path = path;
    this.query = query;
    this.headerSlots = index.slots;
    this.headerHashes = index.hashes;
    this.headerMask = headerMask;
  }

  /**
   * Arrays for a request's header index, reusable from one request to the next by one thread, so that
   * indexing allocates nothing; a context built on them must not outlive the next one built on them.
   */
  static final class HeaderIndex {
    private int[] slots = new int[32];
    private int[] hashes = new int[16];
  }

  /**
   * Checks the request against the limits, splits its target and indexes its headers.
   *
   * @throws RequestException if the request is malformed or too large
   */
  static RequestContext of(HttpRequest request, HttpResponse response, Limits limits) {
    return of(request, response, limits, new HeaderIndex());
  }

  /**
   * As {@link #of(HttpRequest, HttpResponse, Limits)}, indexing the headers in arrays the caller reuses.
   *
   * @throws RequestException if the request is malformed or too large
   */
  static RequestContext of(HttpRequest request, HttpResponse response, Limits limits, HeaderIndex index) {
    String target = request.target();
    if (target.length() > limits.maxTargetLength()) {
      throw new RequestException(String.format(Locale.ROOT,
          "request target of %d characters exceeds the limit of %d", target.length(), limits.maxTargetLength()), 414);
    }
    List<Header> headers = request.headers();
    int n = headers.size();
    if (n > limits.maxHeaders()) {
      throw new RequestException(String.format(Locale.ROOT,
          "%d header fields exceed the limit of %d", n, limits.maxHeaders()), 431);
    }
    if (index.hashes.length < n) {
      index.hashes = new int[Integer.highestOneBit(n) * 2];
    }
    int[] hashes = index.hashes;
    // One pass over the fields for the size limit and the names' hashes: the fields are read once.
    long headerBytes = 0;
    for (int i = 0; i < n; i++) {
      Header h = headers.get(i);
      String name = h.name();
      headerBytes += name.length() + h.value().length();
      hashes[i] = suffixHash(name);
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
    int pathEnd = q < 0 ? target.length() : q;
    String decoded = null;
    int percent = target.indexOf('%');
    if (percent >= 0 && percent < pathEnd) {
      String rawPath = target.substring(0, pathEnd);
      decoded = UrlCodec.decodePathStrict(rawPath);
      if (decoded == null) {
        throw new RequestException("request path '" + abbreviate(rawPath)
            + "' has malformed percent-encoding or invalid UTF-8; expected %XX sequences of valid UTF-8", 400);
      }
    }
    int size = Integer.highestOneBit(Math.max(8, n * 2)) * 2;
    if (index.slots.length < size) {
      index.slots = new int[size];
    }
    int[] slots = index.slots;
    Arrays.fill(slots, 0, size, 0);
    int mask = size - 1;
    for (int i = 0; i < n; i++) {
      int slot = hashes[i] & mask;
      while (slots[slot] != 0) {
        slot = (slot + 1) & mask;
      }
      slots[slot] = i + 1;
    }
    return new RequestContext(request, response, pathEnd, decoded, q < 0 ? "" : null, index, mask);
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 80) + "…";
  }

  /** The same request, seen with another response (after an outbound rule changed a header). */
  RequestContext withResponse(HttpResponse newResponse) {
    HeaderIndex index = new HeaderIndex();
    index.slots = headerSlots;
    index.hashes = headerHashes;
    return new RequestContext(request, newResponse, pathEnd, path(), query(), index, headerMask);
  }

  /** The request target as sent. */
  String target() {
    return request.target();
  }

  /** Where the target's path ends: at its {@code ?}, or its length. */
  int pathEnd() {
    return pathEnd;
  }

  /** The decoded path. */
  private String path() {
    String p = path;
    if (p == null) {
      p = pathEnd == request.target().length() ? request.target() : request.target().substring(0, pathEnd);
      path = p;
    }
    return p;
  }

  /** What {@code <match url>} sees: the decoded path without its leading slash. */
  String matchInput() {
    String m = matchInput;
    if (m == null) {
      // Straight from the target when the path needs no decoding: one copy instead of two.
      m = path != null ? (path.isEmpty() ? path : path.substring(1)) : request.target().substring(1, pathEnd);
      matchInput = m;
    }
    return m;
  }

  String query() {
    String q = query;
    if (q == null) {
      q = request.target().substring(pathEnd + 1);
      query = q;
    }
    return q;
  }

  /** Applies a rewrite: later rules see the new path and query. */
  void rewrite(String newPath, String newQuery) {
    this.path = UrlCodec.decodeLenient(newPath);
    this.query = newQuery;
    this.matchInput = null;
  }

  void resetCaptures() {
    ruleCaptures = NONE;
    conditionCaptures = NONE;
  }

  @Override
  public String variable(String name) {
    switch (name) {
      case "URL":
        return path();
      case "QUERY_STRING":
        return query();
      case "REQUEST_URI":
      case "UNENCODED_URL":
      case "HTTP_URL":
        return request.target();
      case "HTTPS":
        return request.https() ? "on" : "off";
      case "SERVER_PORT":
        return Integer.toString(request.serverPort());
      case "REMOTE_ADDR":
        return request.remoteAddr();
      case "REQUEST_METHOD":
      case "HTTP_METHOD":
        return request.method();
      case "SERVER_PROTOCOL":
      case "HTTP_VERSION":
        return request.protocol();
      default:
        break;
    }
    if (name.startsWith("HTTP_")) {
      return requestHeader(name, 5);
    }
    if (name.startsWith("RESPONSE_") && response != null) {
      if (responseHeaders == null) {
        responseHeaders = index(response.headers());
      }
      return responseHeaders.getOrDefault(name.substring(9), "");
    }
    return "";
  }

  @Override
  public String variable(Template.Variable variable) {
    return variable.header() ? requestHeader(variable.name(), 5, variable.headerHash()) : variable(variable.name());
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

  /**
   * The value of the request header whose variable suffix is {@code name} from {@code offset} on (for
   * {@code HTTP_USER_AGENT} and 5, the {@code User-Agent} fields), repeated fields joined as {@link #index}
   * does, or "" when absent. The first call hashes every header name once (no upper-cased copies); each
   * lookup is then one probe.
   */
  String requestHeader(String name, int offset) {
    return requestHeader(name, offset, keyHash(name, offset));
  }

  /** {@link #requestHeader(String, int)} with the name's {@link #keyHash} already computed. */
  private String requestHeader(String name, int offset, int h) {
    List<Header> headers = request.headers();
    String value = null;
    StringBuilder joined = null;
    int mask = headerMask;
    for (int slot = h & mask; headerSlots[slot] != 0; slot = (slot + 1) & mask) {
      int index = headerSlots[slot] - 1;
      if (headerHashes[index] != h || !hasSuffix(headers.get(index).name(), name, offset)) {
        continue;
      }
      // Linear probing keeps fields of one name in their order on the wire.
      String v = headers.get(index).value();
      if (value == null) {
        value = v;
      } else {
        if (joined == null) {
          joined = new StringBuilder(value);
        }
        joined.append(name.regionMatches(offset, "COOKIE", 0, 6) && name.length() - offset == 6 ? "; " : ", ").append(v);
      }
    }
    return joined != null ? joined.toString() : value == null ? "" : value;
  }

  /**
   * The hash of header {@code i}'s variable suffix, as {@link #keyHash} gives for the suffix (so a
   * variable name finds it).
   */
  int headerHash(int i) {
    return headerHashes[i];
  }

  /**
   * {@code keyHash(variableSuffix(headerName), 0)}, without reading the whole name. Like {@link #keyHash},
   * it reads the first two and the last two characters: header names mostly differ at their ends, and
   * equal hashes are compared in full anyway. When those four are ASCII, they are the suffix's own ends
   * whatever lies between, since upper-casing maps each character on its own (an inner {@code ß} becomes
   * {@code SS} but leaves the ends alone); otherwise the suffix is computed.
   */
  static int suffixHash(String headerName) {
    int n = headerName.length();
    if (n == 0) {
      return 0;
    }
    if (n == 1) {
      char only = headerName.charAt(0);
      return only < 0x80 ? keyHash(suffixChar(only)) : keyHash(variableSuffix(headerName), 0);
    }
    char a = headerName.charAt(0);
    char b = headerName.charAt(1);
    char y = headerName.charAt(n - 2);
    char z = headerName.charAt(n - 1);
    if ((a | b | y | z) >= 0x80) {
      return keyHash(variableSuffix(headerName), 0);
    }
    return mix(suffixChar(a), suffixChar(b), suffixChar(y), suffixChar(z));
  }

  /** The hash of {@code key.substring(offset)}, a variable suffix such as {@code USER_AGENT}. */
  static int keyHash(String key, int offset) {
    int n = key.length() - offset;
    if (n < 2) {
      return n == 0 ? 0 : keyHash(key.charAt(offset));
    }
    return mix(key.charAt(offset), key.charAt(offset + 1), key.charAt(offset + n - 2), key.charAt(offset + n - 1));
  }

  private static int keyHash(char only) {
    return only * 0x9E3779B1 >>> 7;
  }

  private static int mix(char a, char b, char y, char z) {
    int h = (((a * 31 + b) * 31 + y) * 31 + z) * 0x9E3779B1;
    return h ^ (h >>> 15);
  }

  /** Whether {@code variableSuffix(headerName).equals(key)}, without allocating for ASCII names. */
  static boolean hasSuffix(String headerName, String key) {
    return hasSuffix(headerName, key, 0);
  }

  /** Whether {@code variableSuffix(headerName).equals(key.substring(offset))}, without allocating for ASCII names. */
  static boolean hasSuffix(String headerName, String key, int offset) {
    int n = headerName.length();
    if (n != key.length() - offset) {
      for (int i = 0; i < n; i++) {
        if (headerName.charAt(i) >= 0x80) {
          // Upper-casing outside ASCII can change the length (ß is SS) or map onto ASCII (ı is I).
          return variableSuffix(headerName).equals(key.substring(offset));
        }
      }
      return false;
    }
    for (int i = 0; i < n; i++) {
      char c = headerName.charAt(i);
      if (c >= 0x80) {
        return variableSuffix(headerName).equals(key.substring(offset));
      }
      if (suffixChar(c) != key.charAt(offset + i)) {
        return false;
      }
    }
    return true;
  }

  /** An ASCII header-name character as it appears in the variable: upper case, '-' as '_'. */
  static char suffixChar(char c) {
    if (c >= 'a' && c <= 'z') {
      return (char) (c - 32);
    }
    return c == '-' ? '_' : c;
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
