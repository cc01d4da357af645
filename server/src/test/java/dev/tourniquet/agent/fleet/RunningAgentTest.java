package dev.tourniquet.agent.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tourniquet.agent.AgentConfig;
import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.feed.tuf.Role;
import dev.tourniquet.feed.tuf.SigningKey;
import dev.tourniquet.server.FleetServer;
import dev.tourniquet.servlet.ActiveMitigation;
import dev.tourniquet.servlet.EnforcementFile;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * An agent configured by its YAML file joins a real fleet server (embedded H2, 127.0.0.1) through
 * {@link RunningAgent}, the code path of {@code tourniquet agent --config FILE}: it enrols with a token an
 * admin issued, takes its feed from the server ({@code feed.fleetFeed}), reports, and reacts to the server's
 * push hint. The check interval is 1 h, so within these tests only a push hint can make it check again.
 */
class RunningAgentTest {
  private static final Path ROOT = Path.of(System.getProperty("tourniquet.repo.root", "..")).toAbsolutePath().normalize();
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir
  Path dir;
  Path published;
  FleetServer server;
  String adminToken;
  Path config;
  Path tokenFile;
  Path enforcement;
  final List<RunningAgent> agents = new ArrayList<>();
  final HttpClient http = HttpClient.newHttpClient();
  final ListAppender<ILoggingEvent> log = new ListAppender<>();

  @BeforeEach
  void start() throws Exception {
    SigningKey key = SigningKey.generate();
    Map<Role, FeedRepository.KeySet> keys = new EnumMap<>(Role.class);
    for (Role role : Role.values()) {
      keys.put(role, new FeedRepository.KeySet(List.of(key.verificationKey()), 1));
    }
    FeedRepository repo = FeedRepository.init(dir.resolve("repo"), keys, FeedRepository.Validity.defaults(),
        Clock.systemUTC());
    repo.sign(Role.ROOT, key);
    repo.addTarget(FeedRepository.mitigationTarget("M1"), Files.readAllBytes(ROOT.resolve("examples/mitigations/M1.json")));
    repo.sign(Role.TARGETS, key);
    repo.publish(List.of(key), List.of(key));
    published = repo.publishedDirectory();

    server = FleetServer.start(FleetServer.Settings.builder(dir.resolve("data")).listen("127.0.0.1", 0)
        .feed("default", published)
        .timings(Duration.ofSeconds(15), Duration.ofMillis(100), Duration.ofSeconds(30), Duration.ofHours(3)).build());
    adminToken = Files.readString(server.adminTokenFile()).trim();

    tokenFile = dir.resolve("etc/enrol.token");
    enforcement = dir.resolve("enforcement/exchange.json");
    config = writeConfig(true);
    log.start();
    ((Logger) LoggerFactory.getLogger("dev.tourniquet.agent.fleet")).addAppender(log);
  }

