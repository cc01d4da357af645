package dev.tourniquet.rules;

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
   * Checks the raw path of a request target whose percent-encoding is already known to be well formed.
   * It runs on every request of a rule set that reads the path, so it reads the target in place.
   *
   * @param target the request target as sent
   * @param end where its path ends (at the {@code ?} or the end)
   * @throws RequestException with status 400 naming the offending sequence
   */
  static void check(String target, int end) {
    int segmentStart = 1;
    for (int i = 1; i <= end; i++) {
      char c = i < end ? target.charAt(i) : '/';
      if (c == '\\') {
        throw refuse(target, end, "backslash");
      }
      if (c == ';') {
        throw refuse(target, end, "path parameter (';'), which the container would strip before routing");
      }
      if (c == '%' && i + 2 < end) {
        char hi = target.charAt(i + 1);
        char lo = Character.toLowerCase(target.charAt(i + 2));
        if (hi == '2' && lo == 'f') {
          throw refuse(target, end, "encoded '/'");
        }
        if (hi == '5' && lo == 'c') {
          throw refuse(target, end, "encoded backslash");
        }
      }
      if (c != '/') {
        continue;
      }
      int length = i - segmentStart;
      if (length == 0 && i < end) {
        throw refuse(target, end, "empty segment ('//')");
      }
      int dots = dots(target, segmentStart, i);
      if (dots == 1 || dots == 2) {
        throw refuse(target, end, "'" + ".".repeat(dots) + "' segment");
      }
      segmentStart = i + 1;
    }
  }

  /** How many dots the segment {@code [from, to)} is made of, raw or as {@code %2e}; 0 if anything else is in it. */
  private static int dots(String target, int from, int to) {
    int dots = 0;
    for (int i = from; i < to && dots < 3; dots++) {
      if (target.charAt(i) == '.') {
        i++;
      } else if (i + 2 < to && target.charAt(i) == '%' && target.charAt(i + 1) == '2'
          && (target.charAt(i + 2) == 'e' || target.charAt(i + 2) == 'E')) {
        i += 3;
      } else {
        return 0;
      }
    }
    return dots;
  }

  private static RequestException refuse(String target, int end, String what) {
    String raw = target.substring(0, end);
    String shown = raw.length() > 200 ? raw.substring(0, 200) + "…" : raw;
    return new RequestException("ambiguous request path '" + shown + "': expected no " + what
        + " where a rule reads the decoded path", 400);
  }
}
