package dev.tourniquet.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class PathPrefixTest {
  static Stream<Named<String[]>> vectors() {
    return Vectors.lines("prefix-matches.txt").stream().map(l -> Named.of(l, l.split(" ")));
  }

  @ParameterizedTest
  @MethodSource("vectors")
  void prefixMatchesOnSegmentBoundariesIgnoringCase(String[] vector) {
    assertThat(PathPrefix.of(vector[0]).matches(vector[1])).isEqualTo(Boolean.parseBoolean(vector[2]));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "owa | expected a path starting with '/' but found 'o'",
      "/owa/ | expected no trailing '/'",
      "/owa//x | found the segment ''",
      "/owa/../ecp | found the segment '..'",
      "/owa/./ecp | found the segment '.'",
      "/owa%2Fecp | expected a decoded path without %",
      "/owa\\ecp | found '\\' at offset 4",
      "/owa;x | found ';' at offset 4",
      "/owa?x | found '?' at offset 4",
  })
  void prefixThatIsNotANormalisedPathIsRefused(String value, String message) {
    assertThatThrownBy(() -> PathPrefix.of(value))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message)
        .hasMessageContaining(value);
  }
}
