package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The yes/no decision {@link CompiledPattern#matches} (a {@link MatchShortcut}, or a search with lazy
 * quantifiers and no captures) must equal RE2's answer for the translated pattern, {@code match(input) !=
 * null}, on every input: a differential test over random patterns and inputs, plus the shapes by name.
 */
class DecisionShortcutTest {
  /** Pieces that build the shortcut shapes, and pieces that defeat them. */
  private static final String[] FRAGMENTS = {
    ".*", ".+", "(.*)", "(.+)", "^", "$", "\\z", "\\A", "admin", "ADMIN", "k", "s", "i", "GET", "(GET|HEAD|POST)",
    "(a|ab|)", "^$", "x?", "[a-z]+", "\\d*", "(?i)", "(?s)", "(?m)", "(?i:Ab)", "\\n", "\\b", "a{0,3}", ".", "(?:.*)", "é",
    "\u212A", "ſ", "İ", "^.*$", "(?=.*admin)", "(?=.*(GET|x))",
  };
  /** Lookahead conjunctions, which must come first. */
  private static final String[] CONJUNCTIONS = {"(?=.*admin)(?=.*k)", "^(?=.*GET)(?=.*s)", "(?=.*(a|b))(?=.*x$)", "(?=.*[a-z]+)"};
  /** Input pieces: newlines where they matter, case orbits (Kelvin sign, long s, dotted and dotless i). */
  private static final String[] INPUT_PIECES = {
    "", "admin", "Admin", "ADMİN", "admın", "\n", "x", "GET", "get", "Head", "post", "k", "K", "\u212A", "s", "S", "ſ",
    "ab", "a", "123", "é", "É", "\r",
  };

  @Test
  void randomPatternsThenDecisionEqualsRe2SearchOnEveryInput() throws RegexSyntaxException {
    Random random = new Random(20261128L);
    Map<String, Integer> shapes = new HashMap<>();
    int compared = 0;
    for (int round = 0; round < 3000; round++) {
      StringBuilder source = new StringBuilder();
      if (random.nextInt(8) == 0) {
        source.append(CONJUNCTIONS[random.nextInt(CONJUNCTIONS.length)]).append(random.nextBoolean() ? ".*" : "");
      }
      for (int k = 1 + random.nextInt(4); k > 0; k--) {
        source.append(FRAGMENTS[random.nextInt(FRAGMENTS.length)]);
      }
      PatternSyntax syntax = random.nextInt(8) == 0 ? PatternSyntax.WILDCARD
          : random.nextInt(8) == 0 ? PatternSyntax.EXACT_MATCH : PatternSyntax.ECMA_SCRIPT;
      String text = syntax == PatternSyntax.ECMA_SCRIPT ? source.toString() : source.toString().replaceAll("[\\\\()|?{}]", "");
      CompiledPattern pattern;
      try {
        pattern = PatternCompiler.compile(text, syntax, random.nextBoolean());
      } catch (RegexSyntaxException e) {
        continue;
      }
      shapes.merge(pattern.decisionShape(), 1, Integer::sum);
      for (int i = 0; i < 30; i++) {
        String input = randomInput(random);
        assertThat(pattern.matches(input))
            .as("%s pattern '%s' (%s, shape %s) on input '%s'", syntax, text, pattern, pattern.decisionShape(),
                input.replace("\n", "\\n"))
            .isEqualTo(pattern.match(input) != null);
        compared++;
      }
    }
    assertThat(compared).isGreaterThan(50_000);
    // Every shortcut shape was drawn many times, and so was the plain search.
    assertThat(shapes).containsKeys("always", "one line, final newline allowed", "empty or a newline",
        "some character but a newline", "search", "conjunction");
    assertThat(shapes.keySet()).anyMatch(s -> s.startsWith("conjunction, "));
    assertThat(shapes.keySet()).anyMatch(s -> s.startsWith("contains"));
    assertThat(shapes.keySet()).anyMatch(s -> s.startsWith("starts with"));
    assertThat(shapes.keySet()).anyMatch(s -> s.startsWith("ends with"));
    assertThat(shapes.keySet()).anyMatch(s -> s.startsWith("equals"));
    assertThat(shapes.get("always")).isGreaterThan(100);
  }

  @ParameterizedTest(name = "{0} decides by {1}")
  @CsvSource(delimiterString = " => ", value = {
    ".* => always",
    "(.*) => always",
    "^.* => always",
    ".*$ => always",
    "^.*$ => one line, final newline allowed",
    "^(.*)\\z => one line",
    "^$ => empty or a newline",
    "\\A\\z => empty",
    ".+ => some character but a newline",
    "(?s).+ => search",
    "(?s:.+) => search",
    "x?.+ => some character but a newline",
    "admin => contains one of 1 literal",
    "^admin => starts with one of 1 literal",
    "\\.aspx$ => ends with one of 1 literal",
    "^(GET|HEAD|POST)$ => equals one of 3 literals",
    "(?m)^$ => search",
    "^admin/[a-z]+ => search",
    "(?=.*a)(?=.*b) => conjunction, 2 of 2 parts by shortcut",
    "(?=.*a)(?=.*b[a-z]) => conjunction, 1 of 2 parts by shortcut",
    "^(?=.*a)(?=.*b) => conjunction",
  })
  void knownShapesThenTheirShortcut(String pattern, String shape) throws RegexSyntaxException {
    assertThat(PatternCompiler.compile(pattern, PatternSyntax.ECMA_SCRIPT, true).decisionShape()).isEqualTo(shape);
  }

  @Test
  void wildcardStarAloneThenAlwaysMatches() throws RegexSyntaxException {
    CompiledPattern star = PatternCompiler.compile("*", PatternSyntax.WILDCARD, true);
    assertThat(star.alwaysMatches()).isTrue();
    assertThat(star.matches("any\nthing")).isTrue();
  }

  @Test
  void caseInsensitiveLiteralThenMatchesThroughTheCaseOrbitLikeRe2() throws RegexSyntaxException {
    CompiledPattern kelvin = PatternCompiler.compile("^kit$", PatternSyntax.ECMA_SCRIPT, true);
    assertThat(kelvin.decisionShape()).isEqualTo("equals one of 1 literal");
    for (String input : new String[] {"kit", "KIT", "\u212Ait", "kİt", "kıt", "kit\n", "kit\n\n", "kitt", "\nkit"}) {
      assertThat(kelvin.matches(input)).as(input).isEqualTo(kelvin.match(input) != null);
    }
    assertThat(kelvin.matches("\u212Ait")).isTrue();
    assertThat(kelvin.matches("kit\n\n")).isFalse();
  }

  @Test
  void dotPlusThenOnlyNewlinesDoNotMatch() throws RegexSyntaxException {
    CompiledPattern plus = PatternCompiler.compile(".+", PatternSyntax.ECMA_SCRIPT, false);
    assertThat(plus.matches("")).isFalse();
    assertThat(plus.matches("\n\n")).isFalse();
    assertThat(plus.matches("\n\r")).isTrue();
  }

  private static String randomInput(Random random) {
    StringBuilder input = new StringBuilder();
    for (int k = random.nextInt(5); k > 0; k--) {
      input.append(INPUT_PIECES[random.nextInt(INPUT_PIECES.length)]);
    }
    return input.toString();
  }
}
