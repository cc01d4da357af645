package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Replays every vector file: each request through the prefiltered evaluator and the plain ordered one,
 * which must agree with each other and with the expected decision.
 */
class VectorTest {

  static Stream<Vectors.Vector> vectors() throws Exception {
    List<Vectors.Vector> all = new ArrayList<>();
    all.addAll(Vectors.load("microsoft.jsonl"));
    all.addAll(Vectors.load("features.jsonl"));
    return all.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("vectors")
  void evaluateRequestThenDecisionIsAsExpected(Vectors.Vector vector) throws Exception {
    CompiledRules rules = Vectors.rules(vector.rules());
    HttpRequest request = Vectors.request(vector.request());
    Map<String, Object> expect = vector.expect();
    if ("error".equals(expect.get("decision"))) {
      assertThatThrownBy(() -> rules.evaluate(request))
          .isInstanceOf(RequestException.class)
          .hasMessageContaining((String) expect.get("error"));
      return;
    }
    Decision decision = rules.evaluate(request);
    assertThat(rules.evaluateSequentially(request)).as("prefiltered and sequential agree").isEqualTo(decision);
    Map<String, Object> actual = Vectors.fields(decision);
    for (Map.Entry<String, Object> e : expect.entrySet()) {
      if (e.getKey().equals("responseHeaders")) {
        continue;
      }
      assertThat(actual.get(e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
    }
    if (expect.containsKey("responseHeaders")) {
      List<Header> headers = rules.evaluateResponse(request, Vectors.response(vector.request()));
      @SuppressWarnings("unchecked")
      List<Header> expected = Vectors.headers((List<Object>) expect.get("responseHeaders"));
      assertThat(headers).containsExactlyElementsOf(expected);
    }
  }
}