  @AfterEach
  void stop() throws Exception {
    ((Logger) LoggerFactory.getLogger("dev.tourniquet.agent.fleet")).detachAppender(log);
    for (RunningAgent a : agents) {
      a.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private Path writeConfig(boolean dataCollection) throws Exception {
    Path file = dir.resolve("etc/agent.yaml");
    Files.createDirectories(file.getParent());
    Files.writeString(file, """
        server: {name: web-01, labels: {ring: canary, site: paris}}
        product: {name: microsoft-exchange-server, version: 15.2.1118.7}
        feed: {fleetFeed: default, trustedRoot: %s}
        fleet: {url: '%s', enrolmentTokenFile: enrol.token}
        stateDir: ../state
        interval: 1h
        dataCollection: %s
        admin: {port: 0}
        targets:
          - {name: exchange, type: servlet, enforcementFile: %s}
        """.formatted(published.resolve("1.root.json"), server.uri(), dataCollection, enforcement));
    return file;
  }

  private String issueToken() throws Exception {
    String token = admin("POST", "/api/v1/admin/enrolment-tokens", "{\"note\":\"web-01\"}").get("token").asText();
    Files.writeString(tokenFile, token + "\n");
    Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
    return token;
  }

  private RunningAgent startAgent() throws Exception {
    RunningAgent agent = RunningAgent.start(AgentConfig.load(config));
    agents.add(agent);
    return agent;
  }

  private void stopAgent(RunningAgent agent) throws Exception {
    agents.remove(agent);
    agent.close();
  }

  private JsonNode admin(String method, String path, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(server.uri().resolve(path)).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + adminToken);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(method + " " + path + ": " + r.body()).isBetween(200, 204);
    return r.body().isEmpty() ? FleetClient.JSON.createObjectNode() : FleetClient.JSON.readTree(r.body());
  }

  private List<String> enforced() throws Exception {
    if (!Files.exists(enforcement)) {
      return List.of();
    }
    return EnforcementFile.read(enforcement).mitigations().stream().map(ActiveMitigation::appliedId).toList();
  }

  /** The status the server holds for M1 from web-01's last report, or "" if none. */
  private String reportedStatusOfM1() throws Exception {
    for (JsonNode m : admin("GET", "/api/v1/admin/servers/web-01", null).path("mitigations")) {
      if (m.path("id").asText().equals("M1")) {
        return m.path("status").asText();
      }
    }
    return "";
  }

  private static void await(String what, Callable<Boolean> done) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!done.call()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("expected " + what + " within " + WAIT.toSeconds() + " s");
      }
      LockSupport.parkNanos(50_000_000);
    }
  }

  private static void awaitPushConnected(RunningAgent agent) throws Exception {
    PushListener push = agent.push().orElseThrow();
    await("the push stream to be open", () -> push.connections() >= 1);
  }

  private String messages() {
    return String.join("\n", log.list.stream().map(ILoggingEvent::getFormattedMessage).toList());
  }

  @Test
  void configuredAgentEnrolsWithItsTokenAppliesAndReportsTheHostedFeed() throws Exception {
    String token = issueToken();

    startAgent();

    Path credential = dir.resolve("state/fleet.credential");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(credential))).isEqualTo("rw-------");
    await("M1 applied from the server's hosted feed", () -> enforced().equals(List.of("M1.1")));
    await("the report of M1 as Applied", () -> reportedStatusOfM1().equals("Applied"));
    JsonNode reported = admin("GET", "/api/v1/admin/servers/web-01", null);
    assertThat(reported.path("labels").path("ring").asText()).isEqualTo("canary");
    assertThat(reported.path("productVersion").asText()).isEqualTo("15.2.1118.7");
    assertThat(reported.path("dataCollection").asBoolean()).isTrue();
    assertThat(messages()).contains("using the one-time enrolment token in " + tokenFile).doesNotContain(token)
        .doesNotContain(Files.readString(credential).trim());
  }

  @Test
  void behindAProxyEveryRequestToTheFleetServerGoesThroughIt() throws Exception {
    issueToken();
    try (PipeProxy proxy = new PipeProxy(server.uri().getPort())) {
      // The feed is the fleet server's, so feed.proxy carries the fleet API too (fleet.proxy would override it).
      Files.writeString(config, Files.readString(config).replace("feed: {fleetFeed: default,",
          "feed: {fleetFeed: default, proxy: 'http://127.0.0.1:" + proxy.port() + "',"));

      RunningAgent agent = startAgent();

      await("M1 applied through the proxy", () -> enforced().equals(List.of("M1.1")));
      await("the report of M1 as Applied", () -> reportedStatusOfM1().equals("Applied"));
      awaitPushConnected(agent);
      String origin = "http://127.0.0.1:" + server.uri().getPort() + "/";
      // A request sent to a proxy names the whole URL (absolute form); one sent directly names only the path.
      await("the report to pass the proxy", () -> proxy.seen().contains("POST " + origin + "api/v1/agent/report "));
      assertThat(proxy.seen()).contains("POST " + origin + "api/v1/enrol ", "GET " + origin + "api/v1/agent/policy ",
          "GET " + origin + "api/v1/agent/events ", "GET " + origin + "feeds/default/timestamp.json ");
    }
  }

  /**
   * A forward proxy for plain HTTP reduced to what the test needs: every connection is piped to the one
   * origin (a server must accept the absolute-form request target a proxy passes on), and what the client
   * sent is kept so the test can see that requests came through here.
   */
  private static final class PipeProxy implements AutoCloseable {
    private final java.net.ServerSocket listener = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    private final StringBuffer seen = new StringBuffer();
    private final List<java.net.Socket> sockets = java.util.Collections.synchronizedList(new ArrayList<>());

    PipeProxy(int originPort) throws java.io.IOException {
      Thread accept = new Thread(() -> {
        while (!listener.isClosed()) {
          try {
            java.net.Socket client = listener.accept();
            java.net.Socket origin = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), originPort);
            sockets.add(client);
            sockets.add(origin);
            pipe(client, origin, true);
            pipe(origin, client, false);
          } catch (java.io.IOException e) {
            return; // closed
          }
        }
      }, "pipe-proxy");
      accept.setDaemon(true);
      accept.start();
    }

    private void pipe(java.net.Socket from, java.net.Socket to, boolean record) {
      Thread t = new Thread(() -> {
        byte[] buffer = new byte[8192];
        try (from; to) {
          for (int n; (n = from.getInputStream().read(buffer)) > 0; ) {
            if (record) {
              seen.append(new String(buffer, 0, n, java.nio.charset.StandardCharsets.ISO_8859_1));
            }
            to.getOutputStream().write(buffer, 0, n);
            to.getOutputStream().flush();
          }
        } catch (java.io.IOException e) {
          // one side closed: both are closed on the way out
        }
      }, "pipe-proxy-stream");
      t.setDaemon(true);
      t.start();
    }

    int port() {
      return listener.getLocalPort();
    }

    String seen() {
      return seen.toString();
    }

    @Override
    public void close() throws java.io.IOException {
      listener.close();
      synchronized (sockets) {
        for (java.net.Socket s : sockets) {
          s.close();
        }
      }
    }
  }

  @Test
  void blockingOnTheServerRemovesTheMitigationThroughThePushHintAlone() throws Exception {
    issueToken();
    RunningAgent agent = startAgent();
    await("M1 applied", () -> enforced().equals(List.of("M1.1")));
    awaitPushConnected(agent);

    admin("POST", "/api/v1/admin/org/block", "{\"id\":\"M1\"}");

    // The interval is 1 h and the first check succeeded: only the push hint can make the agent check now.
    await("M1 removed after the push hint", () -> enforced().isEmpty());
    await("the report of M1 as Blocked", () -> reportedStatusOfM1().equals("Blocked"));
    assertThat(agent.agent().status().nextCheck()).isAfter(java.time.Instant.now().plus(Duration.ofMinutes(50)));
  }

  @Test
  void secondStartReusesTheCredentialAndNeedsNoToken() throws Exception {
    issueToken();
    RunningAgent first = startAgent();
    await("the first report", () -> reportedStatusOfM1().equals("Applied"));
    String enrolledAt = admin("GET", "/api/v1/admin/servers/web-01", null).path("enrolledAt").asText();
    String credential = Files.readString(dir.resolve("state/fleet.credential"));
    stopAgent(first);
    Files.delete(tokenFile);

    RunningAgent second = startAgent();
    awaitPushConnected(second);
    admin("POST", "/api/v1/admin/servers/web-01/block", "{\"id\":\"M1\"}");

    await("M1 removed by the restarted agent", () -> enforced().isEmpty());
    assertThat(Files.readString(dir.resolve("state/fleet.credential"))).isEqualTo(credential);
    assertThat(admin("GET", "/api/v1/admin/servers", null).findValuesAsText("server")).containsExactly("web-01");
    assertThat(admin("GET", "/api/v1/admin/servers/web-01", null).path("enrolledAt").asText()).isEqualTo(enrolledAt);
    assertThat(messages()).contains("already enrolled");
  }

  @Test
  void renamingAnEnrolledServerIsRefusedAtStartInsteadOfReportsRefusedLater() throws Exception {
    issueToken();
    stopAgent(startAgent());
    assertThat(Files.readString(dir.resolve("state/fleet.server-name")).trim()).isEqualTo("web-01");
    Files.writeString(config, Files.readString(config).replace("name: web-01", "name: web-99"));

    assertThatThrownBy(this::startAgent).isInstanceOf(dev.tourniquet.agent.ConfigException.class)
        .hasMessageContaining("server.name: expected \"web-01\", the name this agent enrolled with at " + server.uri())
        .hasMessageContaining("but found \"web-99\"");
    assertThat(admin("GET", "/api/v1/admin/servers", null).findValuesAsText("server")).containsExactly("web-01");
  }

  @Test
  void plainHttpToAnotherHostIsWarnedAbout() throws Exception {
    // 192.0.2.1 (TEST-NET-1) is never contacted: without a token file the start stops before the network.
    Files.writeString(config, Files.readString(config).replace("url: '" + server.uri() + "'", "url: 'http://192.0.2.1:8420/'"));

    assertThatThrownBy(this::startAgent).isInstanceOf(dev.tourniquet.agent.ConfigException.class)
        .hasMessageContaining("fleet.enrolmentTokenFile");
    assertThat(messages()).contains("fleet.url http://192.0.2.1:8420/ is plain http to another host");
  }

  @Test
  void wrongTokenIsAClearErrorAndLeavesNoCredential() throws Exception {
    Files.writeString(tokenFile, "tqe_not-a-token-this-server-issued\n");

    assertThatThrownBy(this::startAgent).isInstanceOf(EnrolmentException.class)
        .hasMessageContaining("fleet.enrolmentTokenFile " + tokenFile)
        .hasMessageContaining("expected HTTP 201 but found 403")
        .hasMessageContaining("expected a valid, unused, unexpired token")
        .hasMessageContaining("no credential was written")
        .hasMessageNotContaining("not-a-token");

    assertThat(dir.resolve("state/fleet.credential")).doesNotExist();
    assertThat(dir.resolve("state/fleet.credential.tmp")).doesNotExist();
    assertThat(enforced()).isEmpty();
    assertThat(admin("GET", "/api/v1/admin/servers", null).findValuesAsText("server")).isEmpty();
  }

  @Test
  void usedTokenIsRefusedForASecondServer() throws Exception {
    issueToken();
    RunningAgent first = startAgent();
    stopAgent(first);
    // Another server (another state directory) given the same, already used, token file.
    Files.writeString(config, Files.readString(config).replace("name: web-01", "name: web-02")
        .replace("stateDir: ../state", "stateDir: ../state2"));

    assertThatThrownBy(this::startAgent).isInstanceOf(EnrolmentException.class)
        .hasMessageContaining("enrolling web-02").hasMessageContaining("found 403")
        .hasMessageContaining("expected a valid, unused, unexpired token");
    assertThat(dir.resolve("state2/fleet.credential")).doesNotExist();
  }

  @Test
  void withDataCollectionOffTheServerHearsOnlyAHeartbeat() throws Exception {
    config = writeConfig(false);
    issueToken();
    startAgent();
    await("M1 applied", () -> enforced().equals(List.of("M1.1")));

    await("a heartbeat", () -> !admin("GET", "/api/v1/admin/servers/web-01", null).path("lastSeen").isNull());

    JsonNode reported = admin("GET", "/api/v1/admin/servers/web-01", null);
    assertThat(reported.path("dataCollection").asBoolean()).isFalse();
    assertThat(reported.path("mitigations")).isEmpty();
    assertThat(reported.path("productVersion").isNull()).isTrue();
  }
}
