package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tourniquet.agent.enforce.nginx.RealNginx;
import dev.tourniquet.agent.enforce.nginx.RealNginx.Outcome;
import dev.tourniquet.servlet.TourniquetFilter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 4's bar, end to end with real processes on one server.
 *
 * <p>A publisher signs M1 (Microsoft's EEMS rule for ProxyNotShell, from the shared fixture) into a feed
 * directory with the real {@code FeedRepository}. One agent, built as {@code tourniquet agent --config}
 * builds it (YAML file, {@link AgentConfig#load}, {@link Agent#builder}, {@link Agent#start}, with its
 * worker thread and local admin API), protects two targets: a real nginx (own prefix, free port, njs
 * module) proxying to a small HTTP app, and an embedded Jetty running the {@link TourniquetFilter}. The
 * test drives the agent only as an operator would, through the admin API ({@code tourniquet check},
 * {@code block}, {@code unblock}), and changes only the feed directory and the product's version file.
 *
 * <p>The scenario, in order: M1 is enforced on both targets within 5 s of the check, the ProxyNotShell
 * request (in its wire form, and percent-encoded as attackers did to slip past early rule revisions) is
 * aborted on both while Autodiscover and OWA pass; revision 2 replaces revision 1; withdrawing it removes
 * it; re-published, it is removed again once the fixed version is installed; re-applied, it is removed by
 * a block; unblocked, it survives a tampered timestamp and a tampered target unchanged, with the feed error
 * in the status; once the feed is repaired, revision 3 is applied. At every step the status and the audit
 * log give the reason.
 */
class EndToEndTest {
  /** The bar: protection within 5 s of a check; also the bound for the filter to reload after a removal. */
  private static final Duration WITHIN = Duration.ofSeconds(5);
  /** The ProxyNotShell request as attackers sent it (GTSC's write-up, Microsoft's advisory): SSRF via autodiscover. */
  private static final String PROXYNOTSHELL = Mitigations.PROXYNOTSHELL;
  /** The same request with {@code powershell} percent-encoded, which got past the rules before {@code UrlDecode}. */
  private static final String PROXYNOTSHELL_ENCODED =
      "/autodiscover/autodiscover.json?@evil.com/%70ower%53hell/?&Email=autodiscover/autodiscover.json%3F@evil.com";
  private static final String OWA_LOGON = "/owa/auth/logon.aspx?replaceCurrent=1&url=https%3a%2f%2fmail.contoso.com%2fowa%2f";

  @TempDir static Path dir;
  static TestFeed feed;
  static RealNginx nginx;
  static Server jetty;
  static int jettyPort;
  static Path versionFile;
  static Path enforcementFile;
  static Path stateDir;
  static Agent agent;
  static AdminClient admin;

  @BeforeAll
  static void startEverything() throws Exception {
    feed = new TestFeed(dir.resolve("publisher"), Clock.systemUTC());
    nginx = new RealNginx(Files.createDirectories(dir.resolve("nginx")), "");
    enforcementFile = dir.resolve("app/tourniquet.json");
    jetty = startJetty(enforcementFile);
    jettyPort = AgentFixture.port(jetty);

    // What an operator installs: the publisher's root, a version file, and the agent's configuration.
    Path trustedRoot = Files.copy(feed.trustedRoot(), dir.resolve("root.json"));
    versionFile = dir.resolve("exchange-version.txt");
    version(Mitigations.VULNERABLE);
    stateDir = dir.resolve("state");
    Path config = Files.writeString(dir.resolve("agent.yaml"), String.join("\n",
        "server: {name: mail01, labels: {site: paris}}",
        "product: {name: Microsoft-Exchange-Server, versionFile: " + versionFile + "}",
        "feed: {directory: " + feed.published() + ", trustedRoot: " + trustedRoot + "}",
        "stateDir: " + stateDir,
        "interval: 1h",
        "admin: {port: 0}",
        "targets:",
        "  - name: app",
        "    type: servlet",
        "    enforcementFile: " + enforcementFile,
        "    healthProbe: {url: 'http://127.0.0.1:" + jettyPort + "/owa/healthcheck.htm', status: 200, timeout: 5s}",
        "  - name: web",
        "    type: nginx",
        "    includeFile: " + nginx.include,
        "    configFile: " + nginx.config,
        "    njs: true",
        "    commandTimeout: 20s",
        "    healthProbe: {url: 'http://127.0.0.1:" + nginx.port + "/owa/healthcheck.htm', status: 200, timeout: 5s}",
        ""));
    // As AgentCommand does it.
    agent = Agent.builder(AgentConfig.load(config)).build();
    agent.start();
    admin = AdminClient.forStateDirectory(stateDir, Duration.ofSeconds(30));
  }

  @AfterAll
  static void stopEverything() throws Exception {
    try {
      if (agent != null) {
        agent.close();
      }
    } finally {
      try {
        if (jetty != null) {
          jetty.stop();
        }
      } finally {
        if (nginx != null) {
          nginx.close();
        }
      }
    }
  }

  @Test
  void m1IsEnforcedOnNginxAndJettyWithinFiveSecondsAndFollowsTheFeedThePatchTheBlockAndIgnoresTampering()
      throws Exception {
    AgentStatus empty = admin.post("check", null);
    assertThat(empty.feedHealth()).isEqualTo("ok");
    assertThat(empty.mitigations()).isEmpty();
    assertThat(answers(PROXYNOTSHELL)).as("before M1, the attack reaches the application on both")
        .allSatisfy(o -> assertThat(o.fromBackend()).isTrue());

    // Publish M1.1: enforced on both targets within 5 s of the check.
    feed.put(Mitigations.m1(1)).publish();
    long asked = System.nanoTime();
    AgentStatus applied = admin.post("check", null);
    long checked = System.nanoTime();
    awaitOnBoth(PROXYNOTSHELL, Outcome::aborted, "M1.1 to abort ProxyNotShell", asked);
    long enforced = System.nanoTime();
    System.out.printf(Locale.ROOT, "EndToEndTest: M1.1 enforced on nginx and Jetty %d ms after the check was asked"
        + " for (the check with the nginx reload took %d ms)%n", (enforced - asked) / 1_000_000, (checked - asked) / 1_000_000);
    assertThat(row(applied)).satisfies(m -> {
      assertThat(m.status()).isEqualTo(Status.APPLIED);
      assertThat(m.appliedId()).isEqualTo("M1.1");
      assertThat(m.reason()).isEqualTo("applies to version " + Mitigations.VULNERABLE);
    });
    assertProtected("M1.1");
    assertThat(audit("M1.1")).containsExactly(
        "apply app applied: applies to version " + Mitigations.VULNERABLE,
        "apply web applied: applies to version " + Mitigations.VULNERABLE);

    // Revision 2 replaces revision 1 on both.
    feed.put(Mitigations.m1(2, "Revision 2: the same rule, a clearer description.")).publish();
    AgentStatus updated = admin.post("check", null);
    assertThat(row(updated).appliedId()).isEqualTo("M1.2");
    assertThat(row(updated).status()).isEqualTo(Status.APPLIED);
    assertThat(row(updated).appliedRevision()).contains(2);
    awaitOnBoth(PROXYNOTSHELL, Outcome::aborted, "M1.2 to keep aborting ProxyNotShell", System.nanoTime());
    assertProtected("M1.2");
    assertThat(audit("M1.2")).containsExactly(
        "update app applied: new revision 2 replaces M1.1",
        "update web applied: new revision 2 replaces M1.1");

    // Withdrawn from the feed: removed from both.
    feed.withdraw("M1").publish();
    AgentStatus withdrawn = admin.post("check", null);
    assertThat(row(withdrawn).status()).isEqualTo(Status.REMOVED);
    assertThat(row(withdrawn).reason()).isEqualTo("withdrawn from the feed");
    assertThat(row(withdrawn).appliedRevision()).isEmpty();
    assertUnprotected();
    assertThat(audit("M1.2")).endsWith(
        "remove app removed: withdrawn from the feed",
        "remove web removed: withdrawn from the feed");

    // Published again, above the withdrawn revision (a revision never goes back, FeedRepository refuses M1.2), then
    // the fixed version is installed: removed from both by itself.
    feed.put(Mitigations.m1(3, "Revision 3: published again after the withdrawal.")).publish();
    assertThat(row(admin.post("check", null)).status()).isEqualTo(Status.APPLIED);
    awaitOnBoth(PROXYNOTSHELL, Outcome::aborted, "M1.3 to abort ProxyNotShell again", System.nanoTime());
    version(Mitigations.FIXED);
    AgentStatus patched = admin.post("check", null);
    assertThat(patched.version()).contains(Mitigations.FIXED);
    assertThat(row(patched).status()).isEqualTo(Status.REMOVED);
    assertThat(row(patched).reason()).isEqualTo("no longer applicable: version " + Mitigations.FIXED + " is fixed");
    assertUnprotected();
    assertThat(audit("M1.3")).endsWith(
        "remove app removed: no longer applicable: version " + Mitigations.FIXED + " is fixed",
        "remove web removed: no longer applicable: version " + Mitigations.FIXED + " is fixed");

    // Back on the vulnerable build it is applied again; an operator's block removes it from both.
    version(Mitigations.VULNERABLE);
    assertThat(row(admin.post("check", null)).status()).isEqualTo(Status.APPLIED);
    awaitOnBoth(PROXYNOTSHELL, Outcome::aborted, "M1.3 to abort ProxyNotShell once more", System.nanoTime());
    AgentStatus blocked = admin.post("block", "M1");
    assertThat(row(blocked).status()).isEqualTo(Status.BLOCKED);
    assertThat(row(blocked).reason()).isEqualTo("blocked by admin");
    assertUnprotected();
    assertThat(audit("M1")).containsExactly("block - done: operator command block M1");
    assertThat(audit("M1.3")).endsWith("remove app removed: blocked by admin", "remove web removed: blocked by admin");
    assertThat(row(admin.post("check", null)).status()).as("a check does not undo a block").isEqualTo(Status.BLOCKED);

    // Unblocked: applied again. Then a tampered feed changes nothing and the status says why.
    assertThat(row(admin.post("unblock", "M1")).status()).isEqualTo(Status.APPLIED);
    awaitOnBoth(PROXYNOTSHELL, Outcome::aborted, "M1.3 to abort ProxyNotShell after unblocking", System.nanoTime());
    long feedVersion = admin.status().feedVersion();
    feed.put(Mitigations.m1(4, "Revision 4, which the mirror tampers with.")).publish();
    byte[] include = Files.readAllBytes(nginx.include);
    byte[] enforcement = Files.readAllBytes(enforcementFile);
    List<String> auditBefore = audit("M1.3");

    Path timestamp = feed.published().resolve("timestamp.json");
    TestFeed.flipByte(timestamp);
    AgentStatus badMetadata = admin.post("check", null);
    assertThat(badMetadata.feedHealth()).startsWith("feed rejected, keeping the last verified feed (targets version "
        + feedVersion + "): ").contains("timestamp.json");
    assertThat(badMetadata.feedVersion()).isEqualTo(feedVersion);
    assertUnchanged(badMetadata, include, enforcement, auditBefore);

    TestFeed.flipByte(timestamp); // the timestamp is genuine again; now the new target is corrupt
    Path target = feed.publishedTarget("M1");
    TestFeed.flipByte(target);
    AgentStatus badTarget = admin.post("check", null);
    assertThat(badTarget.feedHealth()).startsWith("feed rejected, keeping the last verified feed (targets version "
        + feedVersion + "): ").contains(".M1.json: sha256 hash differs from the one listed in");
    assertThat(badTarget.feedVersion()).isEqualTo(feedVersion);
    assertUnchanged(badTarget, include, enforcement, auditBefore);

    // Repaired, the same signed revision 4 is accepted: the rejections were the tampering and nothing else.
    TestFeed.flipByte(target);
    AgentStatus repaired = admin.post("check", null);
    assertThat(repaired.feedHealth()).isEqualTo("ok");
    assertThat(repaired.feedVersion()).isGreaterThan(feedVersion);
    assertThat(row(repaired).appliedId()).isEqualTo("M1.4");
    assertProtected("M1.4");
    assertThat(audit("M1.4")).containsExactly(
        "update app applied: new revision 4 replaces M1.3",
        "update web applied: new revision 4 replaces M1.3");
  }

  /** Nothing moved: M1.3 still applied and enforced, the targets' files untouched, no change audited. */
  private static void assertUnchanged(AgentStatus status, byte[] include, byte[] enforcement, List<String> auditBefore)
      throws Exception {
    assertThat(row(status).status()).isEqualTo(Status.APPLIED);
    assertThat(row(status).appliedId()).isEqualTo("M1.3");
    assertThat(Files.readAllBytes(nginx.include)).isEqualTo(include);
    assertThat(Files.readAllBytes(enforcementFile)).isEqualTo(enforcement);
    assertThat(audit("M1.3")).isEqualTo(auditBefore);
    assertThat(audit("M1.4")).isEmpty();
    assertProtected("M1.3");
  }

  /**
   * Both targets carry this revision and enforce it: ProxyNotShell, plain and encoded, is aborted with not
   * a byte of response, while Autodiscover, OWA and remote PowerShell reach the application.
   */
  private static void assertProtected(String appliedId) throws Exception {
    int revision = Integer.parseInt(appliedId.substring(appliedId.indexOf('.') + 1));
    AgentState state = new StateStore(stateDir).load();
    assertThat(List.of(state.on("app").get("M1"), state.on("web").get("M1"))).as("state.json")
        .containsOnly(new AgentState.AppliedRef(revision, false));
    assertThat(AgentFixture.enforced(enforcementFile)).containsExactly(appliedId);
    assertThat(Files.readString(nginx.include, StandardCharsets.UTF_8)).contains("# Active: " + appliedId + "\n");
    for (String attack : List.of(PROXYNOTSHELL, PROXYNOTSHELL_ENCODED)) {
      assertThat(answers(attack)).as(attack).allSatisfy(o -> assertThat(o.aborted()).as("aborted").isTrue());
    }
    List<Outcome> legitimate = new ArrayList<>();
    legitimate.addAll(answers("POST", "/autodiscover/autodiscover.xml"));
    legitimate.addAll(answers("GET", "/autodiscover/autodiscover.json?Email=user@contoso.com&Protocol=ActiveSync"));
    legitimate.addAll(answers("GET", OWA_LOGON));
    legitimate.addAll(answers("GET", "/owa/"));
    legitimate.addAll(answers("GET", "/powershell/?serializationLevel=Full;ExchClientVer=15.2.1118.7"));
    assertThat(legitimate).hasSize(10).allSatisfy(o -> {
      assertThat(o.status()).isEqualTo(200);
      assertThat(o.fromBackend()).isTrue();
    });
  }

  /** No target carries M1 any more, and the attack reaches the application on both (once the filter reloaded). */
  private static void assertUnprotected() throws Exception {
    AgentState state = new StateStore(stateDir).load();
    assertThat(state.on("app")).as("state.json, app").doesNotContainKey("M1");
    assertThat(state.on("web")).as("state.json, web").doesNotContainKey("M1");
    assertThat(AgentFixture.enforced(enforcementFile)).isEmpty();
    assertThat(Files.readString(nginx.include, StandardCharsets.UTF_8)).doesNotContain("M1.");
    awaitOnBoth(PROXYNOTSHELL, Outcome::fromBackend, "ProxyNotShell to reach the application", System.nanoTime());
  }

  /** Polls both targets until the outcome of the request holds on both, at most 5 s after {@code since}. */
  private static void awaitOnBoth(String target, java.util.function.Predicate<Outcome> done, String what, long since)
      throws Exception {
    long deadline = since + WITHIN.toNanos();
    while (true) {
      List<Outcome> outcomes = answers(target);
      if (outcomes.stream().allMatch(done)) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("expected " + what + " on nginx and Jetty within " + WITHIN.toSeconds()
            + " s but found " + outcomes + "\nagent: " + admin.status().mitigations() + "\nnginx error log:\n"
            + nginx.errorLog());
      }
      LockSupport.parkNanos(25_000_000);
    }
  }

  /** A GET of this target at nginx and at Jetty. */
  private static List<Outcome> answers(String target) throws IOException {
    return answers("GET", target);
  }

  /** The request, exactly as written, at nginx and at Jetty. */
  private static List<Outcome> answers(String method, String target) throws IOException {
    List<String[]> headers = RealNginx.headers("Host", "mail.contoso.com");
    return List.of(RealNginx.exchange(nginx.port, method, target, headers),
        RealNginx.exchange(jettyPort, method, target, headers));
  }

  private static MitigationStatus row(AgentStatus status) {
    return AgentFixture.row(status, "M1");
  }

  /** The audit log's completed entries for this mitigation, as "action target outcome: reason". */
  private static List<String> audit(String mitigation) throws IOException {
    List<String> out = new ArrayList<>();
    for (JsonNode line : AgentFixture.auditLog(stateDir)) {
      if (line.path("mitigation").asText().equals(mitigation) && !line.path("outcome").asText().equals("intent")) {
        out.add(line.path("action").asText() + " " + line.path("target").asText() + " " + line.path("outcome").asText()
            + ": " + line.path("reason").asText());
      }
    }
    return out;
  }

  private static void version(String v) throws IOException {
    Files.writeString(versionFile, v + "\n");
  }

  /** An embedded Jetty whose application answers everything with 200 and {@code X-Backend: yes}, behind the filter. */
  private static Server startJetty(Path enforcementFile) throws Exception {
    return AgentFixture.startApp(enforcementFile, new HttpServlet() {
      @Override
      protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        resp.setHeader("X-Backend", "yes");
        resp.setContentType("text/plain");
        resp.getWriter().print("app saw " + req.getMethod() + " " + req.getRequestURI());
      }
    });
  }
}
