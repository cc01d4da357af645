package dev.tourniquet.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

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
      "{\"a\": 1, \"a\": 2} | line 1, column 10: duplicate key \"a\"",
      "[1, 2,] | expected a value but found ']'",
      "{\"a\": 1.5} | expected an integer but found a fraction or exponent",
      "{\"a\": 1e3} | expected an integer but found a fraction or exponent",
      "{\"a\": 01} | without leading zeros",
      "{\"a\": 1} x | expected the end of the text but found 'x'",
      "// c | expected a value but found '/'",
      "\"a | expected a closing double quote",
      "{\"a\": 99999999999999999999} | fits in 64 bits",
  })
  void parseRefusesWhatStrictJsonDoesNotAllow(String text, String message) {
    assertThatThrownBy(() -> Json.parse(text)).isInstanceOf(Json.SyntaxError.class).hasMessageContaining(message);
  }

  @Test
  void parseRefusesNestingDeeperThanTheLimit() {
    String deep = "[".repeat(Json.MAX_DEPTH + 2) + "]".repeat(Json.MAX_DEPTH + 2);

    assertThatThrownBy(() -> Json.parse(deep)).isInstanceOf(Json.SyntaxError.class).hasMessageContaining("levels of nesting");
  }
}
