package dev.tourniquet.rules;

import java.util.List;
import java.util.Set;

/** A pattern ready to run: RE2/J underneath, and the literals the prefilter may rely on. */
abstract sealed class CompiledPattern {
  private final Set<String> requiredLiterals;

  private CompiledPattern(Set<String> requiredLiterals) {
    this.requiredLiterals = requiredLiterals == null ? null : Set.copyOf(requiredLiterals);
  }

  /** Literals (folded) one of which occurs in every matched input, or null if none are known. */
  final Set<String> requiredLiterals() {
    return requiredLiterals;
  }

  /** The highest {@code {R:n}} / {@code {C:n}} this pattern can fill. */
  abstract int groupCount();

  /** Searches the input; returns the captures, or null when it does not match. */
  abstract Captures match(String input);

  /**
   * Whether the pattern matches somewhere in the input: the same answer as {@code match(input) != null},
   * computed as cheaply as the pattern allows (a {@link MatchShortcut}, or a search that reports no
   * span). For callers that use no capture.
   */
  abstract boolean matches(String input);

  /** How {@link #matches} decides, for tests and diagnostics: a shortcut's shape, or {@code "search"}. */
  abstract String decisionShape();

  /** True when the pattern is known to match every input. */
  boolean alwaysMatches() {
    return false;
  }

  /** Captured texts; group 0 is the matched text. Unmatched groups are empty, as on IIS. */
  interface Captures {
    /** Captures that hold only {@code {0}} = the whole input (for ExactMatch-like uses). */
    static Captures of(String... groups) {
      return new Captures() {
        @Override
        public String group(int n) {
          return n < groups.length && groups[n] != null ? groups[n] : "";
        }

        @Override
        public int count() {
          return groups.length;
        }
      };
    }

    String group(int n);

    /** The number of groups, counting group 0. */
    int count();
  }

  /** An ordinary pattern: one RE2 search, or a shortcut when only the decision is needed. */
  static final class Regex extends CompiledPattern {
    private final com.google.re2j.Pattern pattern;
    /** The pattern with lazy quantifiers and no captures (see {@link Re2Emitter#emitForDecision}). */
    private final com.google.re2j.Pattern decisionPattern;
    /** Decides without RE2, or null. */
    private final MatchShortcut shortcut;
    private final int groups;
    /** For each .NET group number from 1, the RE2 group that holds it (index 0 unused). */
    private final int[] re2OfNumber;
    /** The RE2 groups in which a {@code $} consumed the final newline (see {@link Re2Emitter}). */
    private final int[] finalNewlineGroups;

    /**
     * @param re2OfNumber for each .NET group number from 1, the RE2 group that holds it (index 0 unused)
     * @param finalNewlineGroups the RE2 groups that hold a final newline consumed by a {@code $}
     */
    Regex(com.google.re2j.Pattern pattern, com.google.re2j.Pattern decisionPattern, MatchShortcut shortcut,
        int[] re2OfNumber, int[] finalNewlineGroups, Set<String> requiredLiterals) {
      super(requiredLiterals);
      this.pattern = pattern;
      this.decisionPattern = decisionPattern;
      this.shortcut = shortcut;
      this.groups = re2OfNumber.length - 1;
      this.re2OfNumber = re2OfNumber.clone();
      this.finalNewlineGroups = finalNewlineGroups.clone();
    }

    @Override
    boolean matches(String input) {
      if (shortcut != null) {
        return shortcut.matches(input);
      }
      return decisionPattern.matcher(input).find();
    }

    @Override
    String decisionShape() {
      return shortcut == null ? "search" : shortcut.shape();
    }

    @Override
    boolean alwaysMatches() {
      return shortcut instanceof MatchShortcut.Always;
    }

    @Override
    int groupCount() {
      return groups;
    }

