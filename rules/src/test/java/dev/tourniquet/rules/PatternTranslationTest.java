package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

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
        // Only the conjunction restrictions may refuse a generated pattern.
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
          // RE2 and backtracking engines agree on leftmost-first submatches; $ may consume the final newline.
          String group0 = actual.group(0);
          assertThat(group0.equals(expected.group()) || group0.equals(expected.group() + "\n"))
              .as("group 0 of %s on %s: %s vs %s", pattern, show(input), show(group0), show(expected.group())).isTrue();
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
  void parseUnsupportedConstructThenMessageNamesItsOffset() {
    assertThatThrownBy(() -> EcmaRegexParser.parse("ab(?<!c)", true))
        .isInstanceOf(RegexSyntaxException.class)
        .hasMessageContaining("lookbehind (?<! at offset 2");
  }
}
