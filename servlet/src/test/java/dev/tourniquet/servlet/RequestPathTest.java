package dev.tourniquet.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.rules.RequestException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class RequestPathTest {
  static Stream<Named<String[]>> vectors() {
    return Vectors.lines("request-paths.txt").stream().map(l -> Named.of(l, l.split(" -> ", 2)));
  }

  @ParameterizedTest
  @MethodSource("vectors")
  void requestPathDecodesOrRefusesAsTheVectorSays(String[] vector) {
    String raw = vector[0];
    String expected = vector[1];
    if (expected.startsWith("refused: ")) {
      assertThatThrownBy(() -> RequestPath.of(raw))
          .isInstanceOf(RequestException.class)
          .hasMessageContaining(expected.substring("refused: ".length()))
          .satisfies(e -> assertThat(((RequestException) e).suggestedStatus()).isEqualTo(400));
    } else {
      assertThat(RequestPath.of(raw)).isEqualTo(expected);
    }
  }
}
