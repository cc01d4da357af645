package dev.tourniquet.rules;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Case-insensitive matching is compiled into the pattern rather than left to RE2/J's
 * {@code CASE_INSENSITIVE} flag, because RE2/J folds a character class code point by code point with a
 * quadratic merge: {@code [\x{0}-\x{fffe}]} takes minutes to compile, a denial of service at rule-load
 * time. Here each character's orbit (the characters that {@link Folding#fold} maps to the same key, such
 * as {@code k}, {@code K} and the Kelvin sign) is computed once, and a class is folded in time
 * proportional to the number of orbits.
 */
final class CaseOrbits {
  /** Characters with case live below this bound (the last cased script, Adlam, ends at U+1E95F). */
  private static final int LIMIT = 0x1F000;

  private static final Map<Integer, int[]> ORBIT_OF = new HashMap<>();
  private static final List<int[]> ORBITS = new ArrayList<>();

  static {
    Map<Integer, List<Integer>> byKey = new HashMap<>();
    for (int cp = 0; cp < LIMIT; cp++) {
      int key = key(cp);
      if (key != cp || Character.toUpperCase(cp) != cp || Character.toLowerCase(cp) != cp) {
        byKey.computeIfAbsent(key, k -> new ArrayList<>()).add(cp);
      }
    }
    for (Map.Entry<Integer, List<Integer>> e : byKey.entrySet()) {
      List<Integer> members = e.getValue();
      if (!members.contains(e.getKey())) {
        members.add(e.getKey());
      }
      if (members.size() < 2) {
        continue;
      }
      int[] orbit = members.stream().mapToInt(Integer::intValue).sorted().toArray();
      ORBITS.add(orbit);
      for (int cp : orbit) {
        ORBIT_OF.put(cp, orbit);
      }
    }
  }

  private CaseOrbits() {}

  private static int key(int cp) {
    return Character.toLowerCase(Character.toUpperCase(cp));
  }

  /** The characters equal to {@code cp} ignoring case, including itself; null when it has no other case. */
  static int[] orbit(int cp) {
    return ORBIT_OF.get(cp);
  }

  /** A class closed under case: every character of an orbit that meets the class is added. */
  static int[] fold(RegexNode.CharClass cls) {
    CharRanges out = new CharRanges();
    out.addAll(cls.ranges());
    for (int[] orbit : ORBITS) {
      for (int cp : orbit) {
        if (cls.contains(cp)) {
          for (int member : orbit) {
            out.add(member, member);
          }
          break;
        }
      }
    }
    return out.toArray();
  }
}
