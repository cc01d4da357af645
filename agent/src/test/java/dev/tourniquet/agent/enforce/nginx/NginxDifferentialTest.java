package dev.tourniquet.agent.enforce.nginx;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.rules.CompiledRules;
import dev.tourniquet.rules.Decision;
import dev.tourniquet.rules.Header;
import dev.tourniquet.rules.HttpRequest;
import dev.tourniquet.rules.RequestException;
import dev.tourniquet.rules.RuleCompiler;
import dev.tourniquet.rules.RuleSet;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replays requests against a real nginx running the rendered include (njs mode) and compares nginx's
 * decision with the expected one: the rules module's vector files (the expectation written in each
 * vector), and this module's {@code nginx/differential.xml} (the expectation computed by the rules
 * engine itself for every request). Abort means the connection closed with no response; respond and
 * redirect mean nginx answered that status (and location) itself; allow means the backend answered.
 */
class NginxDifferentialTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;
  static RealNginx nginx;
  static NginxEnforcer enforcer;

  @BeforeAll
  static void startNginx() throws Exception {
    nginx = new RealNginx(dir.resolve("nginx"), "");
    enforcer = new NginxEnforcer("web-nginx", nginx.settings(true));
  }

  @AfterAll
  static void stopNginx() throws Exception {
    nginx.close();
  }

  /** One vector of the rules module: the request and the expected decision. */
  private record Vector(String file, int line, String rules, String name, JsonNode request, JsonNode expect) {}

  @Test
  void everyAcceptedMicrosoftAndFeatureVectorGetsTheExpectedDecisionFromNginx() throws Exception {
    Map<String, List<Vector>> byRules = new LinkedHashMap<>();
    for (String file : List.of("microsoft.jsonl", "features.jsonl")) {
      List<String> lines = Files.readAllLines(TestMitigations.repoRoot().resolve("rules/src/test/resources/vectors").resolve(file));
      for (int i = 0; i < lines.size(); i++) {
        if (!lines.get(i).isBlank()) {
          JsonNode v = JSON.readTree(lines.get(i));
          byRules.computeIfAbsent(v.get("rules").asText(), k -> new ArrayList<>())
              .add(new Vector(file, i + 1, v.get("rules").asText(), v.get("name").asText(), v.get("request"), v.get("expect")));
        }
      }
    }
    Map<String, String> refused = new TreeMap<>();
    Map<String, String> skipped = new TreeMap<>();
    List<String> mismatches = new ArrayList<>();
    int compared = 0;
    int bodies = 0;
    for (Map.Entry<String, List<Vector>> entry : byRules.entrySet()) {
      RuleSet rules = TestMitigations.read(TestMitigations.ruleFile(entry.getKey()));
      ActiveMitigation mitigation;
      try {
        mitigation = TestMitigations.enforce("VECTORS", new Action.RequestRules(rules, Optional.empty()));
      } catch (IllegalArgumentException e) {
        refused.put(entry.getKey() + " (" + entry.getValue().size() + " vectors)", "not a request-rules action: " + e.getMessage());
        continue;
      }
      Optional<String> refusal = enforcer.refusal(mitigation);
      if (refusal.isPresent()) {
        refused.put(entry.getKey() + " (" + entry.getValue().size() + " vectors)", refusal.get());
        continue;
      }
      enforcer.converge(List.of(mitigation));
      CompiledRules engine = RuleCompiler.compile(rules);
      String ruleText = Files.readString(TestMitigations.ruleFile(entry.getKey())).toUpperCase(Locale.ROOT);
      for (Vector v : entry.getValue()) {
        Optional<String> skip = unreproducible(v, ruleText);
        String expected;
        if (skip.isPresent()) {
          // The vector's own expectation is for a request nginx cannot receive here; the rules engine decides
          // the request nginx does receive (plain HTTP from 127.0.0.1 on the test port).
          skipped.put(v.file() + ":" + v.line() + " " + v.name(), skip.get() + "; compared with the rules engine");
          expected = engineDecision(engine, v.request());
        } else {
          expected = expected(v.expect());
        }
        RealNginx.Outcome outcome = send(v.request());
        String actual = describe(outcome);
        compared++;
        if (!expected.equals(actual)) {
          mismatches.add(v.file() + ":" + v.line() + " " + v.name() + ": expected " + expected + " but nginx gave " + actual);
        } else if (skip.isEmpty() && !v.expect().path("description").asText("").isEmpty()) {
          bodies++;
          if (!outcome.body().equals(v.expect().get("description").asText())) {
            mismatches.add(v.file() + ":" + v.line() + " " + v.name() + ": expected the body "
                + v.expect().get("description") + " but nginx sent \"" + outcome.body() + "\"");
          }
        }
      }
    }
    enforcer.converge(List.of());
    System.out.printf(Locale.ROOT, "nginx differential: %d vectors compared (%d of them with the rules engine's decision "
        + "for the request as the test nginx receives it), %d rule files refused; %d response bodies compared%n", compared, skipped.size(), refused.size(), bodies);
    refused.forEach((k, why) -> System.out.println("  refused " + k + ": " + why));
    skipped.forEach((k, why) -> System.out.println("  engine-compared " + k + ": " + why));
    assertThat(mismatches).isEmpty();
    assertThat(refused).doesNotContainKey("shared:eems-m1.1-cve-2022-41040.xml (17 vectors)");
    assertThat(compared).isGreaterThanOrEqualTo(20);
  }

  @Test
  void nginxDecidesEveryDifferentialRequestAsTheRulesEngineDoes() throws Exception {
    Path resources = TestMitigations.repoRoot().resolve("agent/src/test/resources/nginx");
    RuleSet rules = TestMitigations.read(resources.resolve("differential.xml"));
    CompiledRules engine = RuleCompiler.compile(rules);
    ActiveMitigation mitigation = TestMitigations.rules("DIFF", rules);
    assertThat(enforcer.refusal(mitigation)).isEmpty();
    enforcer.converge(List.of(mitigation));
    List<String> mismatches = new ArrayList<>();
    Map<String, Integer> decisions = new TreeMap<>();
    int compared = 0;
    for (String line : Files.readAllLines(resources.resolve("differential-requests.txt"), StandardCharsets.UTF_8)) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      String[] parts = line.split(" \\| ");
      String[] requestLine = parts[0].split(" ");
      List<Header> headers = new ArrayList<>();
      headers.add(new Header("Host", "localhost"));
      List<String[]> wire = new ArrayList<>();
      for (int i = 1; i < parts.length; i++) {
        int colon = parts[i].indexOf(':');
        headers.add(new Header(parts[i].substring(0, colon), parts[i].substring(colon + 1).strip()));
        wire.add(new String[] {parts[i].substring(0, colon), parts[i].substring(colon + 1).strip()});
      }
      String expected;
      String expectedBody = "";
      try {
        Decision decision = engine.evaluate(new HttpRequest(requestLine[0], requestLine[1], HttpRequest.HTTP_1_1, headers, "127.0.0.1", false, nginx.port));
        expected = describe(decision);
        if (decision instanceof Decision.Respond r) {
          expectedBody = r.description();
        }
      } catch (RequestException e) {
        expected = "status " + e.suggestedStatus();
      }
      RealNginx.Outcome outcome = nginx.send(requestLine[0], requestLine[1], wire);
      String actual = describe(outcome);
      if (!expectedBody.isEmpty()) {
        expected += " body " + expectedBody;
        actual += " body " + outcome.body();
      }
      decisions.merge(expected.replaceFirst(" (location|body) .*", ""), 1, Integer::sum);
      compared++;
      if (!expected.equals(actual)) {
        mismatches.add(line + ": the rules engine decides " + expected + " but nginx gave " + actual);
      }
    }
    enforcer.converge(List.of());
    System.out.printf(Locale.ROOT, "nginx differential: %d requests compared with the rules engine, decisions %s%n",
        compared, decisions);
    assertThat(mismatches).isEmpty();
    assertThat(decisions.keySet()).as("the requests reach every kind of decision")
        .contains("abort", "allow", "status 403", "status 302", "status 400");
  }

  @Test
  void headerSpelledWithAnUnderscoreIsMatchedWhenNginxPassesItOn(@TempDir Path own) throws Exception {
    // With underscores_in_headers on, nginx passes X_Token to the backend, where CGI, PHP and IIS read it as
    // HTTP_X_TOKEN; the rules engine reads it as {HTTP_X_TOKEN} too.
    RuleSet rules = TestMitigations.read(TestMitigations.repoRoot().resolve("agent/src/test/resources/nginx/differential.xml"));
    CompiledRules engine = RuleCompiler.compile(rules);
    List<Header> headers = List.of(new Header("Host", "localhost"), new Header("X_Token", "evil"));
    assertThat(describe(engine.evaluate(new HttpRequest("GET", "/token", HttpRequest.HTTP_1_1, headers, "127.0.0.1", false, 80))))
        .isEqualTo("status 503");
    try (RealNginx underscores = new RealNginx(own.resolve("nginx"), "underscores_in_headers on;")) {
      NginxEnforcer enforcer2 = new NginxEnforcer("web-nginx", underscores.settings(true));
      enforcer2.converge(List.of(TestMitigations.rules("DIFF", rules)));

      RealNginx.Outcome outcome = underscores.send("GET", "/token", List.<String[]>of(new String[] {"X_Token", "evil"}));

      assertThat(describe(outcome)).isEqualTo("status 503");
      enforcer2.converge(List.of());
    }
  }

  /** Why the test nginx cannot reproduce a vector's request (plain HTTP from 127.0.0.1 on its own port). */
  private static Optional<String> unreproducible(Vector v, String ruleText) {
    JsonNode r = v.request();
    if (ruleText.contains("{HTTPS}") && r.path("https").asBoolean(false)) {
      return Optional.of("the rule reads {HTTPS} and the request came over TLS");
    }
    if (ruleText.contains("{SERVER_PORT}")) {
      return Optional.of("the rule reads {SERVER_PORT}");
    }
    if (ruleText.contains("{REMOTE_ADDR}") && !"127.0.0.1".equals(r.path("remoteAddr").asText("127.0.0.1"))) {
      return Optional.of("the rule reads {REMOTE_ADDR} and the request came from " + r.path("remoteAddr").asText());
    }
    return Optional.empty();
  }

  private static String engineDecision(CompiledRules engine, JsonNode request) {
    List<Header> headers = new ArrayList<>();
    boolean host = false;
    for (JsonNode h : request.path("headers")) {
      headers.add(new Header(h.get(0).asText(), h.get(1).asText()));
      host |= h.get(0).asText().equalsIgnoreCase("Host");
    }
    if (!host) {
      headers.add(new Header("Host", "localhost"));
    }
    try {
      return describe(engine.evaluate(new HttpRequest(request.path("method").asText("GET"), request.get("target").asText(),
          request.path("protocol").asText(HttpRequest.HTTP_1_1), headers, "127.0.0.1", false, nginx.port)));
    } catch (RequestException e) {
      return "status " + e.suggestedStatus();
    }
  }

  private static RealNginx.Outcome send(JsonNode request) throws IOException {
    List<String[]> headers = new ArrayList<>();
    for (JsonNode h : request.path("headers")) {
      headers.add(new String[] {h.get(0).asText(), h.get(1).asText()});
    }
    return nginx.send(request.path("method").asText("GET"), request.get("target").asText(), headers);
  }

  private static String expected(JsonNode expect) {
    switch (expect.get("decision").asText()) {
      case "abort":
        return "abort";
      case "allow":
        return "allow";
      case "respond":
        return "status " + expect.get("status").asInt();
      case "redirect":
        return "status " + expect.get("status").asInt() + " location " + expect.get("location").asText();
      case "error":
        return "status 400";
      default:
        return expect.toString();
    }
  }

  private static String describe(Decision d) {
    if (d instanceof Decision.Abort) {
      return "abort";
    }
    if (d instanceof Decision.Allow) {
      return "allow";
    }
    if (d instanceof Decision.Respond r) {
      return "status " + r.status();
    }
    if (d instanceof Decision.Redirect r) {
      return "status " + r.status() + " location " + r.location();
    }
    return d.toString();
  }

  private static String describe(RealNginx.Outcome o) {
    if (o.aborted()) {
      return "abort";
    }
    if (o.fromBackend()) {
      return "allow";
    }
    String location = o.headers().get("location");
    return "status " + o.status() + (location == null ? "" : " location " + location);
  }
}
