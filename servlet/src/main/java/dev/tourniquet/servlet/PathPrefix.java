package dev.tourniquet.servlet;

import java.util.Locale;
import java.util.Objects;

/**
 * A path prefix that a {@code disable-endpoint} or {@code auth-policy} action applies to, such as
 * {@code /ecp}. It matches on a segment boundary and ignores case, as IIS does: {@code /ecp} matches
 * {@code /ecp}, {@code /ECP/} and {@code /ecp/x}, but not {@code /ecpx}. {@code /} matches every path.
 *
 * <p>The prefix is written decoded and normalised: it starts with {@code /}, has no trailing {@code /}
 * (except the root), no empty, {@code .} or {@code ..} segment, and no {@code %}, {@code \}, {@code ;},
 * {@code ?}, {@code #} or control character. It is compared with the request's decoded path; a request
 * whose path is ambiguous ({@code ..}, an encoded slash…) is refused before any comparison, never
 * normalised (see {@code docs/servlet.md}).
 *
 * @param value the prefix, for example {@code /owa}
 */
public record PathPrefix(String value) {
  private static final int MAX_LENGTH = 1024;

  /**
   * Creates a prefix.
   *
   * @throws NullPointerException if {@code value} is null
   * @throws IllegalArgumentException if {@code value} is not a normalised absolute path, naming what is wrong
   */
  public PathPrefix {
    Objects.requireNonNull(value, "value");
    String problem = problem(value);
    if (problem != null) {
      throw new IllegalArgumentException("path prefix '" + value + "': " + problem);
    }
  }

  /**
   * Creates a prefix.
   *
   * @param value the prefix, for example {@code /owa}
   * @return the prefix
   * @throws IllegalArgumentException if {@code value} is not a normalised absolute path
   */
  public static PathPrefix of(String value) {
    return new PathPrefix(value);
  }

  /** What is wrong with a prefix, or null. */
  static String problem(String value) {
    if (!value.startsWith("/")) {
      return "expected a path starting with '/' but found '" + (value.isEmpty() ? "" : value.substring(0, 1)) + "'";
    }
    if (value.length() > MAX_LENGTH) {
      return String.format(Locale.ROOT, "expected at most %d characters but found %d", MAX_LENGTH, value.length());
    }
    if (value.length() > 1 && value.endsWith("/")) {
      return "expected no trailing '/' but found one";
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < 0x20 || c == 0x7f || c == '%' || c == '\\' || c == ';' || c == '?' || c == '#') {
        return String.format(Locale.ROOT, "expected a decoded path without %%, \\, ;, ?, # or control characters but found %s at offset %d",
            c < 0x20 || c == 0x7f ? String.format(Locale.ROOT, "U+%04X", (int) c) : "'" + c + "'", i);
      }
    }
    if (value.length() > 1) {
      for (String segment : value.substring(1).split("/", -1)) {
        if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
          return "expected a normalised path but found the segment '" + segment + "'";
        }
      }
    }
    return null;
  }

  /**
   * Returns whether a decoded, normalised request path lies under this prefix.
   *
   * @param path the path, as {@link RequestPath#of} returns it
   * @return true if the path equals the prefix or continues it after a {@code /}, ignoring case
   */
  boolean matches(String path) {
    if (value.length() == 1) {
      return true;
    }
    int n = value.length();
    return path.regionMatches(true, 0, value, 0, n) && (path.length() == n || path.charAt(n) == '/');
  }

  @Override
  public String toString() {
    return value;
  }
}
