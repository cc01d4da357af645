package dev.tourniquet.rules;

import java.util.ArrayList;
import java.util.List;

/**
 * Decides, without running RE2, whether a pattern matches somewhere in an input, for the shapes of
 * pattern whose outcome needs no search. Used only where the caller needs the yes/no answer and no
 * captures; the answer is exactly RE2's {@code find()} on the translated pattern (a differential test
 * holds the two together).
 *
 * <p>The shapes, after dropping groups (captures are not needed) and case-only inline flags (case is
 * already recorded on each literal):
 *
 * <ul>
 *   <li><b>always</b>: everything can match the empty string, with no anchor, or with only a start or only
 *       an end anchor: {@code .*}, {@code (.*)}, {@code ^.*}, {@code .*$}. A match exists at the start (or
 *       at the end) of every input.
 *   <li><b>one line</b>: {@code ^.*$}, which holds iff the input has no newline, or only a final one (the
 *       translated {@code $} is {@code \n?\z}); with {@code \z}, iff it has no newline at all.
 *   <li><b>empty</b>: {@code ^$} ({@code ""} or {@code "\n"}), {@code \A\z} ({@code ""}).
 *   <li><b>some character</b>: {@code .+} (one character that {@code .} matches, so any but {@code \n};
 *       under {@code s}, any), possibly between parts that can match the empty string.
 *   <li><b>literals</b>: one literal string, or an alternation of literal strings, unanchored (contains),
 *       after {@code ^} (starts with), before {@code $} or {@code \z} (ends with), or both (equals).
 *       Case-insensitive letters compare through their case orbit ({@link CaseOrbits}), so {@code k}
 *       also matches the Kelvin sign, exactly as the emitted class does.
 * </ul>
 *
 * Anything else, including any inline flag other than {@code i} (which could change what {@code ^},
 * {@code $} or {@code .} mean), yields no shortcut.
 */
abstract sealed class MatchShortcut {
  /** Longest literal compared by the literal shortcut; longer ones are left to RE2. */
  private static final int MAX_LITERAL = 64;
  /** Most alternatives compared by the literal shortcut. */
  private static final int MAX_ALTERNATIVES = 16;

  private MatchShortcut() {}

  /** Whether the pattern this shortcut was derived from matches somewhere in the input. */
  abstract boolean matches(String input);

  /** A short name of the shape, for {@code toString} and tests. */
  abstract String shape();

  @Override
  public String toString() {
    return shape();
  }

  /**
   * The shortcut for a parsed pattern (no lookahead inside), or null when it has none of the shapes.
   *
   * @param root the parsed pattern
   */
  static MatchShortcut of(RegexNode root) {
    List<RegexNode> items = new ArrayList<>();
    if (!flatten(root, items)) {
      return null;
    }
    int from = 0;
    int to = items.size();
    Anchor start = Anchor.NONE;
    Anchor end = Anchor.NONE;
    if (from < to && startAnchor(items.get(from))) {
      start = Anchor.TEXT;
      from++;
    }
    if (from < to && endAnchor(items.get(to - 1)) != Anchor.NONE) {
      end = endAnchor(items.get(to - 1));
      to--;
    }
    List<RegexNode> body = items.subList(from, to);
    for (RegexNode node : body) {
      if (isAssertion(node)) {
        return null;
      }
    }
    boolean allNullable = body.stream().allMatch(MatchShortcut::nullable);
    if (allNullable && (start == Anchor.NONE || end == Anchor.NONE)) {
      return Always.INSTANCE;
    }
    if (body.isEmpty()) {
      // Both anchors and nothing between them.
      return new Empty(end == Anchor.FINAL_NEWLINE);
    }
    if (body.size() == 1 && body.get(0) instanceof RegexNode.Repeat r && r.min() == 0 && r.max() == -1
        && r.body() instanceof RegexNode.AnyChar any && any.dotAll()) {
      // \A(?s:.)*\z, a Wildcard "*": the whole input, whatever it is.
      return Always.INSTANCE;
    }
    if (body.size() == 1 && isDotStar(body.get(0))) {
      return new OneLine(end == Anchor.FINAL_NEWLINE);
    }
    if (start == Anchor.NONE && end == Anchor.NONE) {
      int plus = -1;
      for (int i = 0; i < body.size(); i++) {
        if (!nullable(body.get(i))) {
          if (plus >= 0) {
            plus = -2;
            break;
          }
          plus = i;
        }
      }
      if (plus >= 0 && body.get(plus) instanceof RegexNode.Repeat r && r.min() == 1
          && r.body() instanceof RegexNode.AnyChar any) {
        return new SomeCharacter(any.dotAll());
      }
    }
    List<Literals.Text> alternatives = literalAlternatives(body);
    if (alternatives == null) {
      return null;
    }
    return new Literals(alternatives, start != Anchor.NONE, end);
  }

