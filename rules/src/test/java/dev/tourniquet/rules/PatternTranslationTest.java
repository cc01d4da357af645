package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The translation to RE2 keeps the meaning of ECMAScript patterns. The oracle is java.util.regex with
 * {@code UNIX_LINES}, a backtracking engine whose semantics on ASCII match .NET's ECMAScript mode for the
 * constructs generated here ({@code $} before a final newline, {@code .} not matching newline, lookahead).
 */
class PatternTranslationTest {
  private static final String[] ATOMS = {
    "a", "b", "c", "ab", "\\.", "x", "[abc]", "[^a]", "[a-c]", ".", "\\d", "\\w", "\\s", "\\n", "(a|b)", "(?:ab|c)",
    "(a)", "\\b", "1", "A",
  };
  private static final String[] QUANTIFIERS = {"", "", "", "*", "+", "?", "*?", "{2}", "{1,2}", "+?"};
  private static final String ALPHABET = "abcABx.1 \n";

  @Test
  void randomPatternsMatchExactlyWhatABacktrackingEngineMatches() throws Exception {
    Random random = new Random(20261128L);
    int compared = 0;
    for (int round = 0; round < 3000; round++) {
      String pattern = randomPattern(random);
      boolean ignoreCase = random.nextBoolean();
      CompiledPattern ours;
      try {
        ours = PatternCompiler.compile(pattern, PatternSyntax.ECMA_SCRIPT, ignoreCase);
      } catch (RegexSyntaxException e) {
        // Only the conjunction restrictions and a $ with more of the pattern after it may refuse a generated pattern.
        assertThat(e.getMessage()).as(pattern).containsAnyOf("conjunction", "newline");
        continue;
      }
      java.util.regex.Pattern oracle = java.util.regex.Pattern.compile(pattern,
          java.util.regex.Pattern.UNIX_LINES | (ignoreCase ? java.util.regex.Pattern.CASE_INSENSITIVE : 0));
      for (int i = 0; i < 20; i++) {
        String input = randomInput(random);
        java.util.regex.Matcher expected = oracle.matcher(input);
        boolean found = expected.find();
        CompiledPattern.Captures actual = ours.match(input);
        assertThat(actual != null).as("pattern %s ignoreCase %s input %s", pattern, ignoreCase, show(input)).isEqualTo(found);
        if (found && !(ours instanceof CompiledPattern.Conjunction)) {
          // RE2 and backtracking engines agree on leftmost-first submatches; $ leaves the final newline out.
          assertThat(actual.group(0)).as("group 0 of %s on %s", pattern, show(input)).isEqualTo(expected.group());
        }
        compared++;
      }
    }
    assertThat(compared).isGreaterThan(40_000);
  }

  private static String randomPattern(Random random) {
    StringBuilder p = new StringBuilder();
    if (random.nextInt(4) == 0) {
      if (random.nextBoolean()) {
        p.append('^');
      }
      int parts = 1 + random.nextInt(3);
      for (int i = 0; i < parts; i++) {
        p.append("(?=.*").append(sequence(random, 2)).append(')');
      }
      if (random.nextBoolean()) {
        p.append(".*").append(sequence(random, 1));
      }
      return p.toString();
    }
    if (random.nextInt(5) == 0) {
      p.append('^');
    }
    p.append(sequence(random, 1 + random.nextInt(4)));
    if (random.nextInt(3) == 0) {
      p.append(sequence(random, 1)).append('|').append(sequence(random, 2));
    }
    if (random.nextInt(4) == 0) {
      p.append('$');
      if (random.nextInt(3) == 0) {
        // More pattern after $: refused unless it matches only the empty string at the end.
        p.append(random.nextBoolean() ? "$" : sequence(random, 1));
      }
    }
    return p.toString();
  }