    @Override
    Captures match(String input) {
      com.google.re2j.Matcher m = pattern.matcher(input);
      if (!m.find()) {
        return null;
      }
      // re2j computes submatch positions lazily, on the first group(n) with n > 0 (or when a $ may have
      // consumed the final newline, which only the submatches tell).
      boolean endsWithNewline = finalNewlineGroups.length > 0 && m.end() == input.length() && input.endsWith("\n");
      boolean dollarAteNewline = endsWithNewline && consumedFinalNewline(m, finalNewlineGroups);
      return new Captures() {
        @Override
        public String group(int n) {
          if (n > groups) {
            return "";
          }
          return n == 0 ? text(m, 0, input, dollarAteNewline) : text(m, re2OfNumber[n], input, dollarAteNewline);
        }

        @Override
        public int count() {
          return groups + 1;
        }
      };
    }

    @Override
    public String toString() {
      return pattern.pattern();
    }
  }

  /** Whether one of the given RE2 groups holds the final newline, consumed by the {@code $} it stands for. */
  static boolean consumedFinalNewline(com.google.re2j.Matcher m, int[] finalNewlineGroups) {
    for (int g : finalNewlineGroups) {
      if (m.start(g) >= 0 && m.end(g) > m.start(g)) {
        return true;
      }
    }
    return false;
  }

  /**
   * A group's text as .NET gives it. When a {@code $} consumed the final newline, .NET's match stopped
   * before it: whatever RE2 matched at the very end (after the newline) .NET matched just before it, so a
   * boundary at the end of the input moves back by one. Unmatched groups are empty.
   */
  static String text(com.google.re2j.Matcher m, int group, String input, boolean dollarAteNewline) {
    int start = m.start(group);
    if (start < 0) {
      return "";
    }
    int end = m.end(group);
    if (dollarAteNewline) {
      int n = input.length();
      start = start == n ? n - 1 : start;
      end = end == n ? n - 1 : end;
    }
    return input.substring(start, end);
  }

  /** The lookahead conjunction idiom, rewritten as independent searches; see {@link PatternCompiler}. */
  static final class Conjunction extends CompiledPattern {
    private final List<com.google.re2j.Pattern> parts;
    /** Per part, the RE2 groups that hold a final newline consumed by a {@code $}. */
    private final int[][] finalNewlineGroups;
    /** The parts with lazy quantifiers and no captures, for the yes/no search. */
    private final List<com.google.re2j.Pattern> decisionParts;
    private final boolean hasTrailing;
    private final boolean anchored;

    /** Per part, for the one-line case, a shortcut deciding whether the part after its leading .* occurs; null entries search. */
    private final MatchShortcut[] shortcuts;

    Conjunction(List<com.google.re2j.Pattern> parts, List<int[]> finalNewlineGroups, List<com.google.re2j.Pattern> decisionParts,
        List<MatchShortcut> shortcuts, boolean hasTrailing, boolean anchored, Set<String> requiredLiterals) {
      super(requiredLiterals);
      this.parts = List.copyOf(parts);
      this.finalNewlineGroups = finalNewlineGroups.toArray(new int[0][]);
      this.decisionParts = List.copyOf(decisionParts);
      this.shortcuts = shortcuts.isEmpty() ? new MatchShortcut[parts.size()] : shortcuts.toArray(new MatchShortcut[0]);
      this.hasTrailing = hasTrailing;
      this.anchored = anchored;
    }

    @Override
    boolean matches(String input) {
      if (anchored) {
        for (com.google.re2j.Pattern part : decisionParts) {
          if (!part.matcher(input).lookingAt()) {
            return false;
          }
        }
        return true;
      }
      if (input.indexOf('\n') < 0) {
        for (int p = 0; p < shortcuts.length; p++) {
          boolean found = shortcuts[p] != null ? shortcuts[p].matches(input) : decisionParts.get(p).matcher(input).find();
          if (!found) {
            return false;
          }
        }
        return true;
      }
      // Several lines: the parts must match on a common line, which the full search works out.
      return match(input) != null;
    }

