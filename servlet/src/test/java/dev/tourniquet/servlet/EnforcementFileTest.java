package dev.tourniquet.servlet;

import dev.tourniquet.rules.json.Json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.rules.RuleSet;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class EnforcementFileTest {
  @TempDir
  Path dir;

  static EnforcementFile everything() throws Exception {
    return new EnforcementFile(Instant.parse("2026-11-28T05:00:00Z"), List.of(
        new ActiveMitigation("M2", 3, Mode.AUDIT, RuleSet.EMPTY, Fixtures.csp(), List.of(), List.of()),
        new ActiveMitigation("M1", 1, Mode.ENFORCE, Fixtures.m1(), RuleSet.EMPTY,
            List.of(new DisabledEndpoint(PathPrefix.of("/ecp"), 503), new DisabledEndpoint(PathPrefix.of("/ews/exchange.asmx"), 404)),
            List.of(new AuthPolicy(PathPrefix.of("/owa"), true, false)))));
  }

  @Test
  void writeThenReadGivesBackTheSameFile() throws Exception {
    Path file = dir.resolve("enforcement.json");
    EnforcementFile original = everything();

    original.write(file);

    assertThat(EnforcementFile.read(file)).isEqualTo(original);
  }

  @Test
  void mitigationsAreSortedById() throws Exception {
    assertThat(everything().mitigations()).extracting(ActiveMitigation::id).containsExactly("M1", "M2");
  }

  @Test
  void writtenFileHasTheDocumentedShape() throws Exception {
    Object tree = Json.parse(everything().toJson());

    assertThat(tree).isInstanceOf(Map.class);
    Map<?, ?> root = (Map<?, ?>) tree;
    assertThat(List.<Object>copyOf(root.keySet())).containsExactly("format", "generated", "mitigations");
    assertThat(root.get("format")).isEqualTo("tourniquet-enforcement/1");
    Map<?, ?> m1 = (Map<?, ?>) ((List<?>) root.get("mitigations")).get(0);
    assertThat(List.<Object>copyOf(m1.keySet())).containsExactly("id", "revision", "mode", "requestRules", "disableEndpoints", "authPolicies");
    assertThat(m1.get("disableEndpoints")).isEqualTo(List.of(Map.of("pathPrefix", "/ecp", "status", 503L),
        Map.of("pathPrefix", "/ews/exchange.asmx", "status", 404L)));
  }

  @Test
  void disableEndpointWithoutStatusAnswers503() {
    EnforcementFile file = EnforcementFile.parse("""
        {"format": "tourniquet-enforcement/1", "generated": "2026-11-28T05:00:00Z",
         "mitigations": [{"id": "M3", "revision": 1, "mode": "enforce", "disableEndpoints": [{"pathPrefix": "/ecp"}]}]}
        """, "test");

    assertThat(file.mitigations().get(0).disableEndpoints()).containsExactly(new DisabledEndpoint(PathPrefix.of("/ecp"), 503));
  }

  @Test
  void writeLeavesNoTemporaryFileBehind() throws Exception {
    Path file = dir.resolve("enforcement.json");

    everything().write(file);
    Fixtures.file().write(file);

    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files).containsExactly(file);
    }
    assertThat(EnforcementFile.read(file).mitigations()).isEmpty();
  }

  @Test
  void writeRefusesRulesThatDoNotCompileAndKeepsTheOldFile() throws Exception {
    Path file = dir.resolve("enforcement.json");
    everything().write(file);
    RuleSet lookbehind = Fixtures.json("""
        {"rules": [{"name": "bad", "match": {"url": "(?<=x)y"}, "action": {"type": "AbortRequest"}}]}
        """);
    EnforcementFile bad = Fixtures.file(Fixtures.requestRules("M9", Mode.ENFORCE, lookbehind));

    assertThatThrownBy(() -> bad.write(file))
        .isInstanceOf(EnforcementFileException.class)
        .hasMessageContaining("mitigations[0] (M9).requestRules")
        .hasMessageContaining("bad");
    assertThat(EnforcementFile.read(file)).isEqualTo(everything());
  }

  @Test
  void writePrecompiledLeavesCompilingToTheFilterWhichStillRefusesRulesThatDoNotCompile() throws Exception {
    Path file = dir.resolve("enforcement.json");
    RuleSet lookbehind = Fixtures.json("""
        {"rules": [{"name": "bad", "match": {"url": "(?<=x)y"}, "action": {"type": "AbortRequest"}}]}
        """);
    EnforcementFile bad = Fixtures.file(Fixtures.requestRules("M9", Mode.ENFORCE, lookbehind));

    bad.writePrecompiled(file); // the caller vouched for rules it had not compiled: written as they are

    EnforcementFile read = EnforcementFile.read(file);
    assertThat(read).isEqualTo(bad);
    assertThatThrownBy(() -> Snapshot.compile(read, file.toString()))
        .isInstanceOf(EnforcementFileException.class)
        .hasMessageContaining("mitigations[0] (M9).requestRules");
  }

  @Test
  void readRefusesAFileOverTheSizeCapWithoutParsingIt() throws Exception {
    Path file = dir.resolve("huge.json");
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(EnforcementFile.MAX_BYTES + 1L);
    }

    assertThatThrownBy(() -> EnforcementFile.read(file))
        .isInstanceOf(EnforcementFileException.class)
        .hasMessageContaining("expected at most 16777216 bytes but found more");
  }

  @Test
  void readReportsEveryProblemNotOnlyTheFirst() {
    assertThatThrownBy(() -> EnforcementFile.parse("""
        {"format": "tourniquet-enforcement/1", "generated": "2026-11-28T05:00:00Z",
         "mitigations": [{"id": "M1", "revision": 0, "mode": "log"}]}
        """, "f.json"))
        .isInstanceOf(EnforcementFileException.class)
        .satisfies(e -> assertThat(((EnforcementFileException) e).problems()).containsExactly(
            "f.json: mitigations[0].revision: expected an integer from 1 to 2147483647 but found 0",
            "f.json: mitigations[0].mode: expected \"enforce\" or \"audit\" but found \"log\""));
  }

  @Test
  void readRefusesTextThatIsNotJsonNamingLineAndColumn() {
    assertThatThrownBy(() -> EnforcementFile.parse("{\n  \"format\": tourniquet}", "f.json"))
        .isInstanceOf(EnforcementFileException.class)
        .hasMessage("f.json: not valid JSON: line 2, column 13: expected a value but found 't'");
  }

  static Stream<Named<Map<?, ?>>> invalid() {
    return Vectors.lines("invalid-enforcement.jsonl").stream().map(l -> {
      try {
        Map<?, ?> v = (Map<?, ?>) Json.parse(l);
        return Named.of((String) v.get("name"), v);
      } catch (Json.SyntaxError e) {
        throw new IllegalStateException(l, e);
      }
    });
  }

  @ParameterizedTest
  @MethodSource("invalid")
  void readRefusesAnInvalidFileNamingThePath(Map<?, ?> vector) {
    String text = Json.write(vector.get("file"));

    assertThatThrownBy(() -> EnforcementFile.parse(text, "vector.json"))
        .isInstanceOf(EnforcementFileException.class)
        .hasMessageContaining("vector.json: " + vector.get("problem"));
  }

  @Test
  void constructorRefusesDuplicateIds() {
    ActiveMitigation a = Fixtures.disable("M1", Mode.ENFORCE, "/ecp", 503);

    assertThatThrownBy(() -> Fixtures.file(a, a))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("expected each mitigation id once but found \"M1\" twice");
  }

  @Test
  void writtenFileIsUtf8() throws Exception {
    Path file = dir.resolve("enforcement.json");
    Fixtures.file(Fixtures.disable("M1", Mode.ENFORCE, "/café", 503)).write(file);

    assertThat(Files.readString(file, StandardCharsets.UTF_8)).contains("\"/café\"");
  }
}
