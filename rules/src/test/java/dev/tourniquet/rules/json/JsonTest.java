package dev.tourniquet.rules.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The strict JSON reader and writer shared by the rule format and the servlet filter's files. */
class JsonTest {
  @Test
  void parseReadsObjectsArraysStringsIntegersAndLiterals() throws Exception {
    Object value = Json.parse("{\"a\": [1, -2, true, false, null, \"x\\u00e9\\n\"], \"b\": {}}");

    assertThat(value).isEqualTo(Map.of("a", java.util.Arrays.asList(1L, -2L, true, false, null, "xé\n"), "b", Map.of()));
  }

  @Test
  void writeThenParseGivesBackTheSameTree() throws Exception {
    Map<String, Object> tree = Map.of("k", List.of("quote \" backslash \\ tab \t control \u0001", 42L, Map.of("n", true)));

    assertThat(Json.parse(Json.write(tree))).isEqualTo(tree);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"a\": 1, \"a\": 2} | line 1, column 10: expected each key once but found duplicate key \"a\"",
      "[1, 2,] | expected a value but found ']'",
      "{\"a\": 1.5} | expected a whole number but found a fraction or exponent",
      "{\"a\": 1e3} | expected a whole number but found a fraction or exponent",
      "{\"a\": 01} | without leading zeros but found a leading zero",
      "{\"a\": 1} x | expected the end of the text but found 'x' after the value",
      "// c | expected a value but found '/'",
      "\"a | expected a closing double quote but found the end of the text",
      "{\"a\": 99999999999999999999} | fits in 64 bits (at most 18 digits) but found a number too large",
  })
  void parseRefusesWhatStrictJsonDoesNotAllow(String text, String message) {
    assertThatThrownBy(() -> Json.parse(text)).isInstanceOf(Json.SyntaxError.class).hasMessageContaining(message);
  }

  @Test
  void parseRefusesNestingDeeperThanTheLimit() {
    String deep = "[".repeat(Json.MAX_DEPTH + 2) + "]".repeat(Json.MAX_DEPTH + 2);

    assertThatThrownBy(() -> Json.parse(deep)).isInstanceOf(Json.SyntaxError.class).hasMessageContaining("expected at most 64 but found more than 64 levels of nesting");
  }
}
