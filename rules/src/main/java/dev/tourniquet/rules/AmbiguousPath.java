package dev.tourniquet.rules;

import java.util.Locale;

/**
 * Refuses request paths that the rules and the application could read as different paths, for rule sets
 * that read the decoded path ({@code <match url>}, {@code {URL}}, {@code {R:n}}).
 *
 * <p>IIS decodes and normalises the path before URL Rewrite sees it: {@code /./ecp/x} and
 * {@code /owa/../ecp/x} are {@code ecp/x} to {@code <match url>}. The rule engine decodes but does not
 * normalise, and a servlet container or nginx in front of the application then routes {@code /./ecp/x},
 * {@code /a/../ecp/x}, {@code //ecp/x} and (Tomcat, Jetty) {@code /ecp;x=1/x} to {@code /ecp/x}: a rule
 * on {@code ^ecp/} would never see the path the application serves. Normalising here would have to agree
 * with every container, proxy and application; refusing cannot disagree with any (Spring Security's
 * {@code StrictHttpFirewall} refuses the same sequences).
 *
 * <p>Refused: a raw or encoded backslash, an encoded {@code /}, a raw {@code ;} (a path parameter, which
 * Java containers strip when they map the request), an empty segment ({@code //}), and a segment that
 * decodes to {@code .} or {@code ..}. A trailing {@code /} is not an empty segment.
 */
final class AmbiguousPath {
  private AmbiguousPath() {}

  /**
   * Checks a raw path whose percent-encoding is already known to be well formed.
   *
   * @param raw the path as sent, without the query
   * @throws RequestException with status 400 naming the offending sequence
   */
  static void check(String raw) {
    int segmentStart = 1;
    for (int i = 1; i <= raw.length(); i++) {
      char c = i < raw.length() ? raw.charAt(i) : '/';
      if (c == '\\') {
        throw refuse(raw, "backslash");
      }
      if (c == ';') {
        throw refuse(raw, "path parameter (';'), which the container would strip before routing");
      }
      if (c == '%' && i + 2 < raw.length()) {
        String hex = raw.substring(i + 1, i + 3).toLowerCase(Locale.ROOT);
        if (hex.equals("2f")) {
          throw refuse(raw, "encoded '/'");
        }
        if (hex.equals("5c")) {
          throw refuse(raw, "encoded backslash");
        }
      }
      if (c != '/') {
        continue;
      }
      String segment = raw.substring(segmentStart, i);
      if (segment.isEmpty() && i < raw.length()) {
        throw refuse(raw, "empty segment ('//')");
      }
      String dots = segment.replace("%2e", ".").replace("%2E", ".");
      if (dots.equals(".") || dots.equals("..")) {
        throw refuse(raw, "'" + dots + "' segment");
      }
      segmentStart = i + 1;
    }
  }

  private static RequestException refuse(String raw, String what) {
    String shown = raw.length() > 200 ? raw.substring(0, 200) + "…" : raw;
    return new RequestException("ambiguous request path '" + shown + "': expected no " + what
        + " where a rule reads the decoded path", 400);
  }
}
