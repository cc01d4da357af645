package dev.tourniquet.agent.enforce.nginx;

import dev.tourniquet.rules.PatternSyntax;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Translates a rule pattern (IIS ECMAScript, Wildcard or ExactMatch, as the rules module reads it) into a
 * PCRE2 pattern for an nginx {@code if} that decides exactly the same yes/no question, or refuses it.
 *
 * <h2>Same meaning</h2>
 *
 * <p>The output starts with {@code (*UTF)}, so PCRE matches characters rather than bytes, as the rules
 * module does; nginx answers 500 to a request whose examined value is not valid UTF-8, so such a request
 * is never let through unchecked. Nothing is left to PCRE's options: case-insensitivity is spelled out per
 * character with the same simple case folding the rules module uses ({@code k} also matches the Kelvin
 * sign U+212A, {@code s} the long s U+017F); {@code .} is written {@code [^\n]}; {@code \d \w \s} are
 * written as their ASCII classes; {@code $} (without the m option) as {@code (?=\n?\z)}, .NET's meaning;
 * every character other than an ASCII letter or digit as {@code \x{…}}. The last point also makes the
 * output safe inside an nginx double-quoted string: it holds no quote, space, semicolon or {@code $}.
 *
 * <h2>Linear time</h2>
 *
 * <p>PCRE backtracks, so only shapes whose backtracking is bounded by a constant per input character are
 * accepted:
 *
 * <ul>
 *   <li>no unbounded quantifier ({@code * + {n,}}) once a leading or trailing {@code .*} is dropped (they
 *       do not change whether a search matches); a quantified part may hold neither another variable
 *       quantifier nor an alternation;
 *   <li>a pattern anchored with {@code ^} and at most one unbounded quantifier;
 *   <li>fixed-width parts separated by {@code .*} or {@code .+} (no part matching a newline), such as
 *       ProxyLogon's {@code (.*)X-BEResource=(.+)/(.+)~(.+)}: each part but the last is searched once,
 *       leftmost, inside an atomic group ({@code (?>[^\n]*?A)}). The earliest end of a fixed-width part is
 *       never worse for what follows, since a {@code .*} gap accepts any later start on the line, so
 *       committing to it decides exactly the same question;
 *   <li>Microsoft's lookahead conjunction {@code (?=.*A)(?=.*B)}, tried only at line starts, which is exactly the rules module's line-by-line meaning, with each part's
 *       remainder free of unbounded quantifiers; anchored, each part may hold one.
 * </ul>
 *
 * Everything else is refused with the construct and the reason.
 */
final class PcreTranslator {
  private static final String NOT_NEWLINE = "[^\\x{a}]";
  private static final String ANY = "[\\x{0}-\\x{10ffff}]";
  /**
   * The start of a line: the start of the input or just after a newline. Not {@code (?m:^)}, which PCRE
   * (like Perl) does not let match after a newline that ends the input.
   */
  private static final String LINE_START = "(?:\\A|(?<=\\x{a}))";
  private static final int KELVIN = 0x212A;
  private static final int LONG_S = 0x17F;

  private PcreTranslator() {}

  /** The pattern cannot be expressed exactly (and in linear time) in PCRE; the message says why. */
  static final class Untranslatable extends Exception {
    private static final long serialVersionUID = 1L;

    Untranslatable(String message) {
      super(message);
    }
  }

  /**
   * Translates a pattern.
   *
   * @return the PCRE2 pattern, starting with {@code (*UTF)}
   * @throws Untranslatable if it cannot be expressed exactly or could backtrack super-linearly
   */
  static String translate(String pattern, PatternSyntax syntax, boolean ignoreCase) throws Untranslatable {
    return "(*UTF)" + switch (syntax) {
      case EXACT_MATCH -> "\\A" + literalText(pattern, ignoreCase) + "\\z";
      case WILDCARD -> wildcard(pattern, ignoreCase);
      case ECMA_SCRIPT -> ecmaScript(pattern, ignoreCase);
    };
  }

