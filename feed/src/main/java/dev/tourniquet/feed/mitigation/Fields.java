package dev.tourniquet.feed.mitigation;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The field rules of the mitigation document, in one place: the limits and a check per kind of value.
 * Each check returns null for a good value, or the rest of a message that reads "expected X but found Y".
 * The parser reports the message under the field's path; the model's constructors throw it, so a value
 * built in code meets exactly the rules a parsed one does. {@code docs/mitigation-format.md} documents
 * every limit here.
 */
final class Fields {
  static final String SCHEMA = "tourniquet-mitigation/1";
  static final int MAX_DOCUMENT_BYTES = 1 << 20;
  static final int MAX_DEPTH = 32;
  static final int MAX_ID = 64;
  static final int MAX_TITLE = 200;
  static final int MAX_DESCRIPTION = 20_000;
  static final int MAX_CVES = 64;
  static final int MAX_REFERENCES = 32;
  static final int MAX_URL = 2048;
  static final int MAX_PRODUCT = 64;
  static final int MAX_RANGES = 64;
  static final int MAX_ACTIONS = 64;
  static final int MAX_SERVICE = 256;
  static final int MAX_PATH = 1024;
  static final int MAX_APP_POOL = 64;
  static final int MAX_EXTENSIONS = 64;
  static final int MAX_EXTENSION_NAME = 128;

