package dev.tourniquet.rules;

import java.util.List;

/**
 * The parsed form of an ECMAScript pattern: what {@link EcmaRegexParser} produces and
 * {@link Re2Emitter}, {@link LiteralExtractor} and {@link PatternCompiler} read.
 */
sealed interface RegexNode {

  /** Matches the empty string. */
  record Empty() implements RegexNode {}

  /** One code point; {@code foldCase} when case-insensitive matching is in effect where it stands. */
  record Literal(int codePoint, boolean foldCase) implements RegexNode {}

  /**
   * A character class as sorted, disjoint, inclusive code point ranges {@code [lo0, hi0, lo1, hi1, …]}.
   * Negation is already applied; {@code foldCase} when case-insensitive matching is in effect.
   */
  record CharClass(int[] ranges, boolean foldCase) implements RegexNode {
    boolean contains(int cp) {
      for (int i = 0; i < ranges.length; i += 2) {
        if (cp >= ranges[i] && cp <= ranges[i + 1]) {
          return true;
        }
      }
      return false;
    }

    int size() {
      int n = 0;
      for (int i = 0; i < ranges.length; i += 2) {
        n += ranges[i + 1] - ranges[i] + 1;
      }
      return n;
    }
  }

  /** {@code .}: any character but a newline, or any at all under the {@code s} flag. */
  record AnyChar(boolean dotAll) implements RegexNode {}

  /** {@code ^}. */
  record LineStart(boolean multiline) implements RegexNode {}

  /**
   * {@code $}: end of input or before a final newline; under {@code m}, before any newline too.
   *
   * @param offset where it stands in the pattern, for messages
   */
  record LineEnd(boolean multiline, int offset) implements RegexNode {}

  /** {@code \A}. */
  record TextStart() implements RegexNode {}

  /** {@code \z}. */
  record TextEnd() implements RegexNode {}

  /** {@code \b} or, negated, {@code \B}. */
  record WordBoundary(boolean negated) implements RegexNode {}

  /**
   * A group.
   *
   * @param body the group's content
   * @param capture the capture index, 0 for a non-capturing group
   * @param flags inline flags of a {@code (?flags:…)} group, empty otherwise
   */
  record Group(RegexNode body, int capture, String flags) implements RegexNode {}

  /** {@code (?flags)}: changes flags for the rest of the enclosing group. */
  record Flags(String flags) implements RegexNode {}

  /** A positive lookahead {@code (?=…)}. */
  record Lookahead(RegexNode body) implements RegexNode {}

  /** A quantified node; {@code max} is -1 for no upper bound. */
  record Repeat(RegexNode body, int min, int max, boolean greedy) implements RegexNode {}

  /** A sequence. */
  record Concat(List<RegexNode> items) implements RegexNode {}

  /** Alternatives, tried left to right. */
  record Alternation(List<RegexNode> items) implements RegexNode {}
}
