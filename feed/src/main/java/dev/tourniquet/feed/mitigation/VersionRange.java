package dev.tourniquet.feed.mitigation;

import java.util.Objects;
import java.util.Optional;

/**
 * A half-open range of affected versions, {@code from <= v < upper}, as a mitigation document writes it:
 * {@code {"from": "15.2.987", "fixed": "15.2.1118.20"}}.
 *
 * <ul>
 *   <li>{@code from}: the first affected version; absent, every version below the upper bound is affected.
 *   <li>{@code fixed}: the first version of this line that carries the fix. It ends the range, and versions
 *       from it on, up to the next range, are <em>fixed</em>: an agent that finds one removes the mitigation
 *       by itself.
 *   <li>{@code before}: an upper bound that is not a fix (the line ended, or later versions were never
 *       affected). Versions from it on, up to the next range, are merely <em>not affected</em>.
 *   <li>neither: no fix yet; every version from {@code from} on is affected. A later revision of the
 *       mitigation adds {@code fixed} when the fix ships.
 * </ul>
 *
 * @param from the first affected version, inclusive
 * @param before an exclusive upper bound that is not a fix; at most one of {@code before} and
 *     {@code fixed}
 * @param fixed the first fixed version, an exclusive upper bound
 */
public record VersionRange(Optional<Version> from, Optional<Version> before, Optional<Version> fixed) {

  /**
   * Validates the range.
   *
   * @throws IllegalArgumentException if both {@code before} and {@code fixed} are given, or the range is
   *     empty ({@code from} not below the upper bound)
   */
  public VersionRange {
    Objects.requireNonNull(from, "from");
    Objects.requireNonNull(before, "before");
    Objects.requireNonNull(fixed, "fixed");
    String problem = problem(from, before, fixed);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
  }

  /**
   * A range affected from {@code from} until the fix in {@code fixed}.
   *
   * @param from the first affected version
   * @param fixed the first fixed version
   * @return the range
   * @throws IllegalArgumentException if {@code from} is not below {@code fixed}
   */
  public static VersionRange fixedIn(Version from, Version fixed) {
    return new VersionRange(Optional.of(from), Optional.empty(), Optional.of(fixed));
  }

  static String problem(Optional<Version> from, Optional<Version> before, Optional<Version> fixed) {
    if (before.isPresent() && fixed.isPresent()) {
      return "expected at most one of before and fixed but found both";
    }
    Optional<Version> upper = before.or(() -> fixed);
    if (from.isPresent() && upper.isPresent() && !from.get().isBefore(upper.get())) {
      return "expected from below " + (before.isPresent() ? "before" : "fixed") + " but found from " + from.get()
          + " and " + (before.isPresent() ? "before " : "fixed ") + upper.get();
    }
    return null;
  }

  /**
   * Returns the exclusive upper bound, {@code before} or {@code fixed}, if there is one.
   *
   * @return the upper bound
   */
  public Optional<Version> upper() {
    return before.or(() -> fixed);
  }

  /**
   * Tells whether a version is affected according to this range.
   *
   * @param version the version
   * @return true if {@code from <= version < upper}
   */
  public boolean contains(Version version) {
    return from.map(f -> f.compareTo(version) <= 0).orElse(true)
        && upper().map(version::isBefore).orElse(true);
  }

  /** Tells whether two ranges share a version. */
  boolean overlaps(VersionRange other) {
    boolean thisEndsFirst = upper().isPresent() && other.from.isPresent()
        && upper().get().compareTo(other.from.get()) <= 0;
    boolean otherEndsFirst = other.upper().isPresent() && from.isPresent()
        && other.upper().get().compareTo(from.get()) <= 0;
    return !thisEndsFirst && !otherEndsFirst;
  }

  /**
   * Describes the range in interval notation, e.g. {@code [15.2.987, 15.2.1118.20) fixed in 15.2.1118.20}.
   *
   * @return the description
   */
  @Override
  public String toString() {
    String lower = from.map(v -> "[" + v).orElse("(any");
    String upperText = upper().map(v -> v + ")").orElse("any)");
    return lower + ", " + upperText + fixed.map(v -> " fixed in " + v).orElse("");
  }
}