  private enum Anchor {
    NONE,
    /** {@code ^} without m, or {@code \A}; or {@code \z} at the end. */
    TEXT,
    /** {@code $} without m: the end, or before a final newline. */
    FINAL_NEWLINE
  }

  /** Flattens concatenations and groups into a sequence; false when a flag other than case is involved. */
  private static boolean flatten(RegexNode node, List<RegexNode> out) {
    if (node instanceof RegexNode.Concat c) {
      for (RegexNode item : c.items()) {
        if (!flatten(item, out)) {
          return false;
        }
      }
      return true;
    }
    if (node instanceof RegexNode.Group g) {
      return caseOnly(g.flags()) && flatten(g.body(), out);
    }
    if (node instanceof RegexNode.Flags f) {
      return caseOnly(f.flags());
    }
    if (node instanceof RegexNode.Lookahead) {
      return false;
    }
    out.add(node);
    return true;
  }

  /** Flags that change nothing the emitter writes: case is recorded on each literal and class. */
  private static boolean caseOnly(String flags) {
    return flags.replace("i", "").replace("-", "").isEmpty();
  }

  private static boolean startAnchor(RegexNode node) {
    return node instanceof RegexNode.TextStart || (node instanceof RegexNode.LineStart ls && !ls.multiline());
  }

  private static Anchor endAnchor(RegexNode node) {
    if (node instanceof RegexNode.TextEnd) {
      return Anchor.TEXT;
    }
    if (node instanceof RegexNode.LineEnd le && !le.multiline()) {
      return Anchor.FINAL_NEWLINE;
    }
    return Anchor.NONE;
  }

  private static boolean isAssertion(RegexNode node) {
    return node instanceof RegexNode.LineStart || node instanceof RegexNode.LineEnd
        || node instanceof RegexNode.TextStart || node instanceof RegexNode.TextEnd
        || node instanceof RegexNode.WordBoundary || node instanceof RegexNode.Lookahead;
  }

  /** Can match the empty string at any position (no assertion involved). */
  private static boolean nullable(RegexNode node) {
    if (node instanceof RegexNode.Empty) {
      return true;
    }
    if (node instanceof RegexNode.Repeat r) {
      return r.min() == 0 && !containsAssertionOrFlag(r.body());
    }
    return false;
  }

  private static boolean containsAssertionOrFlag(RegexNode node) {
    if (isAssertion(node) || node instanceof RegexNode.Flags) {
      return true;
    }
    if (node instanceof RegexNode.Group g) {
      return !caseOnly(g.flags()) || containsAssertionOrFlag(g.body());
    }
    if (node instanceof RegexNode.Repeat r) {
      return containsAssertionOrFlag(r.body());
    }
    if (node instanceof RegexNode.Concat c) {
      return c.items().stream().anyMatch(MatchShortcut::containsAssertionOrFlag);
    }
    if (node instanceof RegexNode.Alternation a) {
      return a.items().stream().anyMatch(MatchShortcut::containsAssertionOrFlag);
    }
    return false;
  }

  private static boolean isDotStar(RegexNode node) {
    return node instanceof RegexNode.Repeat r && r.min() == 0 && r.max() == -1
        && r.body() instanceof RegexNode.AnyChar any && !any.dotAll();
  }

  /** The body as literal strings: one sequence of literals, or one alternation of such sequences. */
  private static List<Literals.Text> literalAlternatives(List<RegexNode> body) {
    if (body.size() == 1 && body.get(0) instanceof RegexNode.Alternation alt) {
      if (alt.items().size() > MAX_ALTERNATIVES) {
        return null;
      }
      List<Literals.Text> out = new ArrayList<>();
      for (RegexNode item : alt.items()) {
        List<RegexNode> seq = new ArrayList<>();
        if (!flatten(item, seq)) {
          return null;
        }
        Literals.Text text = literalText(seq);
        if (text == null) {
          return null;
        }
        out.add(text);
      }
      return out;
    }
    Literals.Text text = literalText(body);
    return text == null ? null : List.of(text);
  }

  private static Literals.Text literalText(List<RegexNode> seq) {
    if (seq.isEmpty() || seq.size() > MAX_LITERAL) {
      return null;
    }
    char[][] choices = new char[seq.size()][];
    for (int i = 0; i < seq.size(); i++) {
      if (!(seq.get(i) instanceof RegexNode.Literal lit)) {
        return null;
      }
      int[] members = lit.foldCase() && CaseOrbits.orbit(lit.codePoint()) != null
          ? CaseOrbits.orbit(lit.codePoint()) : new int[] {lit.codePoint()};
      char[] chars = new char[members.length];
      for (int m = 0; m < members.length; m++) {
        int cp = members[m];
        // Only plain BMP characters: a surrogate or U+FFFD could pair with how RE2 decodes bad UTF-16.
        if (cp > 0xFFFF || Character.isSurrogate((char) cp) || cp == 0xFFFD) {
          return null;
        }
        chars[m] = (char) cp;
      }
      choices[i] = chars;
    }
    return new Literals.Text(choices);
  }

