package dev.tourniquet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tourniquet.agent.Agent;
import dev.tourniquet.agent.AgentConfig;
import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.feed.tuf.Role;
import dev.tourniquet.feed.tuf.SigningKey;
import dev.tourniquet.servlet.EnforcementFile;
import dev.tourniquet.servlet.TourniquetFilter;
import jakarta.servlet.DispatcherType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Clock;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's command line end to end: a feed carrying the M1 example published with the publisher's
 * API into a directory, a real agent running in this JVM with its admin API on 127.0.0.1 and a servlet
 * target, and every verb run through {@link Main#run}.
 */
class OperatorCommandsTest {
  private static final Path ROOT = Path.of(System.getProperty("tourniquet.repo.root", "..")).toAbsolutePath().normalize();

  @TempDir Path tmp;
  Agent agent;
  Path config;
  Path stateDir;
  Path enforcementFile;

  record Result(int code, String out, String err) {}

  static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
    return new Result(code, out.toString(), err.toString());
  }

  static Result ok(String... args) {
    Result r = run(args);
    assertThat(r.code()).as("tourniquet %s%nout: %s%nerr: %s", String.join(" ", args), r.out(), r.err()).isZero();
    return r;
  }

  @BeforeEach
  void startAgent() throws Exception {
    Path published = publishFeedWithM1(tmp.resolve("feed"));
    stateDir = tmp.resolve("state");
    enforcementFile = tmp.resolve("enforcement/exchange.json");
    config = tmp.resolve("agent.yaml");
    Files.writeString(config, """
        server: {name: mail01, labels: {site: paris}}
        product: {name: Microsoft-Exchange-Server, version: 15.2.1118.7}
        feed: {directory: %s, trustedRoot: %s}
        stateDir: %s
        interval: 1h
        dataCollection: false
        admin: {port: 0}
        targets:
          - {name: exchange, type: servlet, enforcementFile: %s}
        """.formatted(published, published.resolve("1.root.json"), stateDir, enforcementFile));
    agent = Agent.builder(AgentConfig.load(config)).build();
    agent.start();
    // The first check runs at once; wait for it through the CLI itself.
    ok("check", "--config", config.toString());
  }

  @AfterEach
  void stopAgent() throws Exception {
    if (agent != null) {
      agent.close();
    }
  }

  /** Publishes examples/mitigations/M1.json with one key per role, as `tourniquet feed …` does. */
  static Path publishFeedWithM1(Path dir) throws Exception {
    SigningKey root = SigningKey.generate();
    SigningKey targets = SigningKey.generate();
    SigningKey snapshot = SigningKey.generate();
    SigningKey timestamp = SigningKey.generate();
    Map<Role, FeedRepository.KeySet> keys = new EnumMap<>(Role.class);
    keys.put(Role.ROOT, new FeedRepository.KeySet(List.of(root.verificationKey()), 1));
    keys.put(Role.TARGETS, new FeedRepository.KeySet(List.of(targets.verificationKey()), 1));
    keys.put(Role.SNAPSHOT, new FeedRepository.KeySet(List.of(snapshot.verificationKey()), 1));
    keys.put(Role.TIMESTAMP, new FeedRepository.KeySet(List.of(timestamp.verificationKey()), 1));
    FeedRepository repo = FeedRepository.init(dir, keys, FeedRepository.Validity.defaults(), Clock.systemUTC());
    repo.sign(Role.ROOT, root);
    repo.addTarget(FeedRepository.mitigationTarget("M1"), Files.readAllBytes(ROOT.resolve("examples/mitigations/M1.json")));
    repo.sign(Role.TARGETS, targets);
    repo.publish(List.of(snapshot), List.of(timestamp));
    return repo.publishedDirectory();
  }

  List<String> enforced() throws Exception {
    if (!Files.exists(enforcementFile)) {
      return List.of();
    }
    return EnforcementFile.read(enforcementFile).mitigations().stream()
        .map(dev.tourniquet.servlet.ActiveMitigation::appliedId).toList();
  }

  @Test
  void statusShowsTheAppliedMitigationWithItsReasonAndTheFeedHealth() throws Exception {
    Result r = ok("status", "--config", config.toString());

    assertThat(r.out()).contains("Server:      mail01").contains("15.2.1118.7").contains("Feed:        ok")
        .contains("Next check:").contains("Last check:");
    assertThat(r.out()).containsPattern("M1\\.1\\s+request-rules\\s+Applied\\s+Exchange Server: abort .*\\s+applied");
    assertThat(enforced()).containsExactly("M1.1");
  }

  @Test
  void statusAsJsonAndCsvCarryTheSameRow() throws Exception {
    JsonNode json = new ObjectMapper().readTree(ok("status", "--state-dir", stateDir.toString(), "--json").out());
    List<String> csv = ok("status", "--state-dir", stateDir.toString(), "--csv").out().lines().toList();

    assertThat(json.path("server").asText()).isEqualTo("mail01");
    assertThat(json.path("mitigations").get(0).path("id").asText()).isEqualTo("M1");
    assertThat(json.path("mitigations").get(0).path("status").asText()).isEqualTo("Applied");
    assertThat(csv.get(0)).isEqualTo("server,mitigation,kind,description,status,reason,live");
    assertThat(csv.get(1)).startsWith("mail01,M1.1,request-rules,\"Exchange Server: abort Autodiscover requests")
        .contains(",Applied,");
  }

  @Test
  void statusSaysAMitigationIsNotConfirmedLiveUntilTheApplicationsFilterLoadsItWithoutACheck() throws Exception {
    String note = "not confirmed live: no servlet filter has loaded " + enforcementFile + " yet";
    assertThat(ok("status", "--config", config.toString()).out()).contains(note).contains("is the application running");
    JsonNode row = new ObjectMapper().readTree(ok("status", "--config", config.toString(), "--json").out())
        .path("mitigations").get(0);
    assertThat(row.path("status").asText()).isEqualTo("Applied");
    assertThat(row.path("live").isBoolean()).isTrue();
    assertThat(row.path("live").asBoolean()).isFalse();
    assertThat(row.path("reason").asText()).contains(note);
    assertThat(ok("status", "--config", config.toString(), "--csv").out().lines().skip(1))
        .singleElement().satisfies(line -> assertThat(line).contains(",Applied,").contains(note).endsWith(",false"));

    Server app = startAppWithTheFilter();
    try {
      assertThat(ok("status", "--config", config.toString()).out()).doesNotContain("not confirmed live")
          .containsPattern("M1\\.1\\s+request-rules\\s+Applied");
      assertThat(new ObjectMapper().readTree(ok("status", "--config", config.toString(), "--json").out())
          .path("mitigations").get(0).path("live").asBoolean()).isTrue();
      assertThat(ok("status", "--config", config.toString(), "--csv").out().lines().skip(1))
          .singleElement().satisfies(line -> assertThat(line).contains(",Applied,").endsWith(",true"));
    } finally {
      app.stop();
    }
  }

  /** A Java application on 127.0.0.1 running the real filter on the target's file, which it loads as it starts. */
  private Server startAppWithTheFilter() throws Exception {
    Server server = new Server(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    ServletContextHandler context = new ServletContextHandler();
    context.addFilter(new FilterHolder(new TourniquetFilter(enforcementFile)), "/*", EnumSet.of(DispatcherType.REQUEST));
    server.setHandler(context);
    server.start();
    return server;
  }

  @Test
  void blockRemovesTheMitigationAndUnblockAppliesItAgain() throws Exception {
    Result blocked = ok("block", "M1", "--config", config.toString());
    assertThat(blocked.out()).startsWith("blocked M1 on mail01\nM1.1  Blocked  blocked by admin");
    assertThat(enforced()).isEmpty();

    Result unblocked = ok("unblock", "M1", "--config", config.toString());
    assertThat(unblocked.out()).startsWith("unblocked M1 on mail01\nM1.1  Applied");
    assertThat(enforced()).containsExactly("M1.1");
  }

  @Test
  void removeRollsBackNowAndKeepsItOffUntilUnblocked() throws Exception {
    Result removed = ok("remove", "M1", "--config", config.toString());
    assertThat(removed.out()).startsWith("removed M1 on mail01; it stays off until 'tourniquet unblock M1' or a new revision\nM1.1  Removed");
    assertThat(enforced()).isEmpty();

    ok("check", "--config", config.toString());
    assertThat(enforced()).as("a check does not bring it back").isEmpty();

    ok("unblock", "M1", "--config", config.toString());
    assertThat(enforced()).containsExactly("M1.1");
  }

  @Test
  void disableKeepsWhatIsAppliedAndEnableRestoresTheSetting() throws Exception {
    Result disabled = ok("disable", "--config", config.toString());
    assertThat(disabled.out()).contains("mitigations disabled on mail01");
    Result status = ok("status", "--config", config.toString());
    assertThat(status.out()).contains("disabled (detect only)").containsPattern("M1\\.1\\s+request-rules\\s+Applied");
    assertThat(enforced()).containsExactly("M1.1");

    Result enabled = ok("enable", "--config", config.toString());
    assertThat(enabled.out()).contains("mitigations enabled on mail01");
  }

  @Test
  void aDisabledServerOnlyDetectsAMitigationItHasNotApplied() throws Exception {
    ok("remove", "M1", "--config", config.toString());
    ok("disable", "--config", config.toString());

    ok("unblock", "M1", "--config", config.toString());

    Result status = ok("status", "--config", config.toString());
    assertThat(status.out()).containsPattern("M1\\.1\\s+request-rules\\s+Detected\\s+.*mitigations disabled on this server: detected only");
    assertThat(enforced()).isEmpty();
  }

  @Test
  void theTokenFileIsOwnerOnlyAndAWrongTokenIsRefusedWithNothingChanged() throws Exception {
    Path token = stateDir.resolve("admin.token");
    assertThat(Files.getPosixFilePermissions(token))
        .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    // An operator with a copy of the state directory but the wrong token.
    Path fake = tmp.resolve("fake-state");
    Files.createDirectories(fake);
    Files.copy(stateDir.resolve("admin.port"), fake.resolve("admin.port"));
    Files.writeString(fake.resolve("admin.token"), "0".repeat(64), StandardCharsets.US_ASCII);

    Result r = run("block", "M1", "--state-dir", fake.toString());

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("401");
    assertThat(enforced()).containsExactly("M1.1");
  }

  @Test
  void aMalformedIdIsACommandLineErrorThatExitsTwoAndChangesNothing() throws Exception {
    Result r = run("block", "../M1", "--config", config.toString());

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("tourniquet: ID: expected 1 to 64 letters, digits").contains("\"../M1\"");
    assertThat(enforced()).containsExactly("M1.1");
  }

  @Test
  void withoutARunningAgentTheCommandSaysSoAndExitsOne() throws Exception {
    agent.close();
    agent = null;

    Result r = run("status", "--config", config.toString());

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("the agent is not running with the state directory " + stateDir);
  }

  @Test
  void aStateDirectoryThatDoesNotExistIsNamedInTheError() {
    Result r = run("status", "--state-dir", tmp.resolve("nowhere").toString());

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains(tmp.resolve("nowhere") + ": no such directory; expected the agent's state directory");
  }

  @Test
  void agentCheckConfigValidatesTheFileAndAnInvalidOneExitsTwoNamingTheKey() throws Exception {
    Result valid = ok("agent", "--config", config.toString(), "--check-config");
    assertThat(valid.out()).contains("valid; 1 target(s)");

    Path bad = tmp.resolve("bad.yaml");
    Files.writeString(bad, Files.readString(config).replace("type: servlet", "type: iis"));
    Result invalid = run("agent", "--config", bad.toString(), "--check-config");
    assertThat(invalid.code()).isEqualTo(2);
    assertThat(invalid.err()).contains("targets.exchange.type").contains("iis");
  }

  @Test
  void theExampleConfigurationInDistIsValid() {
    Result r = ok("agent", "--config", ROOT.resolve("dist/agent.yaml.example").toString(), "--check-config");

    assertThat(r.out()).contains("valid; 1 target(s), state in /var/lib/tourniquet");
  }

  @Test
  void theExampleFleetSectionUncommentedIsValidAndNeedsItsTokenFile() throws Exception {
    String example = Files.readString(ROOT.resolve("dist/agent.yaml.example"));
    Path withFleet = tmp.resolve("agent-fleet.yaml");
    Files.writeString(withFleet, example.replace("# fleet:", "fleet:").replace("#   url:", "  url:")
        .replace("#   enrolmentTokenFile: /etc/tourniquet/enrol.token", "  enrolmentTokenFile: " + tmp.resolve("enrol.token"))
        .replace("  url: https://feed.example.org/tourniquet/", "  fleetFeed: default"));
    assertThat(Files.readString(withFleet)).contains("\nfleet:\n  url: https://fleet.example.org:8420/\n");

    Result missing = run("agent", "--config", withFleet.toString(), "--check-config");
    assertThat(missing.code()).isEqualTo(2);
    assertThat(missing.err()).contains("fleet.enrolmentTokenFile " + tmp.resolve("enrol.token")).contains("no such file");

    Files.writeString(tmp.resolve("enrol.token"), "tqe_example\n");
    assertThat(ok("agent", "--config", withFleet.toString(), "--check-config").out())
        .contains("fleet https://fleet.example.org:8420/: enrols at first start");
  }

  @Test
  void csvQuotesFieldsWithCommasQuotesAndNewlines() {
    assertThat(StatusTable.csvLine(List.of("a", "b,c", "say \"hi\"", "x\ny")))
        .isEqualTo("a,\"b,c\",\"say \"\"hi\"\"\",\"x\ny\"\r\n");
    assertThat(Set.of(StatusTable.COLUMNS.size())).containsExactly(7);
  }
}