  private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  /** Device names Windows reserves whatever the extension ({@code CON.json} cannot be created). */
  private static final Pattern WINDOWS_DEVICE = Pattern.compile("(?i)(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\\..*)?");
  /** CVE ID syntax (cve.org): four digits of year, then four digits, or more without a leading zero. */
  private static final Pattern CVE = Pattern.compile("CVE-([0-9]{4})-(0[0-9]{3}|[1-9][0-9]{3,18})");
  private static final Pattern PRODUCT = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");
  private static final Pattern SERVICE = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9@._:$-]{0,255}");
  private static final Pattern APP_POOL = Pattern.compile("[A-Za-z0-9._-]([A-Za-z0-9 ._-]{0,62}[A-Za-z0-9._-])?");
  private static final Pattern EXTENSION_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  /**
   * RFC 3986 pchar, plus {@code /}, without percent-encoding (the prefix is matched against the decoded
   * path) and without {@code ;} (path parameters such as {@code ;jsessionid} make a path ambiguous, and the
   * servlet enforcer refuses them).
   */
  private static final Pattern PATH_CHARS = Pattern.compile("[A-Za-z0-9\\-._~!$&'()*+,=:@/]*");

  private Fields() {}

  /** Throws the problem, if any, as an {@link IllegalArgumentException} naming the field. */
  static void require(String field, String problem) {
    if (problem != null) {
      throw new IllegalArgumentException(field + ": " + problem);
    }
  }

  static String id(String id) {
    String expected = "expected 1 to " + MAX_ID + " letters, digits, '.', '_' or '-' starting with a letter or"
        + " digit, such as TQ-2026-0001 or M1, but found ";
    if (!ID.matcher(id).matches()) {
      return expected + quote(id);
    }
    if (id.contains("..")) {
      return expected + quote(id) + ", which contains \"..\"";
    }
    if (id.endsWith(".")) {
      // Windows drops a trailing dot from a file name: "M1." and "M1" would name one file.
      return expected + quote(id) + ", which ends with '.'";
    }
    if (WINDOWS_DEVICE.matcher(id).matches()) {
      return expected + quote(id) + ", which Windows reserves as a device name";
    }
    return null;
  }

  static String title(String title) {
    return text(title, MAX_TITLE, false, "a one-line title");
  }

  static String description(String description) {
    return text(description, MAX_DESCRIPTION, true, "a description");
  }

  private static String text(String s, int max, boolean multiline, String what) {
    if (s.isBlank()) {
      return "expected " + what + " but found " + (s.isEmpty() ? "an empty string" : "only whitespace");
    }
    if (s.length() > max) {
      return "expected " + what + " of at most " + max + " characters but found " + s.length();
    }
    String surrogate = unpairedSurrogate(s);
    if (surrogate != null) {
      return "expected " + what + " in Unicode text but found " + surrogate;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isISOControl(c) && !(multiline && (c == '\n' || c == '\t'))) {
        return String.format(Locale.ROOT, "expected %s without control characters%s but found U+%04X at index %d",
            what, multiline ? " other than \\n and \\t" : "", (int) c, i);
      }
    }
    return null;
  }

  /** Describes the first unpaired UTF-16 surrogate (which no UTF-8 text can hold), or returns null. */
  static String unpairedSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return String.format(Locale.ROOT, "an unpaired surrogate \\u%04x at index %d", (int) c, i);
      }
    }
    return null;
  }

  static String cve(String cve) {
    Matcher m = CVE.matcher(cve);
    if (!m.matches() || Integer.parseInt(m.group(1)) < 1999) {
      return "expected a CVE ID such as CVE-2022-41040 (CVE-, a year from 1999, -, four or more digits) but found "
          + quote(cve);
    }
    return null;
  }

  static String reference(String url) {
    String expected = "expected an absolute https URL of at most " + MAX_URL + " characters but found ";
    if (url.length() > MAX_URL) {
      return expected + "one of " + url.length() + " characters";
    }
    if (!url.startsWith("https://")) {
      return expected + quote(url);
    }
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      return expected + quote(url) + ", which is malformed at index " + e.getIndex();
    }
    if (uri.getHost() == null || uri.getHost().isEmpty()) {
      return expected + quote(url) + ", which has no host name";
    }
    if (uri.getRawUserInfo() != null) {
      return expected + quote(url) + ", which carries user information";
    }
    return null;
  }

  /**
   * A valid reference as compared for duplicates: scheme and host in lower case (they ignore case, RFC 3986
   * section 6.2.2.1), the rest as written.
   */
  static String referenceKey(String url) {
    int start = url.indexOf("://") + 3;
    int end = start;
    while (end < url.length() && "/?#".indexOf(url.charAt(end)) < 0) {
      end++;
    }
    return url.substring(0, end).toLowerCase(Locale.ROOT) + url.substring(end);
  }

  static String product(String product) {
    if (!PRODUCT.matcher(product).matches()) {
      return "expected a product name of 1 to " + MAX_PRODUCT + " lower-case letters, digits, '.', '_' or '-',"
          + " such as microsoft-exchange-server, but found " + quote(product);
    }
    return null;
  }

  static String service(String service) {
    if (!SERVICE.matcher(service).matches()) {
      return "expected a service name of 1 to " + MAX_SERVICE + " letters, digits and '@', '.', '_', ':', '$' or"
          + " '-', such as MSExchangeUM or nginx.service, but found " + quote(service);
    }
    return null;
  }

  static String appPool(String appPool) {
    if (!APP_POOL.matcher(appPool).matches()) {
      return "expected an application pool name of 1 to " + MAX_APP_POOL + " letters, digits, spaces, '.', '_' or"
          + " '-', not starting or ending with a space, such as MSExchangeECPAppPool, but found " + quote(appPool);
    }
    return null;
  }

  static String path(String path) {
    String expected = "expected a path prefix such as /ecp: '/' then segments of letters, digits and "
        + "-._~!$&'()*+,=:@ (not percent-encoded), at most " + MAX_PATH + " characters, but found ";
    if (path.length() > MAX_PATH) {
      return expected + "one of " + path.length() + " characters";
    }
    if (!path.startsWith("/") || !PATH_CHARS.matcher(path).matches()) {
      return expected + quote(path);
    }
    if (path.length() > 1 && path.endsWith("/")) {
      return expected + quote(path) + ", which ends with '/' (a prefix covers whole segments: /ecp covers /ecp/…)";
    }
    if (path.contains("//")) {
      return expected + quote(path) + ", which has an empty segment";
    }
    for (String segment : path.substring(1).split("/", -1)) {
      if (segment.equals(".") || segment.equals("..")) {
        return expected + quote(path) + ", which has a dot segment";
      }
    }
    return null;
  }

  static String status(int status) {
    if (status < 400 || status > 599) {
      return "expected an HTTP status from 400 to 599 but found " + status;
    }
    return null;
  }

  static String extensionName(String name) {
    if (!EXTENSION_NAME.matcher(name).matches()) {
      return "expected an extension name of 1 to " + MAX_EXTENSION_NAME + " letters, digits, '.', '_' or '-',"
          + " such as com.example.ticket, but found " + quote(name);
    }
    return null;
  }

  /** Tells the one of {@code names} a value is, for messages: {@code low, medium, high or critical}. */
  static String oneOf(Set<String> names) {
    String[] sorted = names.toArray(String[]::new);
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < sorted.length; i++) {
      if (i > 0) {
        s.append(i == sorted.length - 1 ? " or " : ", ");
      }
      s.append(sorted[i]);
    }
    return s.toString();
  }

  /**
   * Quotes a value for a message on one line: control characters escaped, long values cut.
   */
  static String quote(String s) {
    String shown = s.length() > 80 ? s.substring(0, 77) + "..." : s;
    StringBuilder out = new StringBuilder(shown.length() + 2).append('"');
    for (int i = 0; i < shown.length(); i++) {
      char c = shown.charAt(i);
      boolean paired = Character.isHighSurrogate(c) && i + 1 < shown.length()
          && Character.isLowSurrogate(shown.charAt(i + 1));
      if (paired) {
        out.append(c).append(shown.charAt(++i));
      } else if (c == '"' || c == '\\') {
        out.append('\\').append(c);
      } else if (Character.isISOControl(c) || Character.isSurrogate(c) || c == '\u2028' || c == '\u2029') {
        out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.append('"').toString();
  }
}