  /**
   * Tells whether an ECMAScript pattern matches every input: it is empty, or only {@code ^}, once leading
   * and trailing {@code .*} are dropped.
   */
  static boolean matchesEverything(String pattern, PatternSyntax syntax, boolean ignoreCase) {
    if (syntax != PatternSyntax.ECMA_SCRIPT) {
      return syntax == PatternSyntax.WILDCARD && pattern.equals("*");
    }
    try {
      Node root = new Parser(pattern, ignoreCase).parse();
      if (!(root instanceof Seq seq)) {
        return false;
      }
      List<Node> rest = strip(seq.items());
      // Empty, or only ^ (as in ^.*): every input matches at its start.
      return rest.isEmpty() || (rest.size() == 1 && rest.get(0) instanceof Anchor a && a.start());
    } catch (Untranslatable e) {
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // The tree

  private sealed interface Node {}

  /** One character out of a set; {@code dot} for {@code .}; {@code newline} if it can match a newline. */
  private record Chars(String pcre, boolean dot, boolean newline) implements Node {}

  /** A zero-width assertion. */
  private record Anchor(String pcre, boolean start, boolean end) implements Node {}

  private record Group(Node body) implements Node {}

  private record Look(Node body) implements Node {}

  private record Rep(Node body, int min, int max, boolean lazy) implements Node {}

  private record Seq(List<Node> items) implements Node {}

  private record Alt(List<Node> items) implements Node {}

  // ---------------------------------------------------------------------------------------------------
  // Syntaxes

  private static String ecmaScript(String pattern, boolean ignoreCase) throws Untranslatable {
    Node root = new Parser(pattern, ignoreCase).parse();
    if (containsLook(root)) {
      return conjunction(root);
    }
    if (root instanceof Alt alt) {
      for (Node branch : alt.items()) {
        checkQuantifiers(branch);
        if (unbounded(branch) > 0) {
          throw new Untranslatable("an alternation at the top of the pattern with an unbounded quantifier (*, +, {n,}) "
              + "in a branch could backtrack super-linearly in PCRE; expected branches without unbounded quantifiers");
        }
      }
      return emit(root);
    }
    List<Node> items = strip(((Seq) root).items());
    Seq seq = new Seq(items);
    checkQuantifiers(seq);
    int unbounded = unbounded(seq);
    boolean anchored = !items.isEmpty() && items.get(0) instanceof Anchor a && a.start();
    if (unbounded == 0 || (anchored && unbounded == 1)) {
      return emit(seq);
    }
    return segments(items, anchored, false);
  }

  private static String wildcard(String pattern, boolean ignoreCase) throws Untranslatable {
    List<Node> items = new ArrayList<>();
    items.add(new Anchor("\\A", true, false));
    int stars = 0;
    for (int i = 0; i < pattern.length(); ) {
      int cp = pattern.codePointAt(i);
      i += Character.charCount(cp);
      if (cp == '*') {
        items.add(new Rep(new Chars(ANY, false, true), 0, -1, false));
        stars++;
      } else {
        items.add(literal(cp, ignoreCase));
      }
    }
    items.add(new Anchor("\\z", false, true));
    if (stars <= 1) {
      return emit(new Seq(items));
    }
    return segments(items, true, true);
  }

  private static String literalText(String text, boolean ignoreCase) throws Untranslatable {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < text.length(); ) {
      int cp = text.codePointAt(i);
      i += Character.charCount(cp);
      out.append(((Chars) literal(cp, ignoreCase)).pcre());
    }
    return out.toString();
  }

  /** Drops leading {@code .*} and trailing {@code .*}, and turns a trailing {@code .+} into {@code .}. */
  private static List<Node> strip(List<Node> items) {
    List<Node> out = new ArrayList<>(items);
    while (!out.isEmpty() && gap(out.get(0)) == 0) {
      out.remove(0);
    }
    while (!out.isEmpty() && gap(out.get(out.size() - 1)) >= 0) {
      Node last = out.remove(out.size() - 1);
      if (gap(last) == 1) {
        out.add(new Chars(NOT_NEWLINE, true, false));
        break;
      }
    }
    return out;
  }

  /** 0 for {@code .*}, 1 for {@code .+} (also in a plain group), -1 otherwise. */
  private static int gap(Node node) {
    Node n = node;
    while (n instanceof Group g) {
      n = g.body();
    }
    if (n instanceof Seq s && s.items().size() == 1) {
      return gap(s.items().get(0));
    }
    if (n instanceof Rep r && r.max() == -1 && r.min() <= 1 && r.body() instanceof Chars c && c.dot()) {
      return r.min();
    }
    return -1;
  }

  /**
   * Fixed-width parts separated by gaps: each part but the last is committed to at its leftmost (earliest
   * ending) occurrence in an atomic group, the last is searched.
   */
  private static String segments(List<Node> items, boolean anchored, boolean dotAllGaps) throws Untranslatable {
    List<List<Node>> parts = new ArrayList<>();
    List<Node> current = new ArrayList<>();
    for (Node item : items) {
      int gap = dotAllGaps ? (item instanceof Rep r && r.max() == -1 && r.body() instanceof Chars c && c.pcre().equals(ANY) ? 0 : -1)
          : gap(item);
      if (gap < 0) {
        current.add(item);
        continue;
      }
      if (gap == 1) {
        current.add(new Chars(NOT_NEWLINE, true, false));
      }
      parts.add(current);
      current = new ArrayList<>();
    }
    parts.add(current);
    String gapPcre = dotAllGaps ? ANY + "*?" : NOT_NEWLINE + "*?";
    StringBuilder out = new StringBuilder(anchored ? "" : LINE_START);
    for (int i = 0; i < parts.size(); i++) {
      Seq part = new Seq(parts.get(i));
      boolean last = i == parts.size() - 1;
      if (unbounded(part) > 0) {
        throw notLinear();
      }
      if (!dotAllGaps && canMatchNewline(part)) {
        throw new Untranslatable("a part between .* gaps can match a newline, so it cannot be decided line by line in "
            + "linear time; expected parts that stay on one line");
      }
      for (int j = 0; j < part.items().size(); j++) {
        Node n = part.items().get(j);
        if (n instanceof Anchor a && ((a.start() && !(anchored && i == 0 && j == 0)) || (a.end() && !last))) {
          throw notLinear();
        }
      }
      if (!last && width(part) < 0) {
        throw new Untranslatable("a part between .* gaps has a variable width, so committing to its leftmost match "
            + "could change the result; expected fixed-width parts (literals, classes, {n} counts)");
      }
      if (anchored && i == 0) {
        out.append(emit(part));
      } else if (last) {
        out.append(gapPcre).append(emit(part));
      } else {
        out.append("(?>").append(gapPcre).append(emit(part)).append(')');
      }
    }
    return out.toString();
  }

  private static Untranslatable notLinear() {
    return new Untranslatable("PCRE backtracks, and this pattern's unbounded quantifiers (*, +, {n,}) could make it "
        + "super-linear in the input; expected at most one unbounded quantifier in a pattern anchored with ^, or "
        + "fixed-width parts separated by .* such as (.*)abc(.+)/(.+)");
  }

  /** The lookahead conjunction: {@code ^(?=A)(?=B)R} or {@code (?=.*A)(?=.*B).*R}. */
  private static String conjunction(Node root) throws Untranslatable {
    List<Node> items = root instanceof Seq s ? s.items() : List.of(root);
    int i = 0;
    boolean anchored = false;
    if (i < items.size() && items.get(i) instanceof Anchor a && a.start()) {
      anchored = true;
      i++;
    }
    List<Node> parts = new ArrayList<>();
    while (i < items.size() && items.get(i) instanceof Look look) {
      parts.add(look.body());
      i++;
    }
    List<Node> rest = items.subList(i, items.size());
    Seq trailing = new Seq(rest);
    if (parts.isEmpty() || containsLook(trailing) || parts.stream().anyMatch(PcreTranslator::containsLook)) {
      throw new Untranslatable("lookahead (?= is translated only as a leading conjunction such as (?=.*a)(?=.*b); "
          + "expected the lookaheads first");
    }
    StringBuilder out = new StringBuilder();
    if (anchored) {
      out.append("\\A");
      for (Node part : parts) {
        checkQuantifiers(part);
        if (unbounded(part) > 1) {
          throw notLinear();
        }
        out.append("(?=").append(emit(part)).append(')');
      }
      checkQuantifiers(trailing);
      if (unbounded(trailing) > 1) {
        throw notLinear();
      }
      return out.append(emit(trailing)).toString();
    }
    List<Node> all = new ArrayList<>(parts);
    if (!rest.isEmpty()) {
      all.add(trailing);
    }
    out.append(LINE_START);
    for (Node part : all) {
      List<Node> body = flatten(part);
      if (body.isEmpty() || gap(body.get(0)) != 0) {
        throw new Untranslatable("in an unanchored lookahead conjunction every part must begin with .*; "
            + "expected (?=.*A)(?=.*B) optionally followed by .*C, or anchor the pattern with ^");
      }
      Seq remainder = new Seq(body.subList(1, body.size()));
      checkQuantifiers(remainder);
      if (unbounded(remainder) > 0) {
        throw notLinear();
      }
      if (canMatchNewline(remainder)) {
        throw new Untranslatable("a part of the lookahead conjunction can match a newline after its leading .*; "
            + "expected parts whose text after .* stays on one line");
      }
      out.append("(?=").append(NOT_NEWLINE).append("*?").append(emit(remainder)).append(')');
    }
    return out.toString();
  }

  /** A part's items, looking through plain groups: {@code (.*a)} is {@code .*a}. */
  private static List<Node> flatten(Node node) {
    Node n = node;
    while (n instanceof Group g) {
      n = g.body();
    }
    return n instanceof Seq s ? s.items() : List.of(n);
  }

  // ---------------------------------------------------------------------------------------------------
  // Analyses

  private static boolean containsLook(Node node) {
    if (node instanceof Look) {
      return true;
    }
    return children(node).stream().anyMatch(PcreTranslator::containsLook);
  }

  /** The direct sub-nodes. */
  private static List<Node> children(Node node) {
    if (node instanceof Group g) {
      return List.of(g.body());
    }
    if (node instanceof Look l) {
      return List.of(l.body());
    }
    if (node instanceof Rep r) {
      return List.of(r.body());
    }
    if (node instanceof Seq s) {
      return s.items();
    }
    if (node instanceof Alt a) {
      return a.items();
    }
    return List.of();
  }

  private static int unbounded(Node node) {
    int own = node instanceof Rep r && r.max() == -1 ? 1 : 0;
    return own + children(node).stream().mapToInt(PcreTranslator::unbounded).sum();
  }

  /** A quantified part must hold no alternation and no variable quantifier: {@code (a|a)*}, {@code (a+)*}. */
  private static void checkQuantifiers(Node node) throws Untranslatable {
    if (node instanceof Rep r && hasChoice(r.body())) {
      throw new Untranslatable("a quantifier over a part that itself has an alternation or a variable quantifier "
          + "(such as (a|ab)* or (a+)*) can backtrack exponentially in PCRE; expected a quantifier over a "
          + "fixed sequence or a character class");
    }
    for (Node child : children(node)) {
      checkQuantifiers(child);
    }
  }

  private static boolean hasChoice(Node node) {
    if (node instanceof Alt || node instanceof Look || (node instanceof Rep r && r.min() != r.max())) {
      return true;
    }
    return children(node).stream().anyMatch(PcreTranslator::hasChoice);
  }

  /** The fixed width in characters, or -1 if it varies. */
  private static int width(Node node) {
    if (node instanceof Chars) {
      return 1;
    }
    if (node instanceof Anchor || node instanceof Look) {
      return 0;
    }
    if (node instanceof Group g) {
      return width(g.body());
    }
    if (node instanceof Rep r) {
      int w = width(r.body());
      return r.min() == r.max() && w >= 0 ? r.min() * w : -1;
    }
    if (node instanceof Seq s) {
      int sum = 0;
      for (Node n : s.items()) {
        int w = width(n);
        if (w < 0) {
          return -1;
        }
        sum += w;
      }
      return sum;
    }
    List<Node> items = ((Alt) node).items();
    int w = width(items.get(0));
    for (Node n : items) {
      if (width(n) != w) {
        return -1;
      }
    }
    return w;
  }

  /** Whether a part can match a newline ($ consumes nothing here: it is written as a lookahead). */
  private static boolean canMatchNewline(Node node) {
    if (node instanceof Chars c) {
      return c.newline();
    }
    return children(node).stream().anyMatch(PcreTranslator::canMatchNewline);
  }

  // ---------------------------------------------------------------------------------------------------
  // Emission

  private static String emit(Node node) {
    StringBuilder out = new StringBuilder();
    emit(node, out);
    return out.toString();
  }

  private static void emit(Node node, StringBuilder out) {
    if (node instanceof Chars c) {
      out.append(c.pcre());
    } else if (node instanceof Anchor a) {
      out.append(a.pcre());
    } else if (node instanceof Group g) {
      out.append("(?:");
      emit(g.body(), out);
      out.append(')');
    } else if (node instanceof Look l) {
      out.append("(?=");
      emit(l.body(), out);
      out.append(')');
    } else if (node instanceof Rep r) {
      out.append("(?:");
      emit(r.body(), out);
      out.append(')');
      if (r.min() == 0 && r.max() == -1) {
        out.append('*');
      } else if (r.min() == 1 && r.max() == -1) {
        out.append('+');
      } else if (r.min() == 0 && r.max() == 1) {
        out.append('?');
      } else if (r.max() == -1) {
        out.append('{').append(r.min()).append(",}");
      } else if (r.min() == r.max()) {
        out.append('{').append(r.min()).append('}');
      } else {
        out.append('{').append(r.min()).append(',').append(r.max()).append('}');
      }
      if (r.lazy()) {
        out.append('?');
      }
    } else if (node instanceof Seq s) {
      for (Node n : s.items()) {
        emit(n, out);
      }
    } else {
      List<Node> items = ((Alt) node).items();
      out.append("(?:");
      for (int i = 0; i < items.size(); i++) {
        if (i > 0) {
          out.append('|');
        }
        emit(items.get(i), out);
      }
      out.append(')');
    }
  }

  /** One literal character, with its case partners when ignoring case. */
  private static Node literal(int cp, boolean ignoreCase) throws Untranslatable {
    if (!ignoreCase || !isCased(cp)) {
      return new Chars(hexOrAlnum(cp), false, cp == '\n');
    }
    int[] orbit = orbit(cp);
    StringBuilder out = new StringBuilder("[");
    for (int member : orbit) {
      out.append(hexOrAlnum(member));
    }
    return new Chars(out.append(']').toString(), false, false);
  }

  private static String hexOrAlnum(int cp) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9')) {
      return String.valueOf((char) cp);
    }
    return "\\x{" + Integer.toHexString(cp) + "}";
  }

  private static boolean isCased(int cp) {
    return Character.toLowerCase(cp) != cp || Character.toUpperCase(cp) != cp || Character.toTitleCase(cp) != cp;
  }

  /**
   * The simple case-folding orbit of a cased character. Only ASCII letters and the two non-ASCII characters
   * that fold to ASCII letters (U+212A Kelvin, U+017F long s) are handled; other cased characters are
   * refused, since their orbits are not reproduced here.
   */
  private static int[] orbit(int cp) throws Untranslatable {
    int lower = cp == KELVIN ? 'k' : cp == LONG_S ? 's' : cp < 0x80 ? Character.toLowerCase(cp) : -1;
    if (lower < 'a' || lower > 'z') {
      throw new Untranslatable(String.format(Locale.ROOT, "case-insensitive matching of U+%04X is not translated for "
          + "nginx (only ASCII letters are); expected ignoreCase=\"false\" or an explicit class", cp));
    }
    int upper = Character.toUpperCase(lower);
    if (lower == 'k') {
      return new int[] {upper, lower, KELVIN};
    }
    if (lower == 's') {
      return new int[] {upper, lower, LONG_S};
    }
    return new int[] {upper, lower};
  }

  // ---------------------------------------------------------------------------------------------------
  // Parsing: the ECMAScript subset the translator accepts. The rules module has already validated the
  // pattern; anything outside the subset is refused here, never guessed.

  private static final class Parser {
    private final String pattern;
    private final boolean ignoreCase;
    private int pos;

    Parser(String pattern, boolean ignoreCase) {
      this.pattern = pattern;
      this.ignoreCase = ignoreCase;
    }

    Node parse() throws Untranslatable {
      Node node = alternation();
      if (pos < pattern.length()) {
        throw refuse("unbalanced ')'");
      }
      return node instanceof Seq || node instanceof Alt ? node : new Seq(List.of(node));
    }

    private Node alternation() throws Untranslatable {
      List<Node> branches = new ArrayList<>();
      branches.add(sequence());
      while (pos < pattern.length() && pattern.charAt(pos) == '|') {
        pos++;
        branches.add(sequence());
      }
      return branches.size() == 1 ? branches.get(0) : new Alt(branches);
    }

    private Node sequence() throws Untranslatable {
      List<Node> items = new ArrayList<>();
      while (pos < pattern.length() && pattern.charAt(pos) != '|' && pattern.charAt(pos) != ')') {
        Node atom = atom();
        items.add(quantified(atom));
      }
      return new Seq(items);
    }

    private Node quantified(Node atom) throws Untranslatable {
      if (pos >= pattern.length()) {
        return atom;
      }
      char c = pattern.charAt(pos);
      int min;
      int max;
      if (c == '*') {
        min = 0;
        max = -1;
        pos++;
      } else if (c == '+') {
        min = 1;
        max = -1;
        pos++;
      } else if (c == '?') {
        min = 0;
        max = 1;
        pos++;
      } else if (c == '{') {
        int close = pattern.indexOf('}', pos);
        String body = close < 0 ? "" : pattern.substring(pos + 1, close);
        if (!body.matches("\\d{1,4}(,\\d{0,4})?")) {
          throw refuse("'{' that is not a repetition count");
        }
        String[] bounds = body.split(",", -1);
        min = Integer.parseInt(bounds[0]);
        max = bounds.length == 1 ? min : bounds[1].isEmpty() ? -1 : Integer.parseInt(bounds[1]);
        pos = close + 1;
      } else {
        return atom;
      }
      if (atom instanceof Anchor || atom instanceof Look) {
        throw refuse("a quantified assertion");
      }
      boolean lazy = false;
      if (pos < pattern.length() && pattern.charAt(pos) == '?') {
        lazy = true;
        pos++;
      }
      if (pos < pattern.length() && "*+?{".indexOf(pattern.charAt(pos)) >= 0) {
        throw refuse("a quantifier after a quantifier");
      }
      return new Rep(atom, min, max, lazy);
    }

    private Node atom() throws Untranslatable {
      int start = pos;
      char c = pattern.charAt(pos++);
      switch (c) {
        case '(':
          return group(start);
        case '[':
          return charClass();
        case '.':
          return new Chars(NOT_NEWLINE, true, false);
        case '^':
          return new Anchor("\\A", true, false);
        case '$':
          return new Anchor("(?=\\x{a}?\\z)", false, true);
        case '\\':
          return escape();
        case '*':
        case '+':
        case '?':
        case '{':
          throw refuse("a quantifier with nothing to repeat");
        default:
          pos = start;
          int cp = pattern.codePointAt(pos);
          pos += Character.charCount(cp);
          return literal(cp, ignoreCase);
      }
    }

    private Node group(int start) throws Untranslatable {
      boolean look = false;
      if (pattern.startsWith("?:", pos)) {
        pos += 2;
      } else if (pattern.startsWith("?=", pos)) {
        pos += 2;
        look = true;
      } else if (pattern.startsWith("?<", pos) && pos + 2 < pattern.length()
          && pattern.charAt(pos + 2) != '=' && pattern.charAt(pos + 2) != '!') {
        int close = pattern.indexOf('>', pos);
        if (close < 0) {
          throw refuse("an unterminated group name");
        }
        pos = close + 1;
      } else if (pos < pattern.length() && pattern.charAt(pos) == '?') {
        throw refuse("the group construct (" + pattern.substring(pos, Math.min(pos + 2, pattern.length())));
      }
      Node body = alternation();
      if (pos >= pattern.length() || pattern.charAt(pos) != ')') {
        throw refuse("an unterminated group opened at offset " + start);
      }
      pos++;
      return look ? new Look(body) : new Group(body);
    }

    private Node escape() throws Untranslatable {
      if (pos >= pattern.length()) {
        throw refuse("a trailing backslash");
      }
      char e = pattern.charAt(pos++);
      switch (e) {
        case 'd':
          return new Chars("[0-9]", false, false);
        case 'D':
          return new Chars("[^0-9]", false, true);
        case 'w':
          return new Chars("[0-9A-Z\\x{5f}a-z]", false, false);
        case 'W':
          return new Chars("[^0-9A-Z\\x{5f}a-z]", false, true);
        case 's':
          return new Chars("[\\x{9}-\\x{d}\\x{20}]", false, true);
        case 'S':
          return new Chars("[^\\x{9}-\\x{d}\\x{20}]", false, false);
        case 'b':
          return new Anchor("\\b", false, false);
        case 'B':
          return new Anchor("\\B", false, false);
        case 'A':
          return new Anchor("\\A", true, false);
        case 'z':
          return new Anchor("\\z", false, true);
        case 'Z':
          return new Anchor("(?=\\x{a}?\\z)", false, true);
        default:
          return literal(escapedCodePoint(e), ignoreCase);
      }
    }

    /** A single-character escape: {@code \n \t \xHH \\uHHHH \cX} or escaped punctuation. */
    private int escapedCodePoint(char e) throws Untranslatable {
      switch (e) {
        case 'n':
          return '\n';
        case 't':
          return '\t';
        case 'r':
          return '\r';
        case 'f':
          return '\f';
        case 'v':
          return 0x0B;
        case '0':
          if (pos < pattern.length() && Character.isDigit(pattern.charAt(pos))) {
            throw refuse("an octal escape");
          }
          return 0;
        case 'x':
          return hex(2);
        case 'u':
          return hex(4);
        case 'c':
          if (pos < pattern.length() && Character.isLetter(pattern.charAt(pos)) && pattern.charAt(pos) <= 'z') {
            return Character.toUpperCase(pattern.charAt(pos++)) - '@';
          }
          throw refuse("a malformed control escape \\c");
        default:
          if (Character.isLetterOrDigit(e)) {
            throw refuse("the escape \\" + e);
          }
          return e;
      }
    }

    private int hex(int digits) throws Untranslatable {
      if (pos + digits > pattern.length()) {
        throw refuse("a truncated hex escape");
      }
      int value = 0;
      for (int i = 0; i < digits; i++) {
        char h = pattern.charAt(pos + i);
        int d = h < 0x80 ? Character.digit(h, 16) : -1;
        if (d < 0) {
          throw refuse("a malformed hex escape");
        }
        value = value * 16 + d;
      }
      pos += digits;
      return value;
    }

    /** A class as code point ranges; case-insensitive classes fold the listed characters, then negate. */
    private Node charClass() throws Untranslatable {
      boolean negated = false;
      if (pos < pattern.length() && pattern.charAt(pos) == '^') {
        negated = true;
        pos++;
      }
      if (pos < pattern.length() && pattern.charAt(pos) == ']') {
        throw refuse("']' right after '['");
      }
      List<int[]> ranges = new ArrayList<>();
      while (true) {
        if (pos >= pattern.length()) {
          throw refuse("an unterminated character class");
        }
        int lo = classAtom(ranges);
        if (lo == -2) {
          break;
        }
        if (lo == -1) {
          continue;
        }
        int hi = lo;
        if (pos + 1 < pattern.length() && pattern.charAt(pos) == '-' && pattern.charAt(pos + 1) != ']') {
          pos++;
          hi = classAtom(null);
          if (hi < lo) {
            throw refuse("a character class range out of order");
          }
        }
        ranges.add(new int[] {lo, hi});
      }
      if (ignoreCase) {
        ranges = fold(ranges);
      }
      boolean newline = false;
      StringBuilder out = new StringBuilder(negated ? "[^" : "[");
      for (int[] r : ranges) {
        newline |= r[0] <= '\n' && '\n' <= r[1];
        out.append(hexOrAlnum(r[0]));
        if (r[1] != r[0]) {
          out.append('-').append(hexOrAlnum(r[1]));
        }
      }
      if (ranges.isEmpty()) {
        throw refuse("an empty character class");
      }
      return new Chars(out.append(']').toString(), false, negated != newline);
    }

    /** The next class member's code point; -1 after adding a class escape's ranges; -2 at the closing ']'. */
    private int classAtom(List<int[]> ranges) throws Untranslatable {
      char c = pattern.charAt(pos++);
      if (c == ']' && ranges != null) {
        return -2;
      }
      if (c == '[' && pos < pattern.length() && pattern.charAt(pos) == ':') {
        throw refuse("a POSIX class '[:'");
      }
      if (c != '\\') {
        if (Character.isHighSurrogate(c) && pos < pattern.length() && Character.isLowSurrogate(pattern.charAt(pos))) {
          return Character.toCodePoint(c, pattern.charAt(pos++));
        }
        return c;
      }
      if (pos >= pattern.length()) {
        throw refuse("an unterminated character class");
      }
      char e = pattern.charAt(pos++);
      if ("dws".indexOf(e) >= 0 && ranges != null) {
        if (e == 'd') {
          ranges.add(new int[] {'0', '9'});
        } else if (e == 'w') {
          ranges.add(new int[] {'0', '9'});
          ranges.add(new int[] {'A', 'Z'});
          ranges.add(new int[] {'_', '_'});
          ranges.add(new int[] {'a', 'z'});
        } else {
          ranges.add(new int[] {'\t', '\r'});
          ranges.add(new int[] {' ', ' '});
        }
        return -1;
      }
      if ("DWSpP".indexOf(e) >= 0 || ("dws".indexOf(e) >= 0)) {
        throw refuse("the class escape \\" + e + " inside a character class");
      }
      if (e == 'b') {
        return '\b';
      }
      return escapedCodePoint(e);
    }

    /** Adds the case partners of every cased member, as the rules module's class folding does. */
    private List<int[]> fold(List<int[]> ranges) throws Untranslatable {
      List<int[]> out = new ArrayList<>(ranges);
      for (int[] r : ranges) {
        for (int cp = r[0]; cp <= r[1]; cp++) {
          if (cp >= 0x80 && cp != KELVIN && cp != LONG_S && isCased(cp)) {
            throw new Untranslatable(String.format(Locale.ROOT, "case-insensitive matching of the class member U+%04X "
                + "is not translated for nginx (only ASCII letters are); expected ignoreCase=\"false\"", cp));
          }
          if (isCased(cp)) {
            for (int member : orbit(cp)) {
              out.add(new int[] {member, member});
            }
          }
        }
      }
      return normalise(out);
    }

    private Untranslatable refuse(String construct) {
      return new Untranslatable(construct + " at offset " + pos + " is not translated for nginx; "
          + "expected the ECMAScript subset documented in docs/nginx.md");
    }
  }

  /** Sorts and merges ranges. */
  private static List<int[]> normalise(List<int[]> ranges) {
    List<int[]> sorted = new ArrayList<>(ranges);
    sorted.sort((a, b) -> Integer.compare(a[0], b[0]));
    List<int[]> out = new ArrayList<>();
    for (int[] r : sorted) {
      if (!out.isEmpty() && r[0] <= out.get(out.size() - 1)[1] + 1) {
        int[] last = out.get(out.size() - 1);
        last[1] = Math.max(last[1], r[1]);
      } else {
        out.add(new int[] {r[0], r[1]});
      }
    }
    return out;
  }
}
