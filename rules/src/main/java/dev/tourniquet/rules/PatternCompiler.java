package dev.tourniquet.rules;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Turns a pattern of any IIS syntax into a {@link CompiledPattern} that runs on RE2/J.
 *
 * <p>ECMAScript patterns go through {@link EcmaRegexParser}; Wildcard and ExactMatch patterns are built
 * as the same tree ({@code *} as a capturing {@code (.*)} under the {@code s} flag, anchored at both
 * ends), so one emitter and one literal extractor serve all three.
 *
 * <h2>The lookahead conjunction</h2>
 *
 * <p>RE2 has no lookaround. Microsoft's M1 rule uses {@code (?=.*autodiscover)(?=.*powershell)}, "both
 * words occur", and that idiom is rewritten exactly into a conjunction of independent searches:
 *
 * <ul>
 *   <li>Anchored, {@code ^(?=A)(?=B)R}: the only position tried is 0, so the pattern matches iff each of
 *       {@code A}, {@code B} and {@code R} matches anchored at 0. Any parts are accepted.
 *   <li>Unanchored, {@code (?=.*A)(?=.*B).*R}: every part must begin with {@code .*}, and what follows it
 *       must not be able to match a newline. Then each part matches at a position p iff it matches at the
 *       start of p's line, so the pattern matches iff some line holds a match of every part; each part is
 *       searched once, line by line, in linear time. Any other use of lookahead is rejected.
 * </ul>
 *
 * Groups inside a conjunction do not capture: only {@code {R:0}} (the text of the trailing part) is
 * available, and the compiler rejects rules that refer to others.
 */
final class PatternCompiler {
  private PatternCompiler() {}

  static CompiledPattern compile(String pattern, PatternSyntax syntax, boolean ignoreCase) throws RegexSyntaxException {
    switch (syntax) {
      case WILDCARD:
        return plain(wildcard(pattern, ignoreCase), positions(countStars(pattern)));
      case EXACT_MATCH:
        return plain(exact(pattern, ignoreCase), positions(0));
      default:
        EcmaRegexParser.Parsed parsed = EcmaRegexParser.parse(pattern, ignoreCase);
        if (containsLookahead(parsed.root())) {
          return conjunction(parsed.root());
        }
        requireNothingAfterDollar(parsed.root(), true);
        return plain(parsed.root(), parsed.captureOfNumber());
    }
  }

  /** Group numbers that are the groups' positions, as for Wildcard's stars. */
  private static int[] positions(int groups) {
    int[] identity = new int[groups + 1];
    for (int n = 1; n <= groups; n++) {
      identity[n] = n;
    }
    return identity;
  }

  /**
   * @param captureOfNumber for each group number from 1, the position of its group (see {@link EcmaRegexParser.Parsed})
   */
  private static CompiledPattern plain(RegexNode root, int[] captureOfNumber) throws RegexSyntaxException {
    Re2Emitter.Emitted emitted = Re2Emitter.emit(root);
    com.google.re2j.Pattern re2 = re2(emitted.pattern());
    com.google.re2j.Pattern decision = re2(Re2Emitter.emitForDecision(root));
    int[] re2OfNumber = new int[captureOfNumber.length];
    for (int n = 1; n < captureOfNumber.length; n++) {
      re2OfNumber[n] = emitted.re2OfCapture()[captureOfNumber[n] - 1];
    }
    return new CompiledPattern.Regex(re2, decision, MatchShortcut.of(root), re2OfNumber, emitted.finalNewlineGroups(),
        LiteralExtractor.requiredLiterals(root));
  }

  /**
   * Refuses a {@code $} (without {@code m}) that more of the pattern can follow. .NET's {@code $} holds at
   * the end or before a final newline, without consuming it; the RE2 translation consumes the newline
   * (see {@link Re2Emitter}), which decides the same only when what follows can match nothing but the
   * empty string wherever it is: another {@code $}, a multiline {@code $}, inline flags, empty groups.
   * {@code a$\n} (which .NET matches on "a\n"), {@code a$\z}, {@code a$\b} would be decided differently.
   *
   * @param last whether nothing follows the node but such zero-width parts, up to the end of the pattern
   */
  static void requireNothingAfterDollar(RegexNode node, boolean last) throws RegexSyntaxException {
    if (node instanceof RegexNode.LineEnd end && !end.multiline()) {
      if (!last) {
        throw new RegexSyntaxException("'$' at offset " + end.offset() + " is followed by more of the pattern; .NET's $ "
            + "(without the m option) holds at the end of the input or before a final newline, which RE2 decides exactly "
            + "only where nothing but the end of the pattern follows it; expected $ at the end of the pattern or of an "
            + "alternative, \\z where the very end is meant, or (?m)$");
      }
    } else if (node instanceof RegexNode.Group g) {
      requireNothingAfterDollar(g.body(), last);
    } else if (node instanceof RegexNode.Lookahead la) {
      requireNothingAfterDollar(la.body(), true);
    } else if (node instanceof RegexNode.Alternation a) {
      for (RegexNode item : a.items()) {
        requireNothingAfterDollar(item, last);
      }
    } else if (node instanceof RegexNode.Repeat r) {
      // A second repetition follows the first.
      requireNothingAfterDollar(r.body(), last && (r.max() == 1 || zeroWidthAtTheEnd(r.body())));
    } else if (node instanceof RegexNode.Concat c) {
      List<RegexNode> items = c.items();
      boolean restIsEnd = last;
      for (int i = items.size() - 1; i >= 0; i--) {
        requireNothingAfterDollar(items.get(i), restIsEnd);
        restIsEnd &= zeroWidthAtTheEnd(items.get(i));
      }
    }
  }

