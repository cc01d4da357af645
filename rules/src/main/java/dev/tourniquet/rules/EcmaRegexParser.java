package dev.tourniquet.rules;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Parses the ECMAScript-flavoured regular expressions that IIS URL Rewrite accepts (.NET's regex engine
 * with {@code RegexOptions.ECMAScript}) into a {@link RegexNode} tree.
 *
 * <p>The parser accepts exactly the constructs that can run on RE2 in time linear in the input, plus the
 * positive lookahead {@code (?=…)}, which {@link PatternCompiler} accepts only in the leading conjunction
 * idiom. It rejects, naming the construct and its offset: back-references ({@code \1}, {@code \k<n>}),
 * negative lookahead, lookbehind, atomic groups, conditionals, possessive or nested quantifiers, Unicode
 * property escapes (which .NET refuses in ECMAScript mode) and the {@code x} and {@code n} options. An
 * ambiguous {@code ]} at the start of a class is rejected rather than guessed at.
 *
 * <h2>Group numbers</h2>
 *
 * <p>{@code {R:n}} and {@code {C:n}} name groups by .NET's numbers, which are not positions: unnamed groups
 * are numbered first, left to right; a group named with digits ({@code (?<5>…)}) takes that number; named
 * groups come last, left to right, each taking the lowest number not yet taken (.NET's "Grouping
 * constructs in regular expressions": named groups are numbered after the unnamed ones). So in
 * {@code (?<app>\w+)/(\d+)} the digits are group 1 and {@code app} is group 2. .NET makes two groups of the
 * same name or number one group; that, and numbers that leave a gap ({@code (?<3>a)(b)}: no group 2), are
 * refused here rather than given a meaning of our own.
 */
final class EcmaRegexParser {
  /** RE2's own bound on counted repetition. */
  static final int MAX_REPEAT = 1000;

  /** The highest group number accepted: far above any {@code {R:n}} (at most 99), and a bound on the array. */
  private static final int MAX_GROUP_NUMBER = 999;

  private final String pattern;
  private int pos;
  private int captures;
  /** Per capturing group, in the order of their opening parentheses: how it is named. */
  private final List<GroupName> groupNames = new ArrayList<>();
  private boolean ignoreCase;
  private boolean multiline;
  private boolean dotAll;

  private EcmaRegexParser(String pattern, boolean ignoreCase) {
    this.pattern = pattern;
    this.ignoreCase = ignoreCase;
  }

  /**
   * How a capturing group is named.
   *
   * @param offset where the group opens
   * @param name its name, or null for an unnamed group or one named with digits
   * @param number the number a group named with digits asks for, 0 otherwise
   */
  private record GroupName(int offset, String name, int number) {}

  /**
   * The parse result.
   *
   * @param root the tree; each capturing {@link RegexNode.Group} carries its position among the capturing
   *     groups (1 for the first opening parenthesis), which is how RE2 numbers it
   * @param captureOfNumber for each .NET group number n from 1, the position of the group it names
   *     (index 0 is unused); every number from 1 to the highest names a group
   */
  record Parsed(RegexNode root, int[] captureOfNumber) {
    /** The highest group number, so {@code {R:0}} to {@code {R:captureCount}} are the groups. */
    int captureCount() {
      return captureOfNumber.length - 1;
    }
  }

  /**
   * Parses a pattern.
   *
   * @param ignoreCase whether the rule matches case-insensitively; inline {@code (?i)} and {@code (?-i)}
   *     change it locally, and each literal and class records the state in effect where it stands
   */
  static Parsed parse(String pattern, boolean ignoreCase) throws RegexSyntaxException {
    EcmaRegexParser parser = new EcmaRegexParser(pattern, ignoreCase);
    RegexNode root = parser.parseAlternation();
    if (parser.pos < pattern.length()) {
      // Only an unbalanced ')' stops the top-level alternation early.
      throw parser.error("unbalanced ')' at offset " + parser.pos, "remove it or escape it as \\)");
    }
    return new Parsed(root, parser.numberGroups());
  }

  /**
   * Gives each capturing group its .NET number (see the class comment) and returns, for each number, the
   * group's position.
   */
  private int[] numberGroups() throws RegexSyntaxException {
    Map<Integer, Integer> positionOfNumber = new HashMap<>();
    int unnamed = 0;
    for (int i = 0; i < groupNames.size(); i++) {
      GroupName g = groupNames.get(i);
      if (g.name() == null && g.number() == 0) {
        positionOfNumber.put(++unnamed, i + 1);
      }
    }
    for (int i = 0; i < groupNames.size(); i++) {
      GroupName g = groupNames.get(i);
      if (g.number() > 0 && positionOfNumber.putIfAbsent(g.number(), i + 1) != null) {
        throw error("group number " + g.number() + " at offset " + g.offset() + " is already the number of another group,"
            + " which .NET would make one group with it", "distinct group numbers");
      }
    }
    Set<String> names = new HashSet<>();
    int next = unnamed + 1;
    for (int i = 0; i < groupNames.size(); i++) {
      GroupName g = groupNames.get(i);
      if (g.name() == null) {
        continue;
      }
      if (!names.add(g.name())) {
        throw error("group name '" + g.name() + "' at offset " + g.offset() + " is used twice, which .NET would make"
            + " one group", "distinct group names");
      }
      while (positionOfNumber.containsKey(next)) {
        next++;
      }
      positionOfNumber.put(next, i + 1);
    }
    int highest = positionOfNumber.keySet().stream().mapToInt(Integer::intValue).max().orElse(0);
    int[] captureOfNumber = new int[highest + 1];
    for (int n = 1; n <= highest; n++) {
      Integer position = positionOfNumber.get(n);
      if (position == null) {
        throw error("the groups are numbered up to " + highest + " but there is no group " + n,
            "group numbers from 1 without a gap, as {R:n} and trackAllCaptures count them");
      }
      captureOfNumber[n] = position;
    }
    return captureOfNumber;
  }

  private RegexNode parseAlternation() throws RegexSyntaxException {
    List<RegexNode> branches = new ArrayList<>();
    branches.add(parseConcat());
    while (more() && peek() == '|') {
      pos++;
      branches.add(parseConcat());
    }
    return branches.size() == 1 ? branches.get(0) : new RegexNode.Alternation(branches);
  }

  private RegexNode parseConcat() throws RegexSyntaxException {
    List<RegexNode> items = new ArrayList<>();
    while (more() && peek() != '|' && peek() != ')') {
      int atomStart = pos;
      RegexNode atom = parseAtom();
      if (atom instanceof RegexNode.Flags) {
        items.add(atom);
        continue;
      }
      atom = parseQuantifiers(atom, atomStart);
      items.add(atom);
    }
    if (items.isEmpty()) {
      return new RegexNode.Empty();
    }
    return items.size() == 1 ? items.get(0) : new RegexNode.Concat(items);
  }

  private RegexNode parseQuantifiers(RegexNode atom, int atomStart) throws RegexSyntaxException {
    if (!more()) {
      return atom;
    }
    int min;
    int max;
    char c = peek();
    int quantStart = pos;
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
    } else if (c == '{' && isCountedRepeat()) {
      int[] bounds = parseCountedRepeat();
      min = bounds[0];
      max = bounds[1];
    } else {
      return atom;
    }
    if (isAssertion(atom)) {
      throw error("quantifier at offset " + quantStart + " follows an assertion, which matches no text",
          "remove the quantifier");
    }
    boolean greedy = true;
    if (more() && peek() == '?') {
      greedy = false;
      pos++;
    }
    if (more() && (peek() == '*' || peek() == '+' || peek() == '?' || (peek() == '{' && isCountedRepeat()))) {
      throw error("nested quantifier '" + pattern.substring(quantStart, pos + 1) + "' at offset " + quantStart,
          "a single quantifier per atom; group the atom first, as (?:a*)*, if that is really meant");
    }
    return new RegexNode.Repeat(atom, min, max, greedy);
  }

  private static boolean isAssertion(RegexNode node) {
    return node instanceof RegexNode.LineStart || node instanceof RegexNode.LineEnd
        || node instanceof RegexNode.TextStart || node instanceof RegexNode.TextEnd
        || node instanceof RegexNode.WordBoundary || node instanceof RegexNode.Lookahead;
  }

  /** ECMAScript treats a '{' that does not start {n}, {n,} or {n,m} as a literal. */
  private boolean isCountedRepeat() {
    int i = pos + 1;
    int digits = 0;
    while (i < pattern.length() && Character.isDigit(pattern.charAt(i))) {
      i++;
      digits++;
    }
    if (digits == 0 || i >= pattern.length()) {
      return false;
    }
    if (pattern.charAt(i) == '}') {
      return true;
    }
    if (pattern.charAt(i) != ',') {
      return false;
    }
    i++;
    while (i < pattern.length() && Character.isDigit(pattern.charAt(i))) {
      i++;
    }
    return i < pattern.length() && pattern.charAt(i) == '}';
  }

  private int[] parseCountedRepeat() throws RegexSyntaxException {
    int start = pos;
    pos++; // '{'
    int min = parseBound(start);
    int max = min;
    if (peek() == ',') {
      pos++;
      max = peek() == '}' ? -1 : parseBound(start);
    }
    pos++; // '}'
    if (max != -1 && max < min) {
      throw error("repetition " + pattern.substring(start, pos) + " at offset " + start + " has its maximum below its minimum",
          "{min,max} with min <= max");
    }
    return new int[] {min, max};
  }

  private int parseBound(int start) throws RegexSyntaxException {
    int begin = pos;
    while (Character.isDigit(peek())) {
      pos++;
    }
    String digits = pattern.substring(begin, pos);
    if (digits.length() > 4 || Integer.parseInt(digits) > MAX_REPEAT) {
      throw error("repetition count " + digits + " at offset " + start + " is too large",
          "a count of at most " + MAX_REPEAT);
    }
    return Integer.parseInt(digits);
  }

  private RegexNode parseAtom() throws RegexSyntaxException {
    int start = pos;
    char c = next();
    switch (c) {
      case '(':
        return parseGroup(start);
      case '[':
        return parseClass(start);
      case '.':
        return new RegexNode.AnyChar(dotAll);
      case '^':
        return new RegexNode.LineStart(multiline);
      case '$':
        return new RegexNode.LineEnd(multiline, start);
      case '\\':
        return parseEscape(start);
      case '*':
      case '+':
      case '?':
        throw error("quantifier '" + c + "' at offset " + start + " has nothing to repeat",
            "an atom before it, or escape it as \\" + c);
      default:
        if (Character.isHighSurrogate(c) && more() && Character.isLowSurrogate(peek())) {
          return new RegexNode.Literal(Character.toCodePoint(c, next()), ignoreCase);
        }
        return new RegexNode.Literal(c, ignoreCase);
    }
  }

  private RegexNode parseGroup(int start) throws RegexSyntaxException {
    boolean savedI = ignoreCase;
    boolean savedM = multiline;
    boolean savedS = dotAll;
    RegexNode node = parseGroupBody(start);
    if (!(node instanceof RegexNode.Flags)) {
      // Options set inside a group end with it; a bare (?i) holds until its enclosing group ends.
      ignoreCase = savedI;
      multiline = savedM;
      dotAll = savedS;
    }
    return node;
  }

  private RegexNode parseGroupBody(int start) throws RegexSyntaxException {
    {
      if (!more()) {
        throw error("unterminated group at offset " + start, "a closing ')'");
      }
      if (peek() != '?') {
        int index = ++captures;
        groupNames.add(new GroupName(start, null, 0));
        RegexNode body = parseAlternation();
        expectClose(start);
        return new RegexNode.Group(body, index, "");
      }
      pos++; // '?'
      if (!more()) {
        throw error("unterminated group at offset " + start, "a closing ')'");
      }
      char kind = next();
      switch (kind) {
        case ':': {
          RegexNode body = parseAlternation();
          expectClose(start);
          return new RegexNode.Group(body, 0, "");
        }
        case '=': {
          RegexNode body = parseAlternation();
          expectClose(start);
          return new RegexNode.Lookahead(body);
        }
        case '!':
          throw unsupported("negative lookahead (?!", start);
        case '>':
          throw unsupported("atomic group (?>", start);
        case '(':
          throw unsupported("conditional group (?(", start);
        case '#': {
          int close = pattern.indexOf(')', pos);
          if (close < 0) {
            throw error("unterminated comment (?# at offset " + start, "a closing ')'");
          }
          pos = close + 1;
          return new RegexNode.Empty();
        }
        case '<': {
          if (more() && (peek() == '=' || peek() == '!')) {
            throw unsupported("lookbehind (?<" + peek(), start);
          }
          return namedGroup(start, '>');
        }
        case '\'':
          return namedGroup(start, '\'');
        case 'P':
          if (more() && peek() == '<') {
            pos++;
            return namedGroup(start, '>');
          }
          throw error("unknown group construct (?P at offset " + start, "(?P<name>…)");
        default:
          pos--;
          return parseFlags(start);
      }
    }
  }

  private RegexNode namedGroup(int start, char terminator) throws RegexSyntaxException {
    int nameStart = pos;
    while (more() && (Character.isLetterOrDigit(peek()) || peek() == '_')) {
      pos++;
    }
    String name = pattern.substring(nameStart, pos);
    boolean digits = !name.isEmpty() && name.chars().allMatch(c -> c >= '0' && c <= '9');
    if (!more() || peek() != terminator || name.isEmpty() || (Character.isDigit(name.charAt(0)) && !digits)) {
      throw error("malformed group name at offset " + start,
          "(?<name>…) with a name of letters, digits and _ that does not begin with a digit, or (?<number>…)");
    }
    pos++;
    if (digits) {
      int number = name.length() > 4 ? Integer.MAX_VALUE : Integer.parseInt(name);
      if (number == 0 || number > MAX_GROUP_NUMBER) {
        throw error("group number " + name + " at offset " + start + (number == 0 ? " is the whole match" : " is too large"),
            "a group number from 1 to " + MAX_GROUP_NUMBER);
      }
      groupNames.add(new GroupName(start, null, number));
    } else {
      groupNames.add(new GroupName(start, name, 0));
    }
    int index = ++captures;
    RegexNode body = parseAlternation();
    expectClose(start);
    return new RegexNode.Group(body, index, "");
  }

  /** {@code (?imsx-imsx)} or {@code (?imsx-imsx:…)}. */
  private RegexNode parseFlags(int start) throws RegexSyntaxException {
    StringBuilder flags = new StringBuilder();
    boolean negative = false;
    boolean i = ignoreCase;
    boolean m = multiline;
    boolean s = dotAll;
    while (more()) {
      char c = next();
      switch (c) {
        case 'i':
          i = !negative;
          flags.append(c);
          break;
        case 'm':
          m = !negative;
          flags.append(c);
          break;
        case 's':
          s = !negative;
          flags.append(c);
          break;
        case '-':
          if (negative) {
            throw error("malformed inline options at offset " + start, "(?flags-flags) with flags among i, m, s");
          }
          negative = true;
          flags.append(c);
          break;
        case ')':
          if (flags.length() == 0 || flags.charAt(flags.length() - 1) == '-') {
            throw error("malformed inline options at offset " + start, "(?flags) with flags among i, m, s");
          }
          // The flags hold until the end of the enclosing group: the caller restores them there.
          ignoreCase = i;
          multiline = m;
          dotAll = s;
          return new RegexNode.Flags(flags.toString());
        case ':': {
          if (flags.length() == 0 || flags.charAt(flags.length() - 1) == '-') {
            throw error("malformed inline options at offset " + start, "(?flags:…) with flags among i, m, s");
          }
          ignoreCase = i;
          multiline = m;
          dotAll = s;
          RegexNode body = parseAlternation();
          expectClose(start);
          return new RegexNode.Group(body, 0, flags.toString());
        }
        case 'x':
        case 'n':
          throw error("inline option '" + c + "' at offset " + start + " is not supported",
              "only the options i, m and s");
        default:
          throw error("unknown group construct '(?" + c + "' at offset " + start,
              "(?:…), (?=…), (?<name>…) or inline options among i, m, s");
      }
    }
    throw error("unterminated group at offset " + start, "a closing ')'");
  }

  private void expectClose(int start) throws RegexSyntaxException {
    if (!more() || peek() != ')') {
      throw error("unterminated group at offset " + start, "a closing ')'");
    }
    pos++;
  }

  private RegexNode parseEscape(int start) throws RegexSyntaxException {
    if (!more()) {
      throw error("trailing backslash at offset " + start, "an escaped character after '\\'");
    }
    char c = next();
    switch (c) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 's':
      case 'S':
        // \d, \w and \s hold both cases already; their negations must not be folded.
        return new RegexNode.CharClass(classEscape(c), false);
      case 'b':
        return new RegexNode.WordBoundary(false);
      case 'B':
        return new RegexNode.WordBoundary(true);
      case 'A':
        return new RegexNode.TextStart();
      case 'z':
        return new RegexNode.TextEnd();
      case 'Z':
        // \Z is $ without the multiline option.
        return new RegexNode.LineEnd(false, start);
      case 'G':
        throw unsupported("\\G anchor", start);
      case 'k':
        throw unsupported("named back-reference \\k", start);
      case 'p':
      case 'P':
        throw error("Unicode property escape \\" + c + " at offset " + start
            + " is not allowed in ECMAScript patterns", "an explicit character class such as [a-z]");
      default:
        if (c >= '1' && c <= '9') {
          throw unsupported("back-reference \\" + c, start);
        }
        return new RegexNode.Literal(escapedCodePoint(c, start), ignoreCase);
    }
  }

  /** The code point of a single-character escape, outside or inside a class. */
  private int escapedCodePoint(char c, int start) throws RegexSyntaxException {
    switch (c) {
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'f':
        return '\f';
      case 'v':
        return 0x0B;
      case 'e':
        return 0x1B;
      case 'a':
        return 0x07;
      case '0':
        if (more() && peek() >= '0' && peek() <= '7') {
          throw error("octal escape at offset " + start + " is ambiguous", "\\xHH or \\uHHHH");
        }
        return 0;
      case 'x':
        return hex(2, start);
      case 'u':
        return hex(4, start);
      case 'c': {
        if (!more() || !Character.isLetter(peek()) || peek() > 'z') {
          throw error("malformed control escape at offset " + start, "\\c followed by a letter A-Z");
        }
        return Character.toUpperCase(next()) - '@';
      }
      default:
        if (Character.isLetterOrDigit(c)) {
          throw error("unknown escape \\" + c + " at offset " + start,
              "a known escape (\\d \\w \\s \\b \\n \\t \\xHH \\uHHHH …) or an escaped punctuation character");
        }
        return c;
    }
  }

  private int hex(int digits, int start) throws RegexSyntaxException {
    if (pos + digits > pattern.length()) {
      throw error("truncated hex escape at offset " + start, digits + " hex digits");
    }
    int value = 0;
    for (int i = 0; i < digits; i++) {
      int d = Character.digit(pattern.charAt(pos + i), 16);
      if (d < 0) {
        throw error("malformed hex escape at offset " + start, digits + " hex digits");
      }
      value = value * 16 + d;
    }
    pos += digits;
    return value;
  }

  private static int[] classEscape(char c) {
    int[] base;
    switch (Character.toLowerCase(c)) {
      case 'd':
        base = new int[] {'0', '9'};
        break;
      case 'w':
        base = new int[] {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'};
        break;
      default:
        // .NET's ECMAScript \s: [ \f\n\r\t\v].
        base = new int[] {'\t', '\r', ' ', ' '};
        break;
    }
    return Character.isUpperCase(c) ? CharRanges.negate(base) : base;
  }

  private RegexNode parseClass(int start) throws RegexSyntaxException {
    boolean negated = false;
    if (more() && peek() == '^') {
      negated = true;
      pos++;
    }
    if (more() && peek() == ']') {
      throw error("']' right after '[' at offset " + start + " is ambiguous (an empty class in JavaScript, a literal in .NET)",
          "escape it as \\]");
    }
    CharRanges ranges = new CharRanges();
    while (true) {
      if (!more()) {
        throw error("unterminated character class at offset " + start, "a closing ']'");
      }
      char c = next();
      if (c == ']') {
        break;
      }
      int lo;
      if (c == '\\') {
        if (!more()) {
          throw error("unterminated character class at offset " + start, "a closing ']'");
        }
        char e = next();
        if ("dDwWsS".indexOf(e) >= 0) {
          ranges.addAll(classEscape(e));
          continue;
        }
        if (e == 'b') {
          lo = '\b';
        } else if (e == 'p' || e == 'P') {
          throw error("Unicode property escape \\" + e + " at offset " + (pos - 2)
              + " is not allowed in ECMAScript patterns", "explicit ranges such as a-z");
        } else {
          lo = escapedCodePoint(e, pos - 2);
        }
      } else if (c == '[' && more() && peek() == ':') {
        throw error("POSIX class '[:' at offset " + (pos - 1) + " is not ECMAScript syntax", "explicit ranges, or escape '[' as \\[");
      } else if (Character.isHighSurrogate(c) && more() && Character.isLowSurrogate(peek())) {
        lo = Character.toCodePoint(c, next());
      } else {
        lo = c;
      }
      if (more() && peek() == '-' && pos + 1 < pattern.length() && pattern.charAt(pos + 1) != ']') {
        pos++; // '-'
        char h = next();
        int hi;
        if (h == '\\') {
          if (!more()) {
            throw error("unterminated character class at offset " + start, "a closing ']'");
          }
          char e = next();
          if ("dDwWsS".indexOf(e) >= 0) {
            throw error("range ending in a class escape \\" + e + " at offset " + (pos - 2), "a single character as the end of a range");
          }
          hi = e == 'b' ? '\b' : escapedCodePoint(e, pos - 2);
        } else if (Character.isHighSurrogate(h) && more() && Character.isLowSurrogate(peek())) {
          hi = Character.toCodePoint(h, next());
        } else {
          hi = h;
        }
        if (hi < lo) {
          throw error("range out of order in character class at offset " + start, "a range lo-hi with lo <= hi");
        }
        ranges.add(lo, hi);
      } else {
        ranges.add(lo, lo);
      }
    }
    int[] result = ranges.toArray();
    if (negated) {
      // Case-insensitive [^a] excludes a and A: fold the listed characters first, then negate.
      int[] positive = ignoreCase ? CaseOrbits.fold(new RegexNode.CharClass(result, true)) : result;
      return new RegexNode.CharClass(CharRanges.negate(positive), false);
    }
    return new RegexNode.CharClass(result, ignoreCase);
  }

  private RegexSyntaxException unsupported(String construct, int offset) {
    return error(construct + " at offset " + offset + " is not supported: it needs backtracking, which is not linear in the input",
        "a pattern without it (lookahead is accepted only as a leading conjunction (?=…)(?=…))");
  }

  private RegexSyntaxException error(String what, String expected) {
    return new RegexSyntaxException(String.format(Locale.ROOT, "%s; expected %s", what, expected));
  }

  private boolean more() {
    return pos < pattern.length();
  }

  private char peek() {
    return pos < pattern.length() ? pattern.charAt(pos) : '\0';
  }

  private char next() {
    return pattern.charAt(pos++);
  }
}
