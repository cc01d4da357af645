package dev.tourniquet.rules;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Finds, for a pattern, a set of literal strings at least one of which occurs in every text the pattern
 * matches (a necessary condition, in the manner of RE2's and Google Code Search's prefilters). The
 * evaluator skips a rule whose input contains none of them.
 *
 * <p>Literals are ASCII and case-folded with {@link Folding#fold(char)}; an input is folded the same way
 * before it is searched, so the condition holds whatever the pattern's case sensitivity. Any construct
 * the extractor does not understand yields "no constraint", never a wrong one: the price of a weak
 * answer is speed, not correctness.
 */
final class LiteralExtractor {
  /** The largest set of alternatives tracked exactly. */
  private static final int MAX_SET = 16;
  /** The longest literal tracked; longer runs are cut, which keeps the condition necessary. */
  private static final int MAX_LITERAL = 32;

  private LiteralExtractor() {}

  /**
   * What is known about the texts a node matches: {@code exact} is the complete set of texts it can
   * match (null when unknown or too large); {@code required} is a set one member of which occurs in each
   * match (null when there is no constraint).
   */
  private record Info(Set<String> exact, Set<String> required) {
    static final Info UNKNOWN = new Info(null, null);
    static final Info EMPTY = new Info(Set.of(""), null);

    /** The best necessary set this node yields on its own. */
    Set<String> best() {
      if (exact != null && !exact.contains("")) {
        return exact;
      }
      return required;
    }
  }

  /**
   * Returns a necessary literal set for the node, or null when none could be found.
   *
   * @param node the parsed pattern (no lookahead inside)
   */
  static Set<String> requiredLiterals(RegexNode node) {
    Set<String> best = info(node).best();
    return best == null || best.isEmpty() || best.contains("") ? null : best;
  }

  /** Scores a set: the length of its shortest member (longer literals are more selective). */
  static int score(Set<String> set) {
    if (set == null) {
      return 0;
    }
    int min = Integer.MAX_VALUE;
    for (String s : set) {
      min = Math.min(min, s.length());
    }
    return min;
  }

  private static Info info(RegexNode node) {
    if (node instanceof RegexNode.Empty || node instanceof RegexNode.Flags
        || node instanceof RegexNode.LineStart || node instanceof RegexNode.TextStart
        || node instanceof RegexNode.TextEnd || node instanceof RegexNode.WordBoundary) {
      return Info.EMPTY;
    }
    if (node instanceof RegexNode.LineEnd) {
      // Translated as \n?\z: it may consume a newline, which is not an ASCII letter constraint we track.
      return Info.UNKNOWN;
    }
    if (node instanceof RegexNode.Literal lit) {
      int cp = lit.codePoint();
      if (cp >= 0x80) {
        return Info.UNKNOWN;
      }
      return new Info(Set.of(String.valueOf(Folding.fold((char) cp))), null);
    }
    if (node instanceof RegexNode.CharClass cls) {
      if (cls.size() > MAX_SET) {
        return Info.UNKNOWN;
      }
      Set<String> chars = new HashSet<>();
      int[] r = cls.ranges();
      for (int i = 0; i < r.length; i += 2) {
        for (int cp = r[i]; cp <= r[i + 1]; cp++) {
          if (cp >= 0x80) {
            return Info.UNKNOWN;
          }
          chars.add(String.valueOf(Folding.fold((char) cp)));
        }
      }
      return new Info(chars, null);
    }
    if (node instanceof RegexNode.AnyChar) {
      return Info.UNKNOWN;
    }
    if (node instanceof RegexNode.Group group) {
      return info(group.body());
    }
    if (node instanceof RegexNode.Repeat rep) {
      if (rep.min() == 0) {
        return new Info(null, null);
      }
      Info body = info(rep.body());
      if (rep.min() == 1 && rep.max() == 1) {
        return body;
      }
      // x+ or x{n,m} with n >= 1 contains x at least once.
      return new Info(null, body.best());
    }
    if (node instanceof RegexNode.Alternation alt) {
      Set<String> exact = new HashSet<>();
      Set<String> required = new HashSet<>();
      boolean exactOk = true;
      boolean requiredOk = true;
      for (RegexNode item : alt.items()) {
        Info i = info(item);
        if (exactOk && i.exact() != null && exact.size() + i.exact().size() <= MAX_SET) {
          exact.addAll(i.exact());
        } else {
          exactOk = false;
        }
        Set<String> b = i.best();
        if (requiredOk && b != null) {
          required.addAll(b);
        } else {
          requiredOk = false;
        }
      }
      return new Info(exactOk ? exact : null, requiredOk ? required : null);
    }
    if (node instanceof RegexNode.Concat concat) {
      return concat(concat.items());
    }
    if (node instanceof RegexNode.Lookahead) {
      return Info.UNKNOWN;
    }
    throw new IllegalStateException("unknown node " + node);
  }

  /**
   * A sequence: adjacent exact parts multiply into longer literals; where an unknown part breaks the
   * run, the run so far becomes a candidate. The best candidate (longest shortest member) wins.
   */
  private static Info concat(List<RegexNode> items) {
    List<Set<String>> candidates = new ArrayList<>();
    Set<String> run = Set.of("");
    boolean allExact = true;
    for (RegexNode item : items) {
      Info i = info(item);
      if (i.exact() != null) {
        Set<String> product = product(run, i.exact());
        if (product != null) {
          run = product;
          continue;
        }
        candidates.add(run);
        run = i.exact();
        allExact = false;
        continue;
      }
      allExact = false;
      candidates.add(run);
      if (i.required() != null) {
        candidates.add(i.required());
      }
      run = Set.of("");
    }
    if (allExact) {
      return new Info(run, null);
    }
    candidates.add(run);
    Set<String> best = candidates.stream()
        .filter(s -> !s.contains(""))
        .max(Comparator.comparingInt(LiteralExtractor::score).thenComparing(s -> -s.size()))
        .orElse(null);
    return new Info(null, best);
  }

  /** The cross product of two sets, or null when it would be too large; members are cut to MAX_LITERAL. */
  private static Set<String> product(Set<String> left, Set<String> right) {
    if ((long) left.size() * right.size() > MAX_SET) {
      return null;
    }
    Set<String> out = new HashSet<>();
    for (String l : left) {
      if (l.length() >= MAX_LITERAL) {
        // Cutting the suffix keeps the literal a substring of every match.
        out.add(l.substring(0, MAX_LITERAL));
        continue;
      }
      for (String r : right) {
        String joined = l + r;
        out.add(joined.length() > MAX_LITERAL ? joined.substring(0, MAX_LITERAL) : joined);
      }
    }
    return out;
  }
}
