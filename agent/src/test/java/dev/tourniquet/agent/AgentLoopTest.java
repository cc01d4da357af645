package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import dev.tourniquet.feed.mitigation.Mitigation;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's loop against a real signed feed published into a temporary directory, with the servlet
 * target's enforcement file as the thing enforced and an injected clock.
 */
class AgentLoopTest {
  @TempDir
  Path dir;

  AgentFixture fx;
  Agent agent;
  HttpServer http;

  @BeforeEach
  void setUp() throws Exception {
    fx = new AgentFixture(dir);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (agent != null) {
      agent.close();
    }
    if (http != null) {
      http.stop(0);
    }
  }

  /** A fleet server's policy: what {@code org} holds, or unreachable while it holds null. */
  private static PolicySource fleet(AtomicReference<OrgPolicy> org) {
    return () -> {
      OrgPolicy p = org.get();
      if (p == null) {
        throw new IOException("fleet server unreachable");
      }
      return p;
    };
  }

  private AgentStatus publishM1AndCheck() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    agent = fx.open();
    return agent.check();
  }

  @Test
  void checkAppliesM1FromADirectoryFeedAndRecordsIt() throws Exception {
    AgentStatus status = publishM1AndCheck();

    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.APPLIED);
    assertThat(m1.appliedId()).isEqualTo("M1.1");
    assertThat(m1.kinds()).isEqualTo("request-rules");
    // No application runs the filter in this test: applied, and the status says it is not confirmed live.
    assertThat(m1.reason()).startsWith("applies to version " + Mitigations.VULNERABLE + "; not confirmed live: ");
    assertThat(m1.live()).contains(false);
    assertThat(status.feedHealth()).isEqualTo("ok");
    assertThat(status.version()).contains(Mitigations.VULNERABLE);
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit("M1.1", "intent")).containsExactly("apply app");
    assertThat(fx.audit("M1.1", "applied")).containsExactly("apply app");
  }

  @Test
  void checkAppliesM1FromAnHttpFeed() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    http = serve(fx.feed.published());
    fx.config("url: http://127.0.0.1:" + http.getAddress().getPort() + "/", "");
    agent = fx.open();

    AgentStatus status = agent.check();

    assertThat(status.feedHealth()).isEqualTo("ok");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void agentGivenASharedHttpClientFetchesTheFeedWithIt() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    http = serve(fx.feed.published());
    fx.config("url: http://127.0.0.1:" + http.getAddress().getPort() + "/", "");
    List<String> asked = new CopyOnWriteArrayList<>();
    HttpClient shared = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).proxy(new ProxySelector() {
      @Override
      public List<Proxy> select(URI uri) {
        asked.add(uri.getPath());
        return List.of(Proxy.NO_PROXY);
      }

      @Override
      public void connectFailed(URI uri, SocketAddress address, IOException e) {}
    }).build();
    agent = fx.open(Agent.builder(fx.load()).feedHttpClient(shared));

    AgentStatus status = agent.check();

    assertThat(status.feedHealth()).isEqualTo("ok");
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(asked).contains("/timestamp.json");
  }

  @Test
  void sharedHttpClientWithAConfiguredProxyIsRefused() throws Exception {
    fx.config("url: http://127.0.0.1:8080/, proxy: http://127.0.0.1:3128", "");
    AgentConfig config = fx.load();

    assertThatThrownBy(() -> Agent.builder(config).feedHttpClient(HttpClient.newHttpClient()).build())
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("feed.proxy: expected no proxy when the agent is given a shared HTTP client");
  }

  @Test
  void feedFromAnOfflineBundleIsVerifiedAndApplied() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    Path bundle = dir.resolve("feed.bundle");
    dev.tourniquet.feed.tuf.FeedRepository.open(dir.resolve("repo"), fx.clock).writeBundle(bundle);
    fx.config("bundle: " + bundle, "");
    agent = fx.open();

    AgentStatus status = agent.check();

    assertThat(status.feedHealth()).isEqualTo("ok");
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void tamperedTargetChangesNothingAndReportsTheFeedError() throws Exception {
    publishM1AndCheck();
    fx.feed.put(Mitigations.m1(2)).publish();
    TestFeed.flipByte(fx.feed.publishedTarget("M1"));

    AgentStatus status = agent.check();

    assertThat(status.feedHealth()).startsWith("feed rejected, keeping the last verified feed");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(AgentFixture.row(status, "M1").appliedId()).isEqualTo("M1.1");
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit("M1.2", "applied")).isEmpty();
  }

  @Test
  void tamperedMetadataChangesNothingAndReportsTheFeedError() throws Exception {
    publishM1AndCheck();
    fx.feed.withdraw("M1").publish();
    TestFeed.flipByte(fx.feed.published().resolve("timestamp.json"));

    AgentStatus status = agent.check();

    assertThat(status.feedHealth()).startsWith("feed rejected").contains("timestamp.json");
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.APPLIED);
  }

  @Test
  void aRejectedFeedIsAuditedOncePerReasonAndAcceptedAgainWhenItVerifies() throws Exception {
    publishM1AndCheck();
    fx.feed.withdraw("M1").publish();
    Path timestamp = fx.feed.published().resolve("timestamp.json");
    byte[] genuine = Files.readAllBytes(timestamp);
    TestFeed.flipByte(timestamp);

    agent.check();
    agent.check();
    agent.check();

    assertThat(feedAudit()).singleElement().satisfies(line -> {
      assertThat(line).startsWith("feed - rejected: ").contains("timestamp.json");
      assertThat(line).contains("keeping the last verified feed");
    });
    assertThat(fx.enforced()).containsExactly("M1.1");

    Files.write(timestamp, genuine);
    agent.check();
    agent.check();

    assertThat(fx.enforced()).isEmpty(); // the withdrawal verifies now
    assertThat(feedAudit()).hasSize(2);
    assertThat(feedAudit().get(1)).startsWith("feed - accepted: feed verified again (targets version ");

    fx.clock.advance(Duration.ofDays(2)); // the timestamp is valid for one day
    agent.check();
    agent.check();

    assertThat(feedAudit()).hasSize(3);
    assertThat(feedAudit().get(2)).startsWith("feed - rejected: ").contains("expired");
  }

  /** The audit log's feed lines, as "action target outcome: reason". */
  private List<String> feedAudit() throws IOException {
    return fx.audit().stream().filter(l -> l.path("action").asText().equals("feed"))
        .map(l -> l.path("action").asText() + " " + l.path("target").asText() + " "
            + l.path("outcome").asText() + ": " + l.path("reason").asText())
        .toList();
  }

  @Test
  void expiredTimestampKeepsWhatIsApplied() throws Exception {
    publishM1AndCheck();
    fx.clock.advance(Duration.ofDays(2)); // the timestamp is valid for one day

    AgentStatus status = agent.check();

    assertThat(status.feedHealth()).startsWith("feed rejected").contains("expired");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void restartWithAnUnreachableFeedConvergesOnTheFeedTheTufStoreVerifiedLast() throws Exception {
    publishM1AndCheck();
    fx.feed.put(Mitigations.m1(2)).publish();
    fx.clock.advance(Duration.ofMinutes(5));
    agent.check();
    agent.close();
    Path legacyCopy = fx.stateDir.resolve("feed.json");
    Files.writeString(legacyCopy, "{\"format\":\"tourniquet-agent-feed/1\"}");
    fx.config("directory: " + dir.resolve("no-such-feed"), "");
    agent = fx.open();

    AgentStatus status = agent.check();

    assertThat(status.feedHealth()).contains("keeping the last verified feed (targets version 3)");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(AgentFixture.row(status, "M1").revision()).isEqualTo(2);
    assertThat(AgentFixture.row(status, "M1").reason()).doesNotContain("no verified feed yet");
    assertThat(fx.enforced()).containsExactly("M1.2");
    assertThat(legacyCopy).as("the copy earlier versions kept beside the TUF store").doesNotExist();
  }

  @Test
  void restartAfterAChangeWasRecordedButNotLoggedSaysSoAndDoesNotMakeItAgain() throws Exception {
    publishM1AndCheck();
    agent.close();
    // As if the agent stopped after saving state.json, before appending the outcome line.
    Path log = fx.stateDir.resolve("audit.jsonl");
    List<String> lines = Files.readAllLines(log);
    assertThat(lines.get(lines.size() - 1)).contains("\"outcome\":\"applied\"");
    Files.write(log, lines.subList(0, lines.size() - 1));
    agent = fx.open();

    agent.check();

    assertThat(fx.audit("M1.1", "interrupted")).containsExactly("apply app");
    assertThat(fx.audit().stream().filter(l -> l.path("outcome").asText().equals("interrupted")).findFirst()
        .orElseThrow().path("reason").asText()).isEqualTo(
            "the agent stopped after the change was made and recorded, before its outcome was logged");
    assertThat(fx.audit("M1.1", "intent")).as("not made again").containsExactly("apply app");
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void checkThatFindsNothingNewWritesNothingInTheStateDirectory() throws Exception {
    publishM1AndCheck();
    Map<Path, String> files = filesUnder(fx.stateDir);
    fx.clock.advance(Duration.ofMinutes(5));

    agent.check();

    assertThat(filesUnder(fx.stateDir)).as("nothing in the state directory written").isEqualTo(files);
  }

  /** Every file under a directory with its identity, size and modification time. */
  private static Map<Path, String> filesUnder(Path root) throws IOException {
    Map<Path, String> out = new java.util.TreeMap<>();
    try (var paths = Files.walk(root)) {
      for (Path p : (Iterable<Path>) paths.filter(Files::isRegularFile)::iterator) {
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
        out.put(root.relativize(p), a.fileKey() + " " + a.size() + " " + a.lastModifiedTime().toMillis());
      }
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {"tuf/targets/mitigations/M1.json", "tuf/targets.json"})
  void damagedTufStoreAndUnreachableFeedKeepWhatIsApplied(String damaged) throws Exception {
    publishM1AndCheck();
    agent.close();
    Files.write(fx.stateDir.resolve(damaged), new byte[] {' '}, java.nio.file.StandardOpenOption.APPEND);
    fx.config("directory: " + dir.resolve("no-such-feed"), "");
    agent = fx.open();

    AgentStatus status = agent.check();

    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(AgentFixture.row(status, "M1").reason()).startsWith("kept revision M1.1: no verified feed yet; not confirmed live");
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @ParameterizedTest
  @ValueSource(strings = {"truncated", "unknown mode"})
  void damagedStateFileStopsTheStartNamingTheFileAndTheProblemAndLeavesTheTargetAsItIs(String damage) throws Exception {
    publishM1AndCheck();
    agent.close();
    agent = null;
    Path file = fx.stateDir.resolve("state.json");
    String state = Files.readString(file);
    Files.writeString(file, damage.equals("truncated") ? state.substring(0, state.length() / 2)
        : state.replace("\"modes\" : { }", "\"modes\" : { \"M1\" : \"enforce-please\" }"));
    Agent damaged = Agent.builder(fx.load()).clock(fx.clock).adminApi(false).build();

    try {
      assertThatThrownBy(damaged::open).isInstanceOf(IOException.class)
          .hasMessageStartingWith(file + ": ")
          .hasMessageContaining(damage.equals("truncated") ? "expected JSON but it does not parse: Unexpected end-of-input"
              : "local.modes.M1: expected \"enforce\" or \"audit\" but found \"enforce-please\"");
    } finally {
      damaged.close();
    }
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void unparsableSavedOrganisationPolicyIsSaidNamingTheFile() throws Exception {
    Files.createDirectories(fx.stateDir);
    Path file = fx.stateDir.resolve("org-policy.json");
    Files.writeString(file, "{\"format\":\"tourniquet-org-policy/1\",\"enabled\":tr");
    agent = fx.open(Agent.builder(fx.load()).policySource(fleet(new AtomicReference<>())));

    assertThat(agent.status().policyHealth()).contains(file + ": expected JSON but it does not parse: ");
  }

  @Test
  void withdrawalRemoves() throws Exception {
    publishM1AndCheck();
    fx.feed.withdraw("M1").publish();

    AgentStatus status = agent.check();

    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.REMOVED);
    assertThat(m1.reason()).isEqualTo("withdrawn from the feed");
    assertThat(m1.revision()).as("the revision removed, not 0").isEqualTo(1);
    assertThat(m1.kinds()).isEqualTo("request-rules");
    assertThat(m1.description()).isNotEmpty();
    assertThat(fx.enforced()).isEmpty();
    assertThat(fx.audit("M1.1", "removed")).containsExactly("remove app");
  }

  @Test
  void installingTheFixedVersionRemovesAutomatically() throws Exception {
    publishM1AndCheck();
    fx.version(Mitigations.FIXED);

    AgentStatus status = agent.check();

    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.REMOVED);
    assertThat(m1.reason()).isEqualTo("no longer applicable: version " + Mitigations.FIXED + " is fixed");
    assertThat(fx.enforced()).isEmpty();
  }

  @Test
  void blockRemovesAndUnblockAppliesAgain() throws Exception {
    publishM1AndCheck();

    AgentStatus blocked = agent.block("M1");

    assertThat(AgentFixture.row(blocked, "M1").status()).isEqualTo(Status.BLOCKED);
    assertThat(AgentFixture.row(blocked, "M1").reason()).isEqualTo("blocked by admin");
    assertThat(fx.enforced()).isEmpty();
    assertThat(AgentFixture.row(agent.check(), "M1").status()).isEqualTo(Status.BLOCKED);

    AgentStatus unblocked = agent.unblock("M1");

    assertThat(AgentFixture.row(unblocked, "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void aLowerRevisionInTheFeedDoesNotReplaceTheAppliedOne() throws Exception {
    fx.feed.put(Mitigations.m1(3)).publish();
    agent = fx.open();
    agent.check();
    fx.feed.publishGoingBack(Mitigations.m1(2));

    AgentStatus status = agent.check();

    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(fx.enforced()).containsExactly("M1.3");
    assertThat(m1.status()).isEqualTo(Status.FAILED);
    assertThat(m1.reason()).startsWith("kept revision M1.3: revision 2 is below revision 3, which this server applied"
        + " before: a revision never goes back; the publisher must publish it as revision 4 or above");
  }

  @Test
  void aWithdrawnMitigationBackAtALowerRevisionIsNotAppliedEvenAfterARestartButAHigherOneIs() throws Exception {
    fx.feed.put(Mitigations.m1(3)).publish();
    agent = fx.open();
    agent.check();
    fx.feed.withdraw("M1").publish();
    agent.check();
    agent.close();
    fx.feed.publishGoingBack(Mitigations.m1(1));
    agent = fx.open();

    MitigationStatus back = AgentFixture.row(agent.check(), "M1");
    List<String> enforcedAtOne = fx.enforced();
    fx.feed.put(Mitigations.m1(4)).publish();
    MitigationStatus revised = AgentFixture.row(agent.check(), "M1");

    assertThat(enforcedAtOne).isEmpty();
    assertThat(back.status()).isEqualTo(Status.FAILED);
    assertThat(back.reason()).isEqualTo("failed: revision 1 is below revision 3, which this server applied before: a"
        + " revision never goes back; the publisher must publish it as revision 4 or above");
    assertThat(revised.status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.4");
  }

  @Test
  void theRevisionTheFixedVersionRemovedIsAppliedAgainWhenTheServerIsVulnerableAgain() throws Exception {
    publishM1AndCheck();
    fx.version(Mitigations.FIXED);
    agent.check();
    fx.version(Mitigations.VULNERABLE);

    AgentStatus status = agent.check();

    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void newRevisionUpdates() throws Exception {
    publishM1AndCheck();
    fx.feed.put(Mitigations.m1(2)).publish();

    AgentStatus status = agent.check();

    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.appliedId()).isEqualTo("M1.2");
    assertThat(m1.status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.2");
    assertThat(fx.audit("M1.2", "applied")).containsExactly("update app");
  }

  @Test
  void signedButInvalidRevisionIsReportedAndKeepsTheAppliedOne() throws Exception {
    publishM1AndCheck();
    fx.feed.putRaw("mitigations/M1.json", "{\"id\":\"M1\",\"revision\":2}".getBytes(StandardCharsets.UTF_8)).publish();

    AgentStatus status = agent.check();

    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.APPLIED);
    assertThat(m1.reason()).startsWith("kept revision M1.1: the feed's document is invalid: target mitigations/M1.json:");
    assertThat(status.feedHealth()).isEqualTo("ok; invalid documents skipped: M1");
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void documentUnderAnotherIdsNameIsRejected() throws Exception {
    fx.feed.putRaw("mitigations/M9.json", dev.tourniquet.feed.mitigation.MitigationWriter.write(Mitigations.m1(1))).publish();
    agent = fx.open();

    AgentStatus status = agent.check();

    MitigationStatus m9 = AgentFixture.row(status, "M9");
    assertThat(m9.status()).isEqualTo(Status.FAILED);
    assertThat(m9.reason()).contains("expected the document of M9 but found the document of M1");
    assertThat(fx.enforced()).isEmpty();
  }

  @Test
  void disablingDetectsNewMitigationsAndKeepsAppliedOnes() throws Exception {
    publishM1AndCheck();
    agent.disable();
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();

    AgentStatus status = agent.check();

    assertThat(status.enabled()).isFalse();
    MitigationStatus m2 = AgentFixture.row(status, "M2");
    assertThat(m2.status()).isEqualTo(Status.DETECTED);
    assertThat(m2.reason()).isEqualTo("mitigations disabled on this server: detected only");
    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.APPLIED);
    assertThat(m1.reason()).contains("mitigations disabled on this server");
    assertThat(fx.enforced()).containsExactly("M1.1");

    AgentStatus enabled = agent.enable();

    assertThat(AgentFixture.statusById(enabled)).containsEntry("M1", "Applied").containsEntry("M2", "Applied");
    assertThat(fx.enforced()).containsExactly("M1.1", "M2.1");
  }

  @Test
  void anOperatorCommandWhoseStateCannotBeSavedFailsAndTakesNoEffectLater() throws Exception {
    publishM1AndCheck();
    Path file = fx.stateDir.resolve("state.json");
    String saved = Files.readString(file);
    Files.delete(file);
    Files.createDirectories(file.resolve("in-the-way")); // state.json cannot be replaced, as on a full or failing disk

    assertThatThrownBy(() -> agent.block("M1")).isInstanceOf(IOException.class);

    Files.delete(file.resolve("in-the-way"));
    Files.delete(file);
    Files.writeString(file, saved);
    fx.clock.advance(Duration.ofMinutes(5));
    AgentStatus status = agent.check();

    assertThat(AgentFixture.row(status, "M1").status()).as("the operator was told the block failed").isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit("M1.1", "removed")).isEmpty();
  }

  @Test
  void aCheckThatFailsAfterRecordingAChangeKeepsItSoALaterCommandAndRestartDoNotUndoIt() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    Path log = fx.stateDir.resolve("audit.jsonl");
    Path away = fx.stateDir.resolve("audit.jsonl.away");
    // Once M1 is applied, and before it is recorded, the audit log becomes unwritable (a failing disk): the
    // check fails after state.json recorded M1, before the outcome line.
    agent = fx.open(Agent.builder(fx.load()).hook((point, target, appliedId) -> {
      if (point.equals("converged") && appliedId.equals("M1.1") && !Files.exists(away)) {
        try {
          Files.move(log, away);
          Files.createDirectory(log);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    }));
    assertThatThrownBy(agent::check).isInstanceOf(IOException.class);
    Files.delete(log);
    Files.move(away, log);
    assertThat(fx.enforced()).containsExactly("M1.1");

    agent.disable(); // nothing new is applied from now on; what is applied stays
    agent.close();
    agent = fx.open();

    assertThat(fx.enforced()).as("still enforced after the restart").containsExactly("M1.1");
    assertThat(AgentFixture.row(agent.status(), "M1").status()).isEqualTo(Status.APPLIED);
  }

  @Test
  void aChangeMadeOnATargetButNotRecordedIsRecordedFirstAtTheNextCheckSoItsRemovalIsAudited() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    Path file = fx.stateDir.resolve("state.json");
    // Once M1 is applied on the target, state.json cannot be replaced (a full or failing disk): the change is
    // made and not recorded.
    java.util.concurrent.atomic.AtomicBoolean once = new java.util.concurrent.atomic.AtomicBoolean();
    agent = fx.open(Agent.builder(fx.load()).hook((point, target, appliedId) -> {
      if (point.equals("converged") && appliedId.equals("M1.1") && once.compareAndSet(false, true)) {
        try {
          Files.deleteIfExists(file);
          Files.createDirectories(file.resolve("in-the-way"));
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    }));
    assertThatThrownBy(agent::check).isInstanceOf(IOException.class);
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit()).filteredOn(l -> l.path("action").asText().equals("record"))
        .singleElement().satisfies(l -> assertThat(l.path("outcome").asText() + ": " + l.path("reason").asText())
            .startsWith("failed: app runs M1.1").contains("could not be recorded").contains("state.json"));
    Files.delete(file.resolve("in-the-way"));
    Files.delete(file);

    fx.feed.withdraw("M1").publish();
    fx.clock.advance(Duration.ofMinutes(5));
    agent.check();

    assertThat(fx.enforced()).as("the withdrawal removes what the target ran unrecorded").isEmpty();
    assertThat(fx.audit()).filteredOn(l -> l.path("action").asText().equals("record")).last()
        .satisfies(l -> assertThat(l.path("outcome").asText() + ": " + l.path("reason").asText())
            .startsWith("recorded: app runs M1.1"));
    assertThat(fx.audit("M1.1", "removed")).hasSize(1);
  }

  @Test
  void removeRollsBackAndKeepsItOffUntilANewRevision() throws Exception {
    publishM1AndCheck();

    AgentStatus removed = agent.remove("M1");

    assertThat(AgentFixture.row(removed, "M1").status()).isEqualTo(Status.REMOVED);
    assertThat(AgentFixture.row(removed, "M1").reason()).startsWith("removed by admin");
    assertThat(fx.enforced()).isEmpty();
    assertThat(AgentFixture.row(agent.check(), "M1").status()).isEqualTo(Status.REMOVED);
    assertThat(fx.enforced()).isEmpty();

    fx.feed.put(Mitigations.m1(2)).publish();
    AgentStatus revised = agent.check();

    assertThat(AgentFixture.row(revised, "M1").appliedId()).isEqualTo("M1.2");
    assertThat(fx.enforced()).containsExactly("M1.2");
  }

  @Test
  void organisationBlockRemovesAndOrganisationDisableOnlyDetects() throws Exception {
    fx.feed.put(Mitigations.m1(1)).put(Mitigations.proxyLogon("M2", 1)).publish();
    AtomicReference<OrgPolicy> org = new AtomicReference<>(OrgPolicy.DEFAULT);
    agent = fx.open(Agent.builder(fx.load()).policySource(org::get));
    agent.check();
    assertThat(fx.enforced()).containsExactly("M1.1", "M2.1");

    org.set(new OrgPolicy(true, true, Set.of("M2"), Map.of(), Map.of()));
    AgentStatus blocked = agent.check();

    assertThat(AgentFixture.row(blocked, "M2").reason()).isEqualTo("blocked by admin in the organisation");
    assertThat(fx.enforced()).containsExactly("M1.1");

    fx.feed.put(Mitigations.proxyLogon("M3", 1)).publish();
    org.set(new OrgPolicy(false, true, Set.of(), Map.of(), Map.of()));
    AgentStatus disabled = agent.check();

    assertThat(AgentFixture.row(disabled, "M3").status()).isEqualTo(Status.DETECTED);
    assertThat(AgentFixture.row(disabled, "M3").reason()).isEqualTo("mitigations disabled in the organisation: detected only");
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void organisationModeOverrideRunsAMitigationInAudit() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    OrgPolicy audit = new OrgPolicy(true, true, Set.of(), Map.of("M1", Mitigation.Mode.AUDIT), Map.of());
    agent = fx.open(Agent.builder(fx.load()).policySource(() -> audit));

    AgentStatus status = agent.check();

    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.AUDIT);
    assertThat(dev.tourniquet.servlet.EnforcementFile.read(fx.enforcementFile).mitigations().get(0).mode())
        .isEqualTo(dev.tourniquet.servlet.Mode.AUDIT);
  }

  @Test
  void failingPolicySourceKeepsTheLastPolicyAndSaysSo() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    AtomicReference<OrgPolicy> org = new AtomicReference<>(
        new OrgPolicy(true, true, Set.of("M1"), Map.of(), Map.of()));
    agent = fx.open(Agent.builder(fx.load()).policySource(fleet(org)));
    agent.check();
    org.set(null);

    AgentStatus status = agent.check();

    assertThat(status.policyHealth()).contains("fleet server unreachable");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.BLOCKED);
    assertThat(fx.enforced()).isEmpty();
  }

  @Test
  void restartWhileTheFleetServerIsDownKeepsTheOrganisationPolicyObtainedBefore() throws Exception {
    fx.feed.put(Mitigations.m1(1)).put(Mitigations.proxyLogon("M2", 1)).publish();
    OrgPolicy org = new OrgPolicy(true, true, Set.of("M1"), Map.of("M2", Mitigation.Mode.AUDIT),
        Map.of("M3", "rollout of M3.1: ring canary first, waiting for approval"));
    agent = fx.open(Agent.builder(fx.load()).policySource(() -> org));
    Instant obtained = fx.clock.instant();
    agent.check();
    agent.close();
    fx.feed.put(Mitigations.proxyLogon("M3", 1)).publish();
    fx.clock.advance(Duration.ofHours(1));

    agent = fx.open(Agent.builder(fx.load()).policySource(fleet(new AtomicReference<>())));
    AgentStatus status = agent.check();

    assertThat(status.policyHealth()).isEqualTo("organisation policy unavailable, keeping the last one obtained ("
        + obtained + "): fleet server unreachable");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.BLOCKED);
    assertThat(AgentFixture.row(status, "M2").status()).isEqualTo(Status.AUDIT);
    assertThat(AgentFixture.row(status, "M3").reason()).contains("waiting for approval");
    assertThat(fx.enforced()).containsExactly("M2.1");
  }

  @Test
  void fleetServerDownSinceTheFirstStartMeansTheDefaultPolicyAndSaysSo() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    agent = fx.open(Agent.builder(fx.load()).policySource(fleet(new AtomicReference<>())));

    AgentStatus status = agent.check();

    assertThat(status.policyHealth()).isEqualTo("organisation policy unavailable, using the default (enabled, nothing"
        + " blocked) until one is obtained: fleet server unreachable");
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void unreadableSavedOrganisationPolicyIsSaidAndReplacedByTheNextOneObtained() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    Files.createDirectories(fx.stateDir);
    Files.writeString(fx.stateDir.resolve("org-policy.json"), "{\"format\":\"tourniquet-org-policy/1\",\"enabled\":1}");
    AtomicReference<OrgPolicy> org = new AtomicReference<>();
    agent = fx.open(Agent.builder(fx.load()).policySource(fleet(org)));

    assertThat(agent.status().policyHealth()).startsWith("the organisation policy saved before the restart cannot be"
        + " read; using the default (enabled, nothing blocked) until the fleet server answers: ")
        .contains("org-policy.json: expected a saved organisation policy but field enabled: expected true or false"
            + " but found 1");

    org.set(new OrgPolicy(true, true, Set.of("M1"), Map.of(), Map.of()));
    AgentStatus status = agent.check();

    assertThat(status.policyHealth()).isEqualTo("ok");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.BLOCKED);
    assertThat(Files.readString(fx.stateDir.resolve("org-policy.json"))).contains("\"blocked\" : [ \"M1\" ]");
  }

  @Test
  void reporterReceivesTheStatusAfterEveryCheckOnlyWithDataCollectionOn() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    List<AgentStatus> reports = new ArrayList<>();
    agent = fx.open(Agent.builder(fx.load()).reporter(reports::add));
    agent.check();
    agent.check();
    assertThat(reports).hasSize(2);
    assertThat(AgentFixture.row(reports.get(1), "M1").status()).isEqualTo(Status.APPLIED);
    agent.close();

    Files.writeString(fx.configFile, Files.readString(fx.configFile) + "dataCollection: false\n");
    List<AgentStatus> none = new ArrayList<>();
    agent = fx.open(Agent.builder(fx.load()).reporter(none::add));
    agent.check();

    assertThat(none).isEmpty();
  }

  @Test
  void mitigationNoTargetHandlesIsNotApplicable() throws Exception {
    fx.feed.put(Mitigations.disableService("M5")).publish();
    agent = fx.open();

    AgentStatus status = agent.check();

    assertThat(AgentFixture.row(status, "M5").status()).isEqualTo(Status.NOT_APPLICABLE);
    assertThat(AgentFixture.row(status, "M5").reason()).isEqualTo("no configured target handles disable-service");
  }

  @Test
  void unknownVersionKeepsAppliedAndAppliesNothingNew() throws Exception {
    publishM1AndCheck();
    Files.delete(fx.versionFile);
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();

    AgentStatus status = agent.check();

    assertThat(status.version()).isEmpty();
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(AgentFixture.row(status, "M2").status()).isEqualTo(Status.NOT_APPLICABLE);
    assertThat(AgentFixture.row(status, "M2").reason()).startsWith("not applicable: product version unknown: ");
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void nextCheckIsTheIntervalAfterASuccessAndAMinuteAfterAFirstFailure() throws Exception {
    AgentStatus ok = publishM1AndCheck();
    assertThat(Duration.between(ok.lastCheck().orElseThrow(), ok.nextCheck())).isEqualTo(Duration.ofHours(1));

    TestFeed.flipByte(fx.feed.published().resolve("timestamp.json"));
    AgentStatus failed = agent.check();

    assertThat(Duration.between(failed.lastCheck().orElseThrow(), failed.nextCheck())).isEqualTo(Duration.ofMinutes(1));
  }

  @Test
  void hintMakesTheRunningAgentCheckAtOnce() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    AgentFixture.Reports reports = new AgentFixture.Reports();
    agent = Agent.builder(fx.load()).clock(fx.clock).adminApi(false).reporter(reports).build();
    agent.start();
    awaitEnforced(reports, List.of("M1.1")); // the check at start

    fx.feed.put(Mitigations.m1(2)).publish();
    agent.hint();
    agent.hint(); // coalesced with the first

    awaitEnforced(reports, List.of("M1.2"));
    // status() waits for the check in progress, which wrote the file, to finish and record it.
    assertThat(AgentFixture.row(agent.status(), "M1").appliedId()).isEqualTo("M1.2");
    assertThat(fx.audit("M1.2", "applied")).containsExactly("update app");
  }

  @Test
  void anErrorThrownDuringACheckDoesNotStopTheWorkerAndTheNextHintStillChecks() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.CountDownLatch thrown = new java.util.concurrent.CountDownLatch(1);
    AgentFixture.Reports reports = new AgentFixture.Reports();
    // An Error, not an exception: a class gone from a jar replaced while the agent runs, a stack overflow.
    agent = Agent.builder(fx.load()).clock(fx.clock).adminApi(false).reporter(reports).policySource(() -> {
      if (asked.incrementAndGet() == 1) {
        thrown.countDown();
        throw new NoClassDefFoundError("dev/tourniquet/agent/fleet/Gone");
      }
      return OrgPolicy.DEFAULT;
    }).build();
    agent.start();
    assertThat(thrown.await(30, java.util.concurrent.TimeUnit.SECONDS)).as("the check at start asked for the policy").isTrue();
    agent.status(); // waits for that check to end

    agent.hint();

    awaitEnforced(reports, List.of("M1.1"));
    assertThat(asked.get()).isEqualTo(2);
  }

  @Test
  void aFloodOfHintsMakesAtMostOneCheckEveryTwoSecondsAndTheLastHintIsStillServed() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    java.util.concurrent.atomic.AtomicInteger checks = new java.util.concurrent.atomic.AtomicInteger();
    AgentFixture.Reports reports = new AgentFixture.Reports();
    agent = Agent.builder(fx.load()).clock(fx.clock).adminApi(false).reporter(s -> {
      checks.incrementAndGet();
      reports.report(s);
    }).build();
    agent.start();
    awaitEnforced(reports, List.of("M1.1")); // the check at start

    // What a fleet server sending hints without end does: about a thousand in a second, half of HINT_GAP. The
    // 1 ms pause is the flood's pace, not a wait for anything (a tight loop would only burn a shared core); the
    // gap is measured on the real clock, so the flood must really last, and a second leaves a second of margin.
    long end = System.nanoTime() + Duration.ofSeconds(1).toNanos();
    while (System.nanoTime() - end < 0) {
      agent.hint();
      Thread.sleep(1);
    }

    assertThat(checks.get()).as("checks: the one at start, and at most one for a second of hints").isLessThanOrEqualTo(2);
    fx.feed.put(Mitigations.m1(2)).publish();
    agent.hint();
    awaitEnforced(reports, List.of("M1.2"));
  }

  private void awaitEnforced(AgentFixture.Reports reports, List<String> expected) throws Exception {
    reports.await(expected + " to be enforced", () -> fx.enforced().equals(expected),
        () -> fx.enforced() + "; status " + agent.status());
  }

  /** Serves a directory over HTTP on 127.0.0.1, as a static web server or CDN would serve a feed. */
  static HttpServer serve(Path root) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", exchange -> {
      try (exchange) {
        Path file = root.resolve(exchange.getRequestURI().getPath().substring(1)).normalize();
        if (!file.startsWith(root) || !Files.isRegularFile(file)) {
          exchange.sendResponseHeaders(404, -1);
          return;
        }
        byte[] bytes = Files.readAllBytes(file);
        exchange.sendResponseHeaders(200, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(bytes);
        }
      }
    });
    server.start();
    return server;
  }
}