  /** Matches only the empty string, and holds at the end of the input exactly when it holds before a final newline. */
  private static boolean zeroWidthAtTheEnd(RegexNode node) {
    if (node instanceof RegexNode.Empty || node instanceof RegexNode.Flags || node instanceof RegexNode.LineEnd) {
      return true;
    }
    if (node instanceof RegexNode.Group g) {
      return zeroWidthAtTheEnd(g.body());
    }
    if (node instanceof RegexNode.Repeat r) {
      return zeroWidthAtTheEnd(r.body());
    }
    if (node instanceof RegexNode.Concat c) {
      return c.items().stream().allMatch(PatternCompiler::zeroWidthAtTheEnd);
    }
    if (node instanceof RegexNode.Alternation a) {
      return a.items().stream().allMatch(PatternCompiler::zeroWidthAtTheEnd);
    }
    return false;
  }

  /** Case-insensitivity is already spelled out by the emitter (see {@link CaseOrbits}); no flag is passed. */
  private static com.google.re2j.Pattern re2(String emitted) throws RegexSyntaxException {
    try {
      return com.google.re2j.Pattern.compile(emitted);
    } catch (com.google.re2j.PatternSyntaxException e) {
      throw new RegexSyntaxException("RE2 refused the translated pattern: " + e.getMessage()
          + "; expected a pattern within RE2's limits (for example at most 1000 repetitions)");
    }
  }

  private static RegexNode wildcard(String pattern, boolean ignoreCase) {
    List<RegexNode> items = new ArrayList<>();
    items.add(new RegexNode.TextStart());
    int group = 0;
    for (int i = 0; i < pattern.length(); ) {
      int cp = pattern.codePointAt(i);
      i += Character.charCount(cp);
      if (cp == '*') {
        items.add(new RegexNode.Group(new RegexNode.Repeat(new RegexNode.AnyChar(true), 0, -1, true), ++group, ""));
      } else {
        // '?' is documented by IIS as "one character" but was never implemented; it is a literal there too.
        items.add(new RegexNode.Literal(cp, ignoreCase));
      }
    }
    items.add(new RegexNode.TextEnd());
    return new RegexNode.Concat(items);
  }

  private static int countStars(String pattern) {
    return (int) pattern.chars().filter(c -> c == '*').count();
  }

  private static RegexNode exact(String pattern, boolean ignoreCase) {
    List<RegexNode> items = new ArrayList<>();
    items.add(new RegexNode.TextStart());
    pattern.codePoints().forEach(cp -> items.add(new RegexNode.Literal(cp, ignoreCase)));
    items.add(new RegexNode.TextEnd());
    return new RegexNode.Concat(items);
  }