    @Override
    String decisionShape() {
      long shortcut = java.util.Arrays.stream(shortcuts).filter(java.util.Objects::nonNull).count();
      return shortcut == 0 ? "conjunction" : "conjunction, " + shortcut + " of " + shortcuts.length + " parts by shortcut";
    }

    @Override
    int groupCount() {
      return 0;
    }

    @Override
    Captures match(String input) {
      if (anchored) {
        com.google.re2j.Matcher last = null;
        for (com.google.re2j.Pattern part : parts) {
          last = part.matcher(input);
          if (!last.lookingAt()) {
            return null;
          }
        }
        return Captures.of(hasTrailing ? trailingText(last, input) : "");
      }
      if (input.indexOf('\n') < 0) {
        // One line: each part need only occur somewhere, since each begins with .*.
        com.google.re2j.Matcher last = null;
        for (com.google.re2j.Pattern part : parts) {
          last = part.matcher(input);
          if (!last.find()) {
            return null;
          }
        }
        return Captures.of(hasTrailing ? trailingText(last, input) : "");
      }
      int lineStart = firstCommonLine(input);
      if (lineStart < 0) {
        return null;
      }
      if (!hasTrailing) {
        return Captures.of("");
      }
      com.google.re2j.Matcher trailing = parts.get(parts.size() - 1).matcher(input);
      trailing.find(lineStart);
      return Captures.of(trailingText(trailing, input));
    }

    /** {@code {R:0}}: the trailing part's match, without a final newline a {@code $} consumed. */
    private String trailingText(com.google.re2j.Matcher trailing, String input) {
      int[] newlineGroups = finalNewlineGroups[finalNewlineGroups.length - 1];
      boolean dollarAteNewline = newlineGroups.length > 0 && trailing.end() == input.length() && input.endsWith("\n")
          && consumedFinalNewline(trailing, newlineGroups);
      return text(trailing, 0, input, dollarAteNewline);
    }

    /**
     * The start offset of the first line in which every part has a match that starts on that line, or -1.
     * Each part is scanned once from left to right.
     */
    private int firstCommonLine(String input) {
      int[] lineStarts = lineStarts(input);
      int lines = lineStarts.length;
      int[] hits = new int[lines];
      for (com.google.re2j.Pattern part : parts) {
        com.google.re2j.Matcher m = part.matcher(input);
        boolean found = false;
        int lineIndex = 0;
        // A match of ".*X" found from a line's start starts on the first line at or after it that holds X;
        // X cannot span lines, so the next search may begin on the following line.
        while (lineIndex < lines && m.find(lineStarts[lineIndex])) {
          lineIndex = lineOf(lineStarts, m.start(), lineIndex);
          hits[lineIndex]++;
          found = true;
          lineIndex++;
        }
        if (!found) {
          return -1;
        }
      }
      for (int l = 0; l < lines; l++) {
        if (hits[l] == parts.size()) {
          return lineStarts[l];
        }
      }
      return -1;
    }

    private static int[] lineStarts(String input) {
      int count = 1;
      for (int i = 0; i < input.length(); i++) {
        if (input.charAt(i) == '\n') {
          count++;
        }
      }
      int[] starts = new int[count];
      int n = 1;
      for (int i = 0; i < input.length(); i++) {
        if (input.charAt(i) == '\n') {
          starts[n++] = i + 1;
        }
      }
      return starts;
    }

    private static int lineOf(int[] lineStarts, int offset, int fromLine) {
      int l = fromLine;
      while (l + 1 < lineStarts.length && lineStarts[l + 1] <= offset) {
        l++;
      }
      return l;
    }

    @Override
    public String toString() {
      return (anchored ? "anchored " : "") + "conjunction of " + parts.stream().map(com.google.re2j.Pattern::pattern).toList();
    }
  }
}
