package dev.tourniquet.feed.mitigation;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a mitigation applies: one product, and the ranges of its versions that are affected. A version is
 * in exactly one of three states, which the agent's planner turns into apply, remove or skip:
 *
 * <ul>
 *   <li><b>affected</b> ({@link #applies}): some range contains it;
 *   <li><b>fixed</b> ({@link #isFixedIn}): no range contains it, and the nearest range below it ends with
 *       {@code fixed}: the update that closes the hole is installed, so the mitigation goes;
 *   <li><b>not affected</b>: neither (below every range, or past a range that ends with {@code before}).
 * </ul>
 *
 * @param product the product name as agents report it, e.g. {@code microsoft-exchange-server}: 1 to 64
 *     lower-case letters, digits, {@code .}, {@code _} or {@code -}, compared exactly
 * @param versions the affected ranges, 1 to 64, no two sharing a version
 */
public record Applicability(String product, List<VersionRange> versions) {

  /**
   * Validates the product name and the ranges.
   *
   * @throws IllegalArgumentException if the product name is malformed, there are no ranges or too many,
   *     or two ranges overlap
   */
  public Applicability {
    Objects.requireNonNull(product, "product");
    versions = List.copyOf(versions);
    Fields.require("product", Fields.product(product));
    Fields.require("versions", countProblem(versions.size()));
    for (int i = 0; i < versions.size(); i++) {
      Fields.require("versions[" + i + "]", overlapProblem(versions, i));
    }
  }

  static String countProblem(int count) {
    if (count < 1 || count > Fields.MAX_RANGES) {
      return "expected 1 to " + Fields.MAX_RANGES + " version ranges but found " + count;
    }
    return null;
  }

  /** Returns why range {@code i} overlaps an earlier one, or null. */
  static String overlapProblem(List<VersionRange> ranges, int i) {
    for (int j = 0; j < i; j++) {
      if (ranges.get(i).overlaps(ranges.get(j))) {
        return "expected ranges that share no version but found " + ranges.get(i) + " overlapping versions[" + j
            + "] " + ranges.get(j);
      }
    }
    return null;
  }

  /**
   * Tells whether a version is affected: some range contains it.
   *
   * @param version the installed version
   * @return true if the mitigation applies to it
   */
  public boolean applies(Version version) {
    return versions.stream().anyMatch(r -> r.contains(version));
  }

  /**
   * Tells whether a version carries the fix: no range contains it, and the nearest range below it (the one
   * with the highest upper bound at or below the version) ends with {@code fixed} rather than
   * {@code before}. The planner removes a mitigation from a server whose version is fixed.
   *
   * @param version the installed version
   * @return true if the version is fixed
   */
  public boolean isFixedIn(Version version) {
    if (applies(version)) {
      return false;
    }
    VersionRange nearest = null;
    for (VersionRange range : versions) {
      Optional<Version> upper = range.upper();
      if (upper.isPresent() && upper.get().compareTo(version) <= 0
          && (nearest == null || nearest.upper().get().isBefore(upper.get()))) {
        nearest = range;
      }
    }
    return nearest != null && nearest.fixed().isPresent();
  }
}
