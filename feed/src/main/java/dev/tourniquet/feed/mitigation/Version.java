package dev.tourniquet.feed.mitigation;

import java.util.Arrays;

/**
 * A product version such as {@code 15.2.1118.20} or {@code 10.1.24}: one to ten dot-separated whole
 * numbers, compared numerically part by part, so {@code 15.2.1118.21 < 15.2.1258 < 15.10}. A missing
 * trailing part counts as zero: {@code 15.2} equals {@code 15.2.0}. Leading zeros are allowed and do not
 * count ({@code 22.04} equals {@code 22.4}); the text is kept as written.
 *
 * <p>Anything else is refused rather than guessed at: a suffix such as {@code -beta} or {@code rc1} has
 * no agreed order, so {@code 10.1.24-beta} is an error, not "10.1.24".
 */
public final class Version implements Comparable<Version> {
  /** The longest version text accepted. */
  static final int MAX_LENGTH = 64;
  /** The most parts accepted. */
  static final int MAX_PARTS = 10;
  /** The most digits in one part (fits a {@code long}). */
  static final int MAX_DIGITS = 18;

  private final String text;
  /** The numeric parts without trailing zeros: the identity of the version. */
  private final long[] significant;

  private Version(String text, long[] significant) {
    this.text = text;
    this.significant = significant;
  }

  /**
   * Parses a version.
   *
   * @param text the version text, e.g. {@code 15.2.1118.20}
   * @return the version
   * @throws IllegalArgumentException if the text is not one to ten dot-separated numbers of at most 18
   *     digits each, 64 characters in all
   */
  public static Version parse(String text) {
    String problem = problem(text);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    String[] parts = text.split("\\.", -1);
    long[] numbers = new long[parts.length];
    for (int i = 0; i < parts.length; i++) {
      numbers[i] = Long.parseLong(parts[i]);
    }
    int length = numbers.length;
    while (length > 0 && numbers[length - 1] == 0) {
      length--;
    }
    return new Version(text, Arrays.copyOf(numbers, length));
  }

  /** Returns why the text is not a version, or null if it is one. */
  static String problem(String text) {
    String expected = "expected a version of 1 to " + MAX_PARTS + " dot-separated numbers such as 15.2.1118.20 but found ";
    if (text.isEmpty()) {
      return expected + "an empty string";
    }
    if (text.length() > MAX_LENGTH) {
      return expected + "a string of " + text.length() + " characters (at most " + MAX_LENGTH + ")";
    }
    String[] parts = text.split("\\.", -1);
    if (parts.length > MAX_PARTS) {
      return expected + Fields.quote(text) + ", which has " + parts.length + " parts";
    }
    for (String part : parts) {
      if (part.isEmpty()) {
        return expected + Fields.quote(text) + ", which has an empty part";
      }
      for (int i = 0; i < part.length(); i++) {
        char c = part.charAt(i);
        if (c < '0' || c > '9') {
          return expected + Fields.quote(text) + ", whose part " + Fields.quote(part) + " is not a number";
        }
      }
      if (part.length() > MAX_DIGITS) {
        return expected + Fields.quote(text) + ", whose part " + Fields.quote(part) + " has more than "
            + MAX_DIGITS + " digits";
      }
    }
    return null;
  }

  /**
   * Compares numerically part by part, a missing part counting as zero.
   *
   * @param other the other version
   * @return negative, zero or positive as this version is lower than, equal to or higher than the other
   */
  @Override
  public int compareTo(Version other) {
    int n = Math.max(significant.length, other.significant.length);
    for (int i = 0; i < n; i++) {
      long a = i < significant.length ? significant[i] : 0;
      long b = i < other.significant.length ? other.significant[i] : 0;
      if (a != b) {
        return Long.compare(a, b);
      }
    }
    return 0;
  }

  /**
   * Tells whether this version is lower than another.
   *
   * @param other the other version
   * @return true if this one is lower
   */
  public boolean isBefore(Version other) {
    return compareTo(other) < 0;
  }

  /**
   * Versions are equal when they compare equal, so {@code 15.2} equals {@code 15.2.0}.
   *
   * @param o the other object
   * @return true if {@code o} is a version that compares equal
   */
  @Override
  public boolean equals(Object o) {
    return o instanceof Version v && Arrays.equals(significant, v.significant);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(significant);
  }

  /**
   * Returns the version as written.
   *
   * @return the text, e.g. {@code 15.2.1118.20}
   */
  @Override
  public String toString() {
    return text;
  }
}
