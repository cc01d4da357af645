package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.agent.AgentState.AppliedRef;
import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.servlet.ServletEnforcer;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.MitigationWriter;
import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.rules.RuleJson;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An agent upgraded over a {@code state.json} that holds a document it cannot read: M1.1, applied by an
 * earlier version whose writer put {@code "preCondition": null} in an outbound rule, which this version
 * refuses (in the feed's copy too). Two real servlet targets: {@code app} enforces M1.1 and M2.1 as the
 * earlier version left it, {@code web} enforces M2.1. The agent starts, {@code app} is held for M1 (its
 * enforcement file never rewritten with M1.1 dropped or altered, {@code state.json} keeps the document),
 * {@code web} converges as usual, the status says why, and the changes that drop M1.1 (a newer revision,
 * a block, a withdrawal) are made.
 */
class HeldTargetTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  AgentFixture fx;
  Path webFile;
  /** M1.1 as the earlier version recorded it in state.json and as the feed still serves it. */
  byte[] earlierM1;
  Agent agent;
  Server app;

  @BeforeEach
  void setUp() throws Exception {
    fx = new AgentFixture(dir);
    webFile = dir.resolve("enforcement/web.json");
    configure("");
    Mitigation m1 = csp("M1", 1);
    Mitigation m2 = Mitigations.proxyLogon("M2", 1);
    earlierM1 = withNullPreCondition(MitigationWriter.write(m1));
    // What the earlier version left: the targets' files, and state.json with M1.1 as it recorded it.
    new ServletEnforcer("app", fx.enforcementFile, fx.stateDir.resolve("targets/app"), fx.clock, Duration.ZERO)
        .converge(List.of(new ActiveMitigation(m1, false), new ActiveMitigation(m2, false)));
    new ServletEnforcer("web", webFile, fx.stateDir.resolve("targets/web"), fx.clock, Duration.ZERO).converge(List.of(new ActiveMitigation(m2, false)));
    Files.createDirectories(fx.stateDir);
    AppliedRef r1 = new AppliedRef(1, false);
    new StateStore(fx.stateDir).save(new AgentState(LocalPolicy.DEFAULT,
        Map.of("app", Map.of("M1", r1, "M2", r1), "web", Map.of("M2", r1)),
        Map.of("M1.1", earlierM1, "M2.1", MitigationWriter.write(m2)), List.of(), List.of(), Map.of()));
    fx.feed.putRaw(FeedRepository.mitigationTarget("M1"), earlierM1).put(m2).publish();
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      if (agent != null) {
        agent.close();
      }
    } finally {
      if (app != null) {
        app.stop();
      }
    }
  }

  /** The fixture's configuration ({@code app} with these extra keys) and a second servlet target, web. */
  private void configure(String appExtra) throws IOException {
    fx.config("directory: " + fx.feed.published(), appExtra);
    Files.writeString(fx.configFile, Files.readString(fx.configFile)
        + "  - {name: web, type: servlet, enforcementFile: " + webFile + "}\n");
  }

  /** A response-rules mitigation: one outbound rule, without a precondition, that sets a CSP header. */
  private static Mitigation csp(String id, int revision) {
    return Mitigations.requestRules(id, revision, Mitigations.EXCHANGE, Mitigation.Mode.ENFORCE, Optional.empty(),
        new Action.ResponseRules(RuleJson.read("{\"outboundRules\":[{\"name\":\"csp\",\"match\":{\"serverVariable\":"
            + "\"RESPONSE_Content_Security_Policy\",\"pattern\":\".*\"},\"action\":{\"type\":\"Rewrite\","
            + "\"value\":\"frame-ancestors 'none'\"}}]}", "test"), Optional.empty()));
  }

  /** A canonical document as earlier writers wrote it: every outbound rule with {@code "preCondition": null}. */
  private static byte[] withNullPreCondition(byte[] document) throws IOException {
    JsonNode root = JSON.readTree(document);
    root.findValues("outboundRules").forEach(rules -> rules.forEach(r -> ((ObjectNode) r).putNull("preCondition")));
    return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root);
  }

  private JsonNode stateJson() throws IOException {
    return JSON.readTree(fx.stateDir.resolve("state.json").toFile());
  }

  private String heldReasonStart() {
    return "held on app: " + fx.stateDir.resolve("state.json") + ": documents.M1.1: expected a mitigation document"
        + " that this agent version accepts but found: ";
  }

  @Test
  void agentStartsConvergesTheOtherTargetAndLeavesTheHeldOneAndItsRecordAsTheEarlierVersionLeftThem() throws Exception {
    byte[] appBefore = Files.readAllBytes(fx.enforcementFile);
    fx.feed.put(Mitigations.proxyLogon("M3", 1)).publish();
    agent = fx.open();

    AgentStatus status = agent.check();

    assertThat(AgentFixture.enforced(webFile)).containsExactly("M2.1", "M3.1");
    assertThat(Files.readAllBytes(fx.enforcementFile)).isEqualTo(appBefore);
    assertThat(stateJson().path("documents").path("M1.1").asText()).isEqualTo(new String(earlierM1, StandardCharsets.UTF_8));
    assertThat(stateJson().path("targets").path("app").path("M1").path("revision").asInt()).isEqualTo(1);
    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.FAILED);
    assertThat(m1.appliedId()).isEqualTo("M1.1");
    assertThat(m1.reason()).startsWith(heldReasonStart()).contains("preCondition: null")
        .contains("app keeps enforcing M1.1 as the agent version that applied it left it")
        .contains("kept revision M1.1: the feed's document is invalid");
    MitigationStatus m3 = AgentFixture.row(status, "M3");
    assertThat(m3.status()).isEqualTo(Status.FAILED);
    assertThat(m3.reason()).startsWith("waits on app: the set it would run keeps M1.1, whose document this agent version"
        + " cannot read, so it cannot be written; apply M3.1 waits until the feed publishes a revision of M1 this"
        + " version accepts, or M1 is blocked or removed; applied on 1 other target(s)");
    assertThat(AgentFixture.row(status, "M2").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.audit("M3.1", "intent")).containsExactly("apply web");
    // The admin API and tourniquet status serve the same rows (a fleet server takes Failed with its reason).
    assertThat(AgentFixture.row(StatusJson.read(StatusJson.write(agent.status())), "M1").reason()).startsWith(heldReasonStart());

    agent.close();
    agent = fx.open();
    agent.check();

    assertThat(Files.readAllBytes(fx.enforcementFile)).as("a restart leaves the held target as it is").isEqualTo(appBefore);
    assertThat(fx.audit("M3.1", "intent")).containsExactly("apply web");
  }

  @Test
  void newerRevisionTheFeedPublishesReplacesTheHeldOneAndTheChangesThatWaitedFollow() throws Exception {
    fx.feed.put(Mitigations.proxyLogon("M3", 1)).publish();
    agent = fx.open();
    agent.check();
    fx.feed.put(csp("M1", 2)).publish();

    AgentStatus status = agent.check();

    assertThat(fx.enforced()).containsExactly("M1.2", "M2.1", "M3.1");
    assertThat(AgentFixture.enforced(webFile)).containsExactly("M1.2", "M2.1", "M3.1");
    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.APPLIED);
    assertThat(m1.appliedId()).isEqualTo("M1.2");
    assertThat(m1.reason()).doesNotContain("held");
    assertThat(AgentFixture.row(status, "M3").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.audit("M1.2", "applied")).containsExactly("update app", "apply web");
    assertThat(stateJson().path("documents").has("M1.1")).isFalse();
  }

  @Test
  void operatorBlockRemovesTheHeldRevision() throws Exception {
    agent = fx.open();
    agent.check();

    AgentStatus status = agent.block("M1");

    assertThat(fx.enforced()).containsExactly("M2.1");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.BLOCKED);
    assertThat(fx.audit("M1.1", "removed")).containsExactly("remove app");
    assertThat(stateJson().path("documents").has("M1.1")).isFalse();
    assertThat(stateJson().path("targets").path("app").has("M1")).isFalse();
  }

  @Test
  void operatorRemovalRemovesTheHeldRevision() throws Exception {
    agent = fx.open();
    agent.check();

    AgentStatus status = agent.remove("M1");

    assertThat(fx.enforced()).containsExactly("M2.1");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.REMOVED);
    assertThat(stateJson().path("documents").has("M1.1")).isFalse();
  }

  @Test
  void feedWithdrawingTheHeldRevisionRemovesIt() throws Exception {
    agent = fx.open();
    agent.check();
    fx.feed.withdraw("M1").publish();

    AgentStatus status = agent.check();

    assertThat(fx.enforced()).containsExactly("M2.1");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.REMOVED);
  }

  @Test
  void fixedVersionKeepsTheHeldRevisionWhoseFixIsUnknownAndTheRemovalsThatWouldKeepItWait() throws Exception {
    byte[] appBefore = Files.readAllBytes(fx.enforcementFile);
    agent = fx.open();
    agent.check();
    fx.version(Mitigations.FIXED);

    AgentStatus status = agent.check();

    // Only the feed's M2 says which version fixes it; M1's document (the feed's too) cannot be read here.
    assertThat(AgentFixture.enforced(webFile)).isEmpty();
    assertThat(Files.readAllBytes(fx.enforcementFile)).isEqualTo(appBefore);
    assertThat(AgentFixture.row(status, "M1").reason()).startsWith(heldReasonStart());
    MitigationStatus m2 = AgentFixture.row(status, "M2");
    assertThat(m2.status()).isEqualTo(Status.FAILED);
    assertThat(m2.reason()).startsWith("removing waits (no longer applicable: version " + Mitigations.FIXED
        + " is fixed) on app: the set it would run keeps M1.1");
    assertThat(stateJson().path("targets").path("app").path("M2").path("revision").asInt()).isEqualTo(1);
  }

  @Test
  void replacementWhoseProbeFailsCannotBeRolledBackToTheUnreadableRevisionAndSaysSo() throws Exception {
    AtomicInteger health = new AtomicInteger(200);
    app = AgentFixture.startApp(fx.enforcementFile, new HttpServlet() {
      @Override
      protected void service(HttpServletRequest req, HttpServletResponse resp) {
        resp.setStatus(health.get());
      }
    });
    String probe = "http://127.0.0.1:" + AgentFixture.port(app) + "/health";
    configure(", healthProbe: {url: \"" + probe + "\", status: 200, timeout: 5s}");
    agent = fx.open();
    agent.check();
    fx.feed.put(csp("M1", 2)).publish();
    health.set(503);

    AgentStatus status = agent.check();

    assertThat(fx.enforced()).containsExactly("M1.2", "M2.1");
    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.FAILED);
    assertThat(m1.appliedId()).isEqualTo("M1.2");
    assertThat(m1.reason()).startsWith("failed: app: health probe " + probe + " answered 503, expected 200; not rolled"
        + " back: what ran before includes M1.1, whose document this agent version cannot read (")
        .contains("so it cannot be written again: check the target");
    assertThat(stateJson().path("targets").path("app").path("M1").path("revision").asInt()).isEqualTo(2);
    assertThat(fx.audit("M1.2", "failed")).containsExactly("update app");

    agent.check();

    assertThat(fx.audit("M1.2", "intent")).as("not made again").containsExactly("update app", "apply web");
  }
}