  /** Every input matches. */
  static final class Always extends MatchShortcut {
    static final Always INSTANCE = new Always();

    @Override
    boolean matches(String input) {
      return true;
    }

    @Override
    String shape() {
      return "always";
    }
  }

  /** {@code ^.*$} or {@code ^.*\z}. */
  static final class OneLine extends MatchShortcut {
    private final boolean finalNewlineAllowed;

    OneLine(boolean finalNewlineAllowed) {
      this.finalNewlineAllowed = finalNewlineAllowed;
    }

    @Override
    boolean matches(String input) {
      int nl = input.indexOf('\n');
      return nl < 0 || (finalNewlineAllowed && nl == input.length() - 1);
    }

    @Override
    String shape() {
      return finalNewlineAllowed ? "one line, final newline allowed" : "one line";
    }
  }

  /** {@code ^$} or {@code \A\z}. */
  static final class Empty extends MatchShortcut {
    private final boolean finalNewlineAllowed;

    Empty(boolean finalNewlineAllowed) {
      this.finalNewlineAllowed = finalNewlineAllowed;
    }

    @Override
    boolean matches(String input) {
      return input.isEmpty() || (finalNewlineAllowed && input.equals("\n"));
    }

    @Override
    String shape() {
      return finalNewlineAllowed ? "empty or a newline" : "empty";
    }
  }

  /** {@code .+}: one character that {@code .} matches. */
  static final class SomeCharacter extends MatchShortcut {
    private final boolean dotAll;

    SomeCharacter(boolean dotAll) {
      this.dotAll = dotAll;
    }

    @Override
    boolean matches(String input) {
      if (dotAll) {
        return !input.isEmpty();
      }
      for (int i = 0; i < input.length(); i++) {
        if (input.charAt(i) != '\n') {
          return true;
        }
      }
      return false;
    }

    @Override
    String shape() {
      return dotAll ? "non-empty" : "some character but a newline";
    }
  }

  /** Literal strings, each character with its case orbit; anchored at either end, both or neither. */
  static final class Literals extends MatchShortcut {
    /** One literal: for each position, the characters it accepts. */
    record Text(char[][] choices) {
      int length() {
        return choices.length;
      }

      boolean at(String input, int offset) {
        for (int i = 0; i < choices.length; i++) {
          char c = input.charAt(offset + i);
          char[] accepted = choices[i];
          boolean ok = false;
          for (char a : accepted) {
            if (a == c) {
              ok = true;
              break;
            }
          }
          if (!ok) {
            return false;
          }
        }
        return true;
      }
    }

    private final Text[] alternatives;
    private final boolean anchoredStart;
    private final Anchor end;

    private Literals(List<Text> alternatives, boolean anchoredStart, Anchor end) {
      this.alternatives = alternatives.toArray(new Text[0]);
      this.anchoredStart = anchoredStart;
      this.end = end;
    }

    @Override
    boolean matches(String input) {
      for (Text text : alternatives) {
        if (matches(text, input)) {
          return true;
        }
      }
      return false;
    }

    private boolean matches(Text text, String input) {
      int n = input.length();
      int m = text.length();
      if (end != Anchor.NONE) {
        // Ends at the end of the input or, for $, before a final newline.
        if (fitsAt(text, input, n - m)) {
          return true;
        }
        return end == Anchor.FINAL_NEWLINE && n > 0 && input.charAt(n - 1) == '\n' && fitsAt(text, input, n - 1 - m);
      }
      if (anchoredStart) {
        return m <= n && text.at(input, 0);
      }
      for (int offset = 0; offset + m <= n; offset++) {
        if (text.at(input, offset)) {
          return true;
        }
      }
      return false;
    }

    private boolean fitsAt(Text text, String input, int offset) {
      if (offset < 0 || offset + text.length() > input.length()) {
        return false;
      }
      if (anchoredStart && offset != 0) {
        return false;
      }
      return text.at(input, offset);
    }

    @Override
    String shape() {
      String where = anchoredStart && end != Anchor.NONE ? "equals"
          : anchoredStart ? "starts with" : end != Anchor.NONE ? "ends with" : "contains";
      return where + " one of " + alternatives.length + " literal" + (alternatives.length == 1 ? "" : "s");
    }
  }
}