  private static CompiledPattern conjunction(RegexNode root) throws RegexSyntaxException {
    List<RegexNode> items = root instanceof RegexNode.Concat c ? c.items() : List.of(root);
    int i = 0;
    StringBuilder leadingFlags = new StringBuilder();
    while (i < items.size() && items.get(i) instanceof RegexNode.Flags f) {
      leadingFlags.append(Re2Emitter.emitForDecision(f));
      i++;
    }
    boolean anchored = false;
    if (i < items.size() && (items.get(i) instanceof RegexNode.TextStart
        || (items.get(i) instanceof RegexNode.LineStart ls && !ls.multiline()))) {
      anchored = true;
      i++;
    }
    List<RegexNode> parts = new ArrayList<>();
    while (i < items.size() && items.get(i) instanceof RegexNode.Lookahead la) {
      parts.add(la.body());
      i++;
    }
    List<RegexNode> rest = new ArrayList<>(items.subList(i, items.size()));
    if (parts.isEmpty()) {
      throw misplacedLookahead();
    }
    for (RegexNode part : parts) {
      if (containsLookahead(part)) {
        throw misplacedLookahead();
      }
    }
    for (RegexNode node : rest) {
      if (containsLookahead(node)) {
        throw misplacedLookahead();
      }
    }
    RegexNode trailing = rest.isEmpty() ? null : rest.size() == 1 ? rest.get(0) : new RegexNode.Concat(rest);
    List<RegexNode> all = new ArrayList<>(parts);
    if (trailing != null) {
      all.add(trailing);
    }
    // On one line, ".*X" occurs iff X does; when X has a shortcut shape, the part needs no search.
    List<MatchShortcut> shortcuts = new ArrayList<>();
    if (!anchored) {
      for (int p = 0; p < all.size(); p++) {
        RegexNode part = all.get(p);
        RegexNode afterDotStar = afterLeadingDotStar(part);
        shortcuts.add(afterDotStar == null || leadingFlags.length() > 0 ? null : MatchShortcut.of(afterDotStar));
        if (afterDotStar == null) {
          String which = p < parts.size() ? "lookahead " + (p + 1) : "the part after the lookaheads";
          throw new RegexSyntaxException("in an unanchored lookahead conjunction every part must begin with .*, but "
              + which + " does not; expected (?=.*A)(?=.*B) optionally followed by .*C, or anchor the pattern with ^");
        }
        if (canMatchNewline(afterDotStar)) {
          throw new RegexSyntaxException("a part of the lookahead conjunction can match a newline after its leading .*, "
              + "so it cannot be evaluated exactly line by line; expected parts whose text after .* stays on one line");
        }
      }
    }
    List<com.google.re2j.Pattern> compiled = new ArrayList<>();
    List<int[]> finalNewlineGroups = new ArrayList<>();
    List<com.google.re2j.Pattern> decisions = new ArrayList<>();
    Set<String> bestLiterals = null;
    for (RegexNode part : all) {
      // Each part is a pattern of its own: a $ ends it when nothing follows inside the part.
      requireNothingAfterDollar(part, true);
      Re2Emitter.Emitted emitted = Re2Emitter.emit(part);
      compiled.add(re2(leadingFlags + emitted.pattern()));
      finalNewlineGroups.add(emitted.finalNewlineGroups());
      decisions.add(re2(leadingFlags + Re2Emitter.emitForDecision(part)));
      Set<String> literals = LiteralExtractor.requiredLiterals(part);
      if (LiteralExtractor.score(literals) > LiteralExtractor.score(bestLiterals)) {
        bestLiterals = literals;
      }
    }
    return new CompiledPattern.Conjunction(compiled, finalNewlineGroups, decisions, shortcuts, trailing != null, anchored,
        bestLiterals);
  }

  private static RegexSyntaxException misplacedLookahead() {
    return new RegexSyntaxException("lookahead (?= is supported only as a leading conjunction such as "
        + "(?=.*a)(?=.*b), which is rewritten exactly; anywhere else it needs backtracking; "
        + "expected the lookaheads first, each followed by nothing but another lookahead or the rest of the pattern");
  }

  /** The part after a leading {@code .*} or {@code .*?} (without the s flag), or null if there is none. */
  private static RegexNode afterLeadingDotStar(RegexNode part) {
    RegexNode node = part;
    // Groups do not capture inside a conjunction, so a capturing (.*) counts as .* too.
    while (node instanceof RegexNode.Group g && g.flags().isEmpty()) {
      node = g.body();
    }
    if (isDotStar(node)) {
      return new RegexNode.Empty();
    }
    if (node instanceof RegexNode.Concat c && !c.items().isEmpty() && isDotStar(c.items().get(0))) {
      return new RegexNode.Concat(c.items().subList(1, c.items().size()));
    }
    return null;
  }

  private static boolean isDotStar(RegexNode node) {
    return node instanceof RegexNode.Repeat r && r.min() == 0 && r.max() == -1
        && r.body() instanceof RegexNode.AnyChar any && !any.dotAll();
  }

  static boolean canMatchNewline(RegexNode node) {
    if (node instanceof RegexNode.Literal lit) {
      return lit.codePoint() == '\n';
    }
    if (node instanceof RegexNode.CharClass cls) {
      return cls.contains('\n');
    }
    if (node instanceof RegexNode.AnyChar any) {
      return any.dotAll();
    }
    if (node instanceof RegexNode.Flags f) {
      // A (?s) switches later dots to match newlines; be conservative.
      return f.flags().replaceAll("-.*", "").contains("s");
    }
    if (node instanceof RegexNode.Group g) {
      return g.flags().replaceAll("-.*", "").contains("s") || canMatchNewline(g.body());
    }
    if (node instanceof RegexNode.Repeat r) {
      return canMatchNewline(r.body());
    }
    if (node instanceof RegexNode.Concat c) {
      return c.items().stream().anyMatch(PatternCompiler::canMatchNewline);
    }
    if (node instanceof RegexNode.Alternation a) {
      return a.items().stream().anyMatch(PatternCompiler::canMatchNewline);
    }
    if (node instanceof RegexNode.Lookahead la) {
      return canMatchNewline(la.body());
    }
    // Assertions match no text; $ consumes only a final newline, at the very end of the input.
    return false;
  }

  static boolean containsLookahead(RegexNode node) {
    if (node instanceof RegexNode.Lookahead) {
      return true;
    }
    if (node instanceof RegexNode.Group g) {
      return containsLookahead(g.body());
    }
    if (node instanceof RegexNode.Repeat r) {
      return containsLookahead(r.body());
    }
    if (node instanceof RegexNode.Concat c) {
      return c.items().stream().anyMatch(PatternCompiler::containsLookahead);
    }
    if (node instanceof RegexNode.Alternation a) {
      return a.items().stream().anyMatch(PatternCompiler::containsLookahead);
    }
    return false;
  }
}
