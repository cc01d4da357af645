package dev.tourniquet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code tourniquet rules} contract: exit codes, output lines, and the shared vector files replayed through the CLI. */
class RulesCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path ROOT = Path.of(System.getProperty("tourniquet.repo.root", "..")).toAbsolutePath().normalize();
  private static final Path FIXTURES = ROOT.resolve("../shared/fixtures/microsoft").normalize();
  private static final Path RULES_RESOURCES = ROOT.resolve("rules/src/test/resources");

  @TempDir
  Path tmp;

  record Result(int code, String out, String err) {
    List<String> lines() {
      return out.lines().toList();
    }
  }

  static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
    return new Result(code, out.toString(), err.toString());
  }

  @Test
  void checkValidFixtureThenExitZeroWithSummary() {
    Result r = run("rules", "check", FIXTURES.resolve("eomt-cve-2021-26855-proxylogon.xml").toString());
    assertThat(r.code()).isZero();
    assertThat(r.out()).isEqualTo("eomt-cve-2021-26855-proxylogon.xml: valid: 2 inbound rules (0 global), 0 outbound rules, "
        + "0 preconditions\n");
  }

  @Test
  void checkInvalidRulesThenExitTwoWithOneLinePerProblem() throws IOException {
    Path file = tmp.resolve("bad.xml");
    Files.writeString(file, "<rewrite><rules>"
        + "<rule name=\"LB\"><match url=\"(?&lt;=x)y\"/><action type=\"AbortRequest\"/></rule>"
        + "<rule name=\"SV\"><match url=\".*\"/><conditions><add input=\"{NOPE}\" pattern=\"a\"/></conditions>"
        + "<action type=\"AbortRequest\"/></rule></rules></rewrite>");
    Result r = run("rules", "check", file.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.lines()).hasSize(2);
    assertThat(r.lines().get(0)).startsWith("bad.xml: rule \"LB\" <match url>:").contains("lookbehind").contains("expected");
    assertThat(r.lines().get(1)).startsWith("bad.xml: rule \"SV\", condition 1 input:").contains("unknown server variable {NOPE}");
  }

  @Test
  void checkMissingFileThenExitOneWithTheReason() {
    Result r = run("rules", "check", tmp.resolve("absent.xml").toString());
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).isEqualTo("tourniquet: no such file: " + tmp.resolve("absent.xml") + "\n");
  }

  @Test
  void evalSharedVectorsThenEveryDecisionMatches() throws IOException {
    for (String file : List.of("microsoft.jsonl", "features.jsonl")) {
      List<JsonNode> vectors = new ArrayList<>();
      for (String line : Files.readAllLines(RULES_RESOURCES.resolve("vectors").resolve(file), StandardCharsets.UTF_8)) {
        vectors.add(JSON.readTree(line));
      }
      // One eval run per rule file, with every request for it, as an operator would.
      Map<String, List<JsonNode>> byRules = new java.util.LinkedHashMap<>();
      for (JsonNode v : vectors) {
        byRules.computeIfAbsent(v.get("rules").textValue(), k -> new ArrayList<>()).add(v);
      }
      for (Map.Entry<String, List<JsonNode>> e : byRules.entrySet()) {
        String rules = e.getKey();
        Path rulesPath = rules.startsWith("shared:") ? FIXTURES.resolve(rules.substring(7))
            : RULES_RESOURCES.resolve("rules").resolve(rules);
        StringBuilder input = new StringBuilder();
        for (int i = 0; i < e.getValue().size(); i++) {
          ObjectNode request = ((ObjectNode) e.getValue().get(i).get("request")).deepCopy();
          ObjectNode line = JSON.createObjectNode().put("id", "v" + i);
          line.setAll(request);
          input.append(JSON.writeValueAsString(line)).append('\n');
        }
        Path requests = tmp.resolve(rules.replace(':', '_') + ".jsonl");
        Files.writeString(requests, input);
        Result r = run("rules", "eval", "--rules", rulesPath.toString(), "--requests", requests.toString());
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.lines();
        assertThat(lines).hasSameSizeAs(e.getValue());
        for (int i = 0; i < lines.size(); i++) {
          JsonNode expected = e.getValue().get(i).get("expect");
          JsonNode actual = JSON.readTree(lines.get(i));
          String name = e.getValue().get(i).get("name").textValue();
          assertThat(actual.get("id").textValue()).as(name).isEqualTo("v" + i);
          for (Iterator<Map.Entry<String, JsonNode>> it = expected.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals("error")) {
              assertThat(actual.get("error").textValue()).as(name).contains(field.getValue().textValue());
            } else if (field.getKey().equals("description") && field.getValue().textValue().isEmpty()) {
              assertThat(actual.has("description")).as(name).isFalse();
            } else {
              assertThat(actual.get(field.getKey())).as(name + ": " + field.getKey()).isEqualTo(field.getValue());
            }
          }
        }
      }
    }
  }

  @Test
  void evalMalformedLinesThenEachGetsAnErrorAndEvaluationGoesOn() throws IOException {
    List<JsonNode> out = eval(FIXTURES.resolve("eems-m1.1-cve-2022-41040.xml"), String.join("\n",
        "not json",
        "[1,2]",
        "{\"id\":\"u\",\"target\":\"/\",\"hedaers\":[]}",
        "{\"id\":\"h\",\"target\":\"/\",\"headers\":[[\"Cookie\"]]}",
        "{\"id\":\"m\",\"method\":\"G ET\",\"target\":\"/\"}",
        "{\"id\":\"p\",\"target\":\"/\",\"serverPort\":70000}",
        "{\"id\":7,\"target\":\"/autodiscover/autodiscover.json?@x/powershell\"}",
        ""));
    assertThat(out).hasSize(7);
    assertThat(out.get(0).get("error").textValue()).startsWith("line 1 is not valid JSON");
    assertThat(out.get(1).get("error").textValue()).contains("not a JSON object");
    assertThat(out.get(2).get("error").textValue()).contains("unknown field \"hedaers\"");
    assertThat(out.get(3).get("error").textValue()).contains("headers[0]").contains("[name, value] pair");
    assertThat(out.get(4).get("error").textValue()).contains("\"method\" is \"G ET\"");
    assertThat(out.get(5).get("error").textValue()).contains("serverPort");
    assertThat(out.get(6).get("id").intValue()).isEqualTo(7);
    assertThat(out.get(6).get("decision").textValue()).isEqualTo("abort");
    assertThat(out.subList(0, 6)).allSatisfy(n -> assertThat(n.get("decision").textValue()).isEqualTo("error"));
  }

  @Test
  void evalRequestWithAProtocolThatIsNotHttpThenAnErrorLineNamingIt() throws IOException {
    List<JsonNode> out = eval(RULES_RESOURCES.resolve("rules/features-protocol.xml"),
        "{\"id\":\"p\",\"target\":\"/\",\"protocol\":\"HTTP/1.1\\r\\nX: y\"}\n"
        + "{\"id\":\"q\",\"target\":\"/\",\"protocol\":\"HTTP/1.0\"}\n");

    assertThat(out).hasSize(2);
    assertThat(out.get(0).get("error").textValue()).contains("\"protocol\" is \"HTTP/1.1\\r\\nX: y\"")
        .contains("expected HTTP/ and a version, such as HTTP/1.1 (the default) or HTTP/1.0");
    assertThat(out.get(1).get("decision").textValue()).isEqualTo("respond");
    assertThat(out.get(1).get("status").intValue()).isEqualTo(426);
  }

  /** Runs {@code rules eval} on request lines, which must exit 0, and returns its output lines as JSON. */
  private List<JsonNode> eval(Path rules, String requestLines) throws IOException {
    Path requests = tmp.resolve("requests.jsonl");
    Files.writeString(requests, requestLines);
    Result r = run("rules", "eval", "--rules", rules.toString(), "--requests", requests.toString());
    assertThat(r.code()).as(r.err()).isZero();
    List<JsonNode> out = new ArrayList<>();
    for (String line : r.lines()) {
      out.add(JSON.readTree(line));
    }
    return out;
  }

  @Test
  void evalInvalidRulesThenExitTwoAndNoOutput() throws IOException {
    Path file = tmp.resolve("bad.json");
    Files.writeString(file, "{\"rules\":[{\"name\":\"x\"}]}");
    Result r = run("rules", "eval", "--rules", file.toString(), "--requests", file.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).contains("rules[0].match").contains("missing");
  }

  @Test
  void convertXmlThenJsonFormChecksAsTheSameRules() throws IOException {
    Result r = run("rules", "convert", FIXTURES.resolve("eomt-cve-2026-42897-owa-csp-outbound.xml").toString());
    assertThat(r.code()).isZero();
    Path json = tmp.resolve("csp.json");
    Files.writeString(json, r.out());
    Result check = run("rules", "check", json.toString());
    assertThat(check.code()).isZero();
    assertThat(check.out()).contains("1 outbound rule, 1 precondition");
  }
}
