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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The differential test: every request vector of the rules module ({@code microsoft.jsonl},
 * {@code features.jsonl}) whose rule set the nginx enforcer accepts (njs mode) is sent, as raw bytes, to
 * a real nginx enforcing that rule set, and nginx's decision must be the rule engine's:
 *
 * <ul>
 *   <li>{@code abort}: the connection closes with no response at all;
 *   <li>{@code respond}: the status, and the description as the body when there is one;
 *   <li>{@code redirect}: the status and the {@code Location};
 *   <li>{@code allow}: the backend answered.
 * </ul>
 *
 * A vector whose rule set is refused is skipped, and the reason is counted in the summary printed after
 * the run. The test nginx is plain HTTP on a random port and sees 127.0.0.1 as the client, so the client
 * address is carried in a header that nginx's realip module turns into {@code $remote_addr}; a vector
 * whose expected decision depends on {@code {HTTPS}} or {@code {SERVER_PORT}}, which this nginx cannot
 * present as the vector says, is skipped (the rule engine decides which: it evaluates the request as
 * written and as this nginx sees it).
 *
 * <p>Requests the rule engine refuses to evaluate (the {@code error} vectors) are replayed against every
 * accepted rule set that is active: nginx must not let them reach the backend.
 */
class NginxVectorTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String REMOTE_ADDR_HEADER = "X-Tq-Test-Remote-Addr";

  @TempDir static Path dir;
  static RealNginx nginx;
  static NginxEnforcer enforcer;

  /** Rule file to the reason nginx refuses it, or empty when accepted. */
  private static final Map<String, Optional<String>> ACCEPTANCE = new ConcurrentHashMap<>();
  /** Outcome label ("accepted and matched", "refused: …", "skipped: …") to vector count, for the summary. */
  private static final Map<String, Integer> SUMMARY = new TreeMap<>();

  record Vector(String file, int line, String rules, String name, JsonNode request, JsonNode expect) {
    @Override
    public String toString() {
      return file + ":" + line + " " + name;
    }
  }

  @BeforeAll
  static void startNginx() throws Exception {
    nginx = new RealNginx(dir.resolve("nginx"),
        "set_real_ip_from 127.0.0.1; real_ip_header " + REMOTE_ADDR_HEADER + ";");
    enforcer = new NginxEnforcer("vectors", nginx.settings(true));
  }

  @AfterAll
  static void stopNginxAndPrintSummary() throws Exception {
    try {
      enforcer.converge(List.of());
    } finally {
      nginx.close();
    }
    StringBuilder out = new StringBuilder("nginx differential test summary (vectors per outcome):\n");
    synchronized (SUMMARY) {
      SUMMARY.forEach((k, v) -> out.append(String.format(Locale.ROOT, "%4d  %s%n", v, k)));
    }
    System.out.println(out);
  }

  static Stream<Vector> vectors() throws IOException {
    List<Vector> all = new ArrayList<>();
    all.addAll(load("microsoft.jsonl"));
    all.addAll(load("features.jsonl"));
    return all.stream();
  }

  static Stream<Vector> errorVectors() throws IOException {
    return vectors().filter(v -> v.expect().path("decision").asText().equals("error"));
  }

  private static List<Vector> load(String file) throws IOException {
    Path path = TestMitigations.repoRoot().resolve("rules/src/test/resources/vectors").resolve(file);
    List<String> lines = Files.readAllLines(path, StandardCharsets.UTF_8);
    List<Vector> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).isBlank()) {
        continue;
      }
      JsonNode m = JSON.readTree(lines.get(i));
      out.add(new Vector(file, i + 1, m.get("rules").asText(), m.get("name").asText(), m.get("request"), m.get("expect")));
    }
    return out;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("vectors")
  void sendVectorToNginxEnforcingItsRulesThenNginxDecidesAsTheRuleEngine(Vector vector) throws Exception {
    String decision = vector.expect().path("decision").asText();
    Assumptions.assumeFalse(decision.equals("error"), "error vectors are replayed by the test below");
    ActiveMitigation mitigation = mitigation(vector.rules());
    Optional<String> refused = ACCEPTANCE.computeIfAbsent(vector.rules(), k -> enforcer.refusal(mitigation));
    if (refused.isPresent()) {
      count("refused (rule set " + vector.rules() + "): " + shorten(refused.get()));
      Assumptions.abort("rule set refused for nginx: " + refused.get());
    }
    CompiledRules rules = RuleCompiler.compile(rulesOf(mitigation));
    Decision expected = rules.evaluate(request(vector.request(), false));
    Decision asSeen = rules.evaluate(request(vector.request(), true));
    if (!same(expected, asSeen)) {
      count("skipped: the decision depends on {HTTPS} or {SERVER_PORT}, which the test nginx cannot present");
      Assumptions.abort("decided " + expected + " as written but " + asSeen + " on the test nginx (https, port)");
    }
    enforcer.converge(List.of(mitigation));

    RealNginx.Outcome outcome = send(vector.request());

    switch (decision) {
      case "abort" -> assertThat(outcome.aborted()).as("connection closed without a response; got %s", outcome).isTrue();
      case "allow" -> assertThat(outcome.fromBackend()).as("the backend answered; got %s", outcome).isTrue();
      case "respond" -> {
        assertThat(outcome.aborted()).as("a response; got an abort").isFalse();
        assertThat(outcome.status()).as("status").isEqualTo(vector.expect().get("status").asInt());
        assertThat(outcome.fromBackend()).as("answered by nginx, not the backend").isFalse();
        String description = vector.expect().path("description").asText("");
        if (!description.isEmpty()) {
          assertThat(outcome.body()).as("body").isEqualTo(description);
        }
      }
      case "redirect" -> {
        assertThat(outcome.status()).as("status").isEqualTo(vector.expect().get("status").asInt());
        assertThat(outcome.headers().get("location")).as("Location").isEqualTo(vector.expect().get("location").asText());
      }
      default -> throw new AssertionError("a rule set with a " + decision + " decision should have been refused");
    }
    count("accepted and decided as the rule engine: " + decision);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("errorVectors")
  void sendRequestTheRuleEngineCannotEvaluateThenNginxDoesNotLetItThrough(Vector vector) throws Exception {
    ActiveMitigation m1 = mitigation("shared:eems-m1.1-cve-2022-41040.xml");
    enforcer.converge(List.of(m1));
    int suggested;
    try {
      RuleCompiler.compile(rulesOf(m1)).evaluate(request(vector.request(), true));
      throw new AssertionError("expected the rule engine to refuse " + vector.request());
    } catch (RequestException e) {
      suggested = e.suggestedStatus();
    }

    RealNginx.Outcome outcome = send(vector.request());

    assertThat(outcome.fromBackend()).as("the backend must not see it; got %s", outcome).isFalse();
    assertThat(outcome.aborted() || outcome.status() >= 400 && outcome.status() < 500)
        .as("a 4xx or an abort; got %s", outcome).isTrue();
    count("error vector (engine suggests " + suggested + "), nginx answered "
        + (outcome.aborted() ? "abort" : Integer.toString(outcome.status())));
  }

  // -----------------------------------------------------------------------------------------------------

  private static final Map<String, ActiveMitigation> MITIGATIONS = new ConcurrentHashMap<>();

  /** The vector's rule file as a mitigation with one request-rules action (its inbound rules). */
  private static ActiveMitigation mitigation(String rulesName) {
    return MITIGATIONS.computeIfAbsent(rulesName, name -> {
      RuleSet all = TestMitigations.read(TestMitigations.ruleFile(name));
      List<Action> actions = new ArrayList<>();
      if (!all.globalRules().isEmpty() || !all.rules().isEmpty()) {
        actions.add(new Action.RequestRules(new RuleSet(all.globalRules(), all.rules(), List.of(), List.of()), Optional.empty()));
      }
      if (!all.outboundRules().isEmpty()) {
        actions.add(new Action.ResponseRules(new RuleSet(List.of(), List.of(), all.preConditions(), all.outboundRules()),
            Optional.empty()));
      }
      String id = "V-" + name.replaceAll("[^A-Za-z0-9]+", "-").replaceAll("^-|-$", "");
      return TestMitigations.enforce(id.length() > 64 ? id.substring(0, 64) : id, actions.toArray(Action[]::new));
    });
  }

  private static RuleSet rulesOf(ActiveMitigation m) {
    return m.mitigation().actions().stream()
        .filter(a -> a instanceof Action.RequestRules)
        .map(a -> ((Action.RequestRules) a).rules())
        .findFirst()
        .orElse(RuleSet.EMPTY);
  }

  /**
   * The vector's request as written, or as the test nginx sees it: plain HTTP on its own port, with the
   * headers {@link #send} adds.
   */
  private static HttpRequest request(JsonNode r, boolean asSeenByNginx) {
    List<Header> headers = new ArrayList<>();
    boolean host = false;
    for (JsonNode pair : r.path("headers")) {
      headers.add(new Header(pair.get(0).asText(), pair.get(1).asText()));
      host |= pair.get(0).asText().equalsIgnoreCase("Host");
    }
    String remoteAddr = r.path("remoteAddr").asText("127.0.0.1");
    boolean https = r.path("https").asBoolean(false);
    int port = r.has("serverPort") ? r.get("serverPort").asInt() : https ? 443 : 80;
    if (!asSeenByNginx) {
      return new HttpRequest(r.path("method").asText("GET"), r.get("target").asText(), headers, remoteAddr, https, port);
    }
    headers.add(new Header(REMOTE_ADDR_HEADER, remoteAddr));
    if (!host) {
      headers.add(new Header("Host", "localhost"));
    }
    headers.add(new Header("Connection", "close"));
    return new HttpRequest(r.path("method").asText("GET"), r.get("target").asText(), headers, remoteAddr, false, nginx.port);
  }

  private static RealNginx.Outcome send(JsonNode r) throws IOException {
    List<String[]> headers = new ArrayList<>();
    for (JsonNode pair : r.path("headers")) {
      headers.add(new String[] {pair.get(0).asText(), pair.get(1).asText()});
    }
    headers.add(new String[] {REMOTE_ADDR_HEADER, r.path("remoteAddr").asText("127.0.0.1")});
    return nginx.send(r.path("method").asText("GET"), r.get("target").asText(), headers);
  }

  private static boolean same(Decision a, Decision b) {
    if (!a.kind().equals(b.kind())) {
      return false;
    }
    if (a instanceof Decision.Respond x && b instanceof Decision.Respond y) {
      return x.status() == y.status() && x.description().equals(y.description());
    }
    if (a instanceof Decision.Redirect x && b instanceof Decision.Redirect y) {
      return x.status() == y.status() && x.location().equals(y.location());
    }
    return true;
  }

  private static void count(String label) {
    synchronized (SUMMARY) {
      SUMMARY.merge(label, 1, Integer::sum);
    }
  }

  private static String shorten(String reason) {
    return reason.length() <= 240 ? reason : reason.substring(0, 240) + "…";
  }
}
