package dev.tourniquet.feed.mitigation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.rules.Problem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Replays the vector files of {@code src/test/resources/mitigation} (see its README): invalid documents
 * with every problem they must report, version comparisons, and applicability of the example documents.
 */
class MitigationVectorsTest {
  static final Path REPO = Path.of(System.getProperty("tourniquet.repo.root", "..")).toAbsolutePath().normalize();
  static final Path VECTORS = REPO.resolve("feed/src/test/resources/mitigation");
  static final Path EXAMPLES = REPO.resolve("examples/mitigations");
  private static final ObjectMapper JSON = new ObjectMapper();

  static Stream<Arguments> invalidDocuments() throws IOException {
    List<Arguments> cases = new ArrayList<>();
    for (String line : Files.readAllLines(VECTORS.resolve("invalid.jsonl"), StandardCharsets.UTF_8)) {
      if (!line.isBlank()) {
        JsonNode vector = JSON.readTree(line);
        cases.add(Arguments.of(vector.get("case").asText(), vector));
      }
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidDocuments")
  void documentVectorReportsExactlyTheExpectedProblems(String name, JsonNode vector) throws Exception {
    byte[] document;
    if (vector.has("text")) {
      document = vector.get("text").asText().getBytes(StandardCharsets.UTF_8);
    } else if (vector.has("base64")) {
      document = Base64.getDecoder().decode(vector.get("base64").asText());
    } else {
      JsonNode base = JSON.readTree(VECTORS.resolve("base.json").toFile());
      document = JSON.writeValueAsBytes(mergePatch(base, vector.get("patch")));
    }
    List<JsonNode> expected = new ArrayList<>();
    vector.get("problems").forEach(expected::add);

    if (expected.isEmpty()) {
      assertThat(MitigationParser.parse(document)).isNotNull();
      return;
    }
    MitigationException e = catchThrowableOfType(MitigationException.class, () -> MitigationParser.parse(document));
    assertThat(e).as("expected the document to be refused").isNotNull();
    List<Problem> problems = e.problems();
    assertThat(problems).as("problems: %s", problems).hasSize(expected.size());
    for (int i = 0; i < expected.size(); i++) {
      assertThat(problems.get(i).location()).as("location of %s", problems.get(i)).isEqualTo(expected.get(i).get(0).asText());
      assertThat(problems.get(i).message()).contains(expected.get(i).get(1).asText()).doesNotContain("\n");
    }
  }

  /** RFC 7396, plus: an object patching an array patches the elements its keys name by index. */
  static JsonNode mergePatch(JsonNode target, JsonNode patch) {
    if (patch.isObject() && target != null && target.isArray()) {
      ArrayNode result = ((ArrayNode) target).deepCopy();
      for (Map.Entry<String, JsonNode> e : patch.properties()) {
        int index = Integer.parseInt(e.getKey());
        result.set(index, mergePatch(result.get(index), e.getValue()));
      }
      return result;
    }
    if (!patch.isObject()) {
      return patch;
    }
    ObjectNode result = target != null && target.isObject() ? ((ObjectNode) target).deepCopy() : JSON.createObjectNode();
    for (Map.Entry<String, JsonNode> e : patch.properties()) {
      if (e.getValue().isNull()) {
        result.remove(e.getKey());
      } else {
        result.set(e.getKey(), mergePatch(result.get(e.getKey()), e.getValue()));
      }
    }
    return result;
  }

  static Stream<Arguments> versionLines() throws IOException {
    return Files.readAllLines(VECTORS.resolve("versions.txt"), StandardCharsets.UTF_8).stream()
        .filter(l -> !l.isBlank() && !l.startsWith("#"))
        .map(l -> Arguments.of(l));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("versionLines")
  void versionVectorHolds(String line) {
    if (line.startsWith("!")) {
      String[] parts = line.substring(2).split(" \\| ", 2);
      assertThatThrownBy(() -> Version.parse(parts[0]))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("expected a version of 1 to 10 dot-separated numbers")
          .hasMessageContaining(parts[1]);
      return;
    }
    String[] parts = line.split(" ");
    Version a = Version.parse(parts[0]);
    Version b = Version.parse(parts[2]);
    if (parts[1].equals("<")) {
      assertThat(a).isLessThan(b);
      assertThat(b).isGreaterThan(a);
      assertThat(a).isNotEqualTo(b);
    } else {
      assertThat(a).isEqualByComparingTo(b).isEqualTo(b).hasSameHashCodeAs(b);
    }
    assertThat(a).hasToString(parts[0]);
  }

  static Stream<Arguments> applicabilityLines() throws IOException {
    return Files.readAllLines(VECTORS.resolve("applicability.txt"), StandardCharsets.UTF_8).stream()
        .filter(l -> !l.isBlank() && !l.startsWith("#"))
        .map(l -> Arguments.of(l));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("applicabilityLines")
  void exampleApplicabilityVectorHolds(String line) throws Exception {
    String[] parts = line.split(" ");
    Mitigation m = MitigationParser.parse(Files.readAllBytes(EXAMPLES.resolve(parts[0])));
    Version version = Version.parse(parts[1]);

    assertThat(m.applies(version)).as("applies").isEqualTo(parts[2].equals("affected"));
    assertThat(m.isFixedIn(version)).as("isFixedIn").isEqualTo(parts[2].equals("fixed"));
  }
}