  private static String sequence(Random random, int atoms) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < atoms; i++) {
      String atom = ATOMS[random.nextInt(ATOMS.length)];
      s.append(atom);
      if (!atom.equals("\\b")) {
        s.append(QUANTIFIERS[random.nextInt(QUANTIFIERS.length)]);
      }
    }
    return s.toString();
  }

  private static String randomInput(Random random) {
    int length = random.nextInt(10);
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < length; i++) {
      s.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
    }
    return s.toString();
  }

  private static String show(String s) {
    return "'" + s.replace("\n", "\\n") + "'";
  }

  @ParameterizedTest(name = "{0} on {1} is {2}")
  @CsvSource(delimiter = '|', value = {
      "(?=.*autodiscover)(?=.*powershell)|/autodiscover/x/PowerShell|true",
      "(?=.*autodiscover)(?=.*powershell)|/powershell?x=autodiscover|true",
      "(?=.*autodiscover)(?=.*powershell)|/autodiscover/x|false",
      "^(?=a)(?=ab)abc|abc|true",
      "^(?=a)(?=b)|ab|false",
      "(?i)(?=.*ADMIN)(?=.*x)|admin-X|true",
  })
  void conjunctionIdiomMatchesLikeLookahead(String pattern, String input, boolean expected) throws Exception {
    CompiledPattern compiled = PatternCompiler.compile(pattern, PatternSyntax.ECMA_SCRIPT, true);
    assertThat(compiled).isInstanceOf(CompiledPattern.Conjunction.class);
    assertThat(compiled.match(input) != null).isEqualTo(expected);
  }

  @Test
  void conjunctionOverManyLinesStaysLinearAndFindsTheCommonLine() throws Exception {
    CompiledPattern compiled = PatternCompiler.compile("(?=.*alpha)(?=.*omega)", PatternSyntax.ECMA_SCRIPT, true);
    String manyLines = "alpha\n".repeat(20_000) + "omega\n".repeat(20_000);
    assertThat(compiled.match(manyLines)).isNull();
    assertThat(compiled.match(manyLines + "omega alpha")).isNotNull();
  }

  @Test
  @org.junit.jupiter.api.Timeout(60)
  void compileHugeCaseInsensitiveClassesThenCompilesWithoutRe2jFolding() throws Exception {
    // RE2/J's own CASE_INSENSITIVE folding of [\x{0}-\x{fffe}] runs for minutes; ours folds by orbit.
    CompiledPattern wide = PatternCompiler.compile("[\\x00-\\uFFFE]x", PatternSyntax.ECMA_SCRIPT, true);
    assertThat(wide.match("\u4e2dX")).isNotNull();
    CompiledPattern negated = PatternCompiler.compile("^[^k]$", PatternSyntax.ECMA_SCRIPT, true);
    assertThat(negated.match("K")).isNull();
    assertThat(negated.match("\u212A")).isNull();
    assertThat(negated.match("j")).isNotNull();
  }

  @Test
  void inlineCaseFlagsApplyUntilTheEndOfTheirGroup() throws Exception {
    CompiledPattern p = PatternCompiler.compile("a(?i)b(c(?-i)d)e", PatternSyntax.ECMA_SCRIPT, false);
    assertThat(p.match("aBCdE")).isNotNull();
    assertThat(p.match("ABCdE")).isNull();
    assertThat(p.match("aBCDE")).isNull();
  }

  @Test
  void wildcardQuestionMarkIsALiteralAsOnIis() throws Exception {
    CompiledPattern compiled = PatternCompiler.compile("a?c", PatternSyntax.WILDCARD, true);
    assertThat(compiled.match("abc")).isNull();
    assertThat(compiled.match("a?c")).isNotNull();
  }

  @Test
  void literalsAreExtractedFromTheRequiredPartOnly() throws Exception {
    assertThat(PatternCompiler.compile(".*autodiscover\\.json.*Powershell.*", PatternSyntax.ECMA_SCRIPT, true)
        .requiredLiterals()).containsExactly("autodiscover.json");
    assertThat(PatternCompiler.compile("(.*)X-BEResource=(.+)/(.+)~(.+)", PatternSyntax.ECMA_SCRIPT, true)
        .requiredLiterals()).containsExactly("x-beresource=");
    assertThat(PatternCompiler.compile("^(admin|setup)/", PatternSyntax.ECMA_SCRIPT, true)
        .requiredLiterals()).containsExactlyInAnyOrder("admin/", "setup/");
    assertThat(PatternCompiler.compile("a?b*", PatternSyntax.ECMA_SCRIPT, true).requiredLiterals()).isNull();
  }

  @Test
  void prefilterFoldsTheKelvinSignAsRe2Does() throws Exception {
    // U+212A KELVIN SIGN folds to k in RE2's case-insensitive matching; the prefilter must not skip it.
    CompiledRules rules = RuleCompiler.compile(RuleSets.read(
        "<rewrite><rules><rule name=\"k\"><match url=\"kelvin\"/><action type=\"AbortRequest\"/></rule></rules></rewrite>", "k"));
    HttpRequest request = HttpRequest.of("GET", "/\u212Aelvin", java.util.List.of());
    assertThat(rules.evaluate(request)).isEqualTo(new Decision.Abort("k"));
  }

  @Test
  void namedGroupsAreNumberedAfterTheUnnamedGroupsAsInDotNet() throws Exception {
    // .NET: "named capturing groups are always ordered last, after non-named capture groups".
    CompiledPattern.Captures m = PatternCompiler.compile("^(?<app>\\w+)/(\\d+)/(?'rest'.*)$", PatternSyntax.ECMA_SCRIPT, true)
        .match("owa/12/x");
    assertThat(m.count()).isEqualTo(4);
    assertThat(m.group(1)).isEqualTo("12");
    assertThat(m.group(2)).isEqualTo("owa");
    assertThat(m.group(3)).isEqualTo("x");
  }

  @Test
  void groupNamedWithDigitsTakesThatNumberAndNamedGroupsSkipIt() throws Exception {
    // (b) is 1, (?<2>a) is 2, so the first free number for (?<x>c) is 3.
    CompiledPattern compiled = PatternCompiler.compile("(?<2>a)(b)(?<x>c)", PatternSyntax.ECMA_SCRIPT, false);
    CompiledPattern.Captures m = compiled.match("abc");
    assertThat(compiled.groupCount()).isEqualTo(3);
    assertThat(m.group(1)).isEqualTo("b");
    assertThat(m.group(2)).isEqualTo("a");
    assertThat(m.group(3)).isEqualTo("c");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "(?<x>a)(?<x>b)|group name 'x' at offset 7 is used twice",
      "(a)(?<1>b)|group number 1 at offset 3 is already the number of another group",
      "(?<3>a)(b)|no group 2",
      "(?<0>a)|group number 0 at offset 0",
      "(?<1a>x)|malformed group name at offset 0",
  })
  void groupNamesThatWouldShareOrSkipNumbersAreRefused(String pattern, String message) {
    assertThatThrownBy(() -> PatternCompiler.compile(pattern, PatternSyntax.ECMA_SCRIPT, true))
        .isInstanceOf(RegexSyntaxException.class)
        .hasMessageContaining(message);
  }

  @Test
  void dollarBeforeAFinalNewlineLeavesTheNewlineOutOfTheCaptures() throws Exception {
    CompiledPattern.Captures m = PatternCompiler.compile("^(.*\\.cmd$)", PatternSyntax.ECMA_SCRIPT, true).match("run.cmd\n");
    assertThat(m.group(0)).isEqualTo("run.cmd");
    assertThat(m.group(1)).isEqualTo("run.cmd");
    CompiledPattern.Captures empty = PatternCompiler.compile("x(a|$)()", PatternSyntax.ECMA_SCRIPT, true).match("x\n");
    assertThat(empty.group(0)).isEqualTo("x");
    assertThat(empty.group(1)).isEmpty();
    assertThat(PatternCompiler.compile("(?=.*run)(?=.*cmd).*\\.cmd$", PatternSyntax.ECMA_SCRIPT, true).match("run.cmd\n").group(0))
        .isEqualTo("run.cmd");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"a$\\n", "a$\\z", "a$\\b", "a$^", "(?:a$|b)\\n", "(?:a$)+", "a$\\s*", "a$x?"})
  void dollarFollowedByMoreOfThePatternIsRefused(String pattern) {
    assertThatThrownBy(() -> PatternCompiler.compile(pattern, PatternSyntax.ECMA_SCRIPT, true))
        .isInstanceOf(RegexSyntaxException.class)
        .hasMessageContaining("'$' at offset")
        .hasMessageContaining("before a final newline");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"a$$", "(a$|b$)", "^(?:a|b$)$", "a$(?i)", "(a$)?", "a(?m)$\\n", "a$()"})
  void dollarWithNothingButAssertionsOfItsKindAfterItIsAccepted(String pattern) throws Exception {
    PatternCompiler.compile(pattern, PatternSyntax.ECMA_SCRIPT, true);
  }

  @Test
  void parseUnsupportedConstructThenMessageNamesItsOffset() {
    assertThatThrownBy(() -> EcmaRegexParser.parse("ab(?<!c)", true))
        .isInstanceOf(RegexSyntaxException.class)
        .hasMessageContaining("lookbehind (?<! at offset 2");
  }
}
