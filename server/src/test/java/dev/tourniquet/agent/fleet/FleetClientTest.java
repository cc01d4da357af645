package dev.tourniquet.agent.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tourniquet.agent.AgentControl;
import dev.tourniquet.agent.AgentStatus;
import dev.tourniquet.agent.MitigationStatus;
import dev.tourniquet.agent.OrgPolicy;
import dev.tourniquet.agent.Status;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.feed.tuf.Role;
import dev.tourniquet.feed.tuf.SigningKey;
import dev.tourniquet.server.FleetServer;
import java.io.IOException;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's fleet client against a real fleet server on 127.0.0.1 (embedded H2). */
class FleetClientTest {
  @TempDir
  Path dir;
  FeedRepository repo;
  SigningKey key;
  FleetServer server;
  String adminToken;
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws Exception {
    key = SigningKey.generate();
    Map<Role, FeedRepository.KeySet> keys = new EnumMap<>(Role.class);
    for (Role role : Role.values()) {
      keys.put(role, new FeedRepository.KeySet(List.of(key.verificationKey()), 1));
    }
    repo = FeedRepository.init(dir.resolve("repo"), keys, FeedRepository.Validity.defaults(), Clock.systemUTC());
    repo.sign(Role.ROOT, key);
    publish("M1", 1);
    server = startServer(0);
    adminToken = Files.readString(server.adminTokenFile()).trim();
  }

  private FleetServer startServer(int port) throws IOException {
    return FleetServer.start(FleetServer.Settings.builder(dir.resolve("data")).listen("127.0.0.1", port)
        .feed("default", repo.publishedDirectory())
        .timings(Duration.ofSeconds(15), Duration.ofMillis(100), Duration.ofSeconds(30), Duration.ofHours(3)).build());
  }

  private void publish(String id, int revision) throws Exception {
    repo.addTarget("mitigations/" + id + ".json",
        ("{\"id\":\"" + id + "\",\"revision\":" + revision + "}").getBytes(StandardCharsets.UTF_8));
    repo.sign(Role.TARGETS, key);
    repo.publish(List.of(key), List.of(key));
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  private JsonNode admin(String method, String path, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(server.uri().resolve(path)).header("Authorization", "Bearer " + adminToken);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isBetween(200, 201);
    return FleetClient.JSON.readTree(r.body());
  }

  private FleetClient enrolled(String name, Map<String, String> labels, boolean dataCollection) throws Exception {
    String token = admin("POST", "/api/v1/admin/enrolment-tokens", "{}").get("token").asText();
    Path credential = dir.resolve(name + ".credential");
    FleetClient.enrol(server.uri(), token, name, labels, credential);
    return FleetClient.open(server.uri(), credential, dataCollection);
  }

  private static AgentStatus status(String server) {
    return new AgentStatus(server, Map.of(), "microsoft-exchange-server", Optional.of("15.2.1118.7"), true,
        Optional.of(Instant.parse("2026-03-01T12:00:00Z")), Instant.parse("2026-03-01T13:00:00Z"), "ok", "ok", 3,
        List.of(new MitigationStatus("M1", 1, "request-rules", "abort Autodiscover PowerShell", Status.APPLIED,
            "applies to 15.2.1118.7", Optional.of(1), Optional.of(true)),
            new MitigationStatus("M2", 1, "response-rules", "CSP", Status.AUDIT, "mode audit", Optional.of(1),
                Optional.of(true))),
        Map.of("app-a", Map.of("M2", Map.of("csp", 3L)), "app-b", Map.of("M2", Map.of("csp", 4L, "other", 1L))));
  }

  /** An agent that counts hints and lets the test wait for them. */
  static final class Hints implements AgentControl {
    final Semaphore hints = new Semaphore(0);

    @Override
    public void hint() {
      hints.release();
    }

    void await(String what) throws InterruptedException {
      assertThat(hints.tryAcquire(15, TimeUnit.SECONDS)).as("a hint after " + what).isTrue();
    }
  }

  @Test
  void enrolmentWritesAnOwnerOnlyCredentialAndThePolicyMapsToTheAgentsOrgPolicy() throws Exception {
    FleetClient client = enrolled("web-01", Map.of("ring", "canary"), true);
    admin("POST", "/api/v1/admin/org/block", "{\"id\":\"M1\"}");
    admin("POST", "/api/v1/admin/org/mode", "{\"id\":\"M2\",\"mode\":\"audit\"}");
    admin("POST", "/api/v1/admin/servers/web-01/disable", "");

    OrgPolicy policy = client.orgPolicy();

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("web-01.credential"))))
        .isEqualTo("rw-------");
    assertThat(policy.enabled()).isTrue();
    assertThat(policy.serverEnabled()).isFalse();
    assertThat(policy.blocked()).containsExactly("M1");
    assertThat(policy.modes()).containsExactly(Map.entry("M2", Mitigation.Mode.AUDIT));
    assertThat(policy.held()).isEmpty();
  }

  @Test
  void heldRevisionsAreHeldForServersOutsideTheCanaryRing() throws Exception {
    FleetClient canary = enrolled("web-01", Map.of("ring", "canary"), true);
    FleetClient broad = enrolled("web-02", Map.of("ring", "broad"), true);
    admin("POST", "/api/v1/admin/org/rollout", "{\"enabled\":true}");

    publish("M3", 1);
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!broad.orgPolicy().held().containsKey("M3") && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }

    assertThat(broad.orgPolicy().held()).containsOnlyKeys("M3");
    assertThat(broad.orgPolicy().held().get("M3")).startsWith("rollout of M3.1: ring canary first, waiting for approval");
    assertThat(canary.orgPolicy().held()).isEmpty();
  }

  @Test
  void reportCarriesStatusesAndAuditHitsSummedOverTargets() throws Exception {
    FleetClient client = enrolled("web-01", Map.of(), true);

    client.report(status("web-01"));

    JsonNode server = admin("GET", "/api/v1/admin/servers/web-01", null);
    assertThat(server.get("productVersion").asText()).isEqualTo("15.2.1118.7");
    assertThat(server.get("feedHealth").asText()).isEqualTo("ok");
    assertThat(server.get("mitigations").get(0).get("status").asText()).isEqualTo("Applied");
    assertThat(server.get("mitigations").get(1).get("auditHits").toString()).isEqualTo("{\"csp\":7,\"other\":1}");
  }

  @Test
  void theNotConfirmedNoteReachesTheServerAndAReasonTooLongForItIsShortenedNotRefused() throws Exception {
    FleetClient client = enrolled("web-01", Map.of(), true);
    String note = "applies to 15.2.1118.7; not confirmed live: no servlet filter has loaded /srv/app.json yet";
    String rejected = "applied; not enforced on app: the servlet filter rejected /srv/app.json: " + "x".repeat(3000);
    AgentStatus status = new AgentStatus("web-01", Map.of(), "microsoft-exchange-server", Optional.of("15.2.1118.7"), true,
        Optional.empty(), Instant.parse("2026-03-01T13:00:00Z"), "ok", "ok", 3, List.of(
            new MitigationStatus("M1", 1, "request-rules", "abort", Status.APPLIED, note, Optional.of(1), Optional.of(false)),
            new MitigationStatus("M2", 1, "request-rules", "abort", Status.FAILED, rejected, Optional.of(1),
                Optional.of(false))),
        Map.of());

    client.report(status);

    JsonNode rows = admin("GET", "/api/v1/admin/servers/web-01", null).get("mitigations");
    assertThat(rows.get(0).get("reason").asText()).isEqualTo(note);
    assertThat(rows.get(1).get("status").asText()).isEqualTo("Failed");
    assertThat(rows.get(1).get("reason").asText()).hasSize(2000).startsWith("applied; not enforced on app: ").endsWith("x…");
  }

  @Test
  void controlCharactersAndAFeedErrorTooLongForTheServerAreMadeSafeNotRefused() throws Exception {
    // A failure whose reason carried an escape sequence (a command's coloured output), or a feed error longer
    // than the server takes, made the server refuse every report: the failing server only looked stale.
    FleetClient client = enrolled("web-01", Map.of(), true);
    String reason = "nginx -t failed:\n\u001b[31merror\u001b[0m in line 3\u0000";
    String feedError = "feed rejected: " + "y".repeat(3000);
    AgentStatus status = new AgentStatus("web-01", Map.of(), "microsoft-exchange-server",
        Optional.of("15.2\u0007" + "9".repeat(200)), true, Optional.empty(), Instant.parse("2026-03-01T13:00:00Z"),
        feedError, "ok", 3, List.of(new MitigationStatus("M1", 1, "request-rules", "abort", Status.FAILED, reason,
            Optional.of(1), Optional.of(false))), Map.of());

    client.report(status);

    JsonNode server = admin("GET", "/api/v1/admin/servers/web-01", null);
    assertThat(server.get("mitigations").get(0).get("reason").asText())
        .isEqualTo("nginx -t failed:\n\ufffd[31merror\ufffd[0m in line 3\ufffd");
    assertThat(server.get("feedHealth").asText()).hasSize(2000).startsWith("feed rejected: y").endsWith("y…");
    assertThat(server.get("productVersion").asText()).hasSize(128).startsWith("15.2\ufffd999");
  }

  @Test
  void withDataCollectionOffOnlyAHeartbeatIsSent() throws Exception {
    FleetClient client = enrolled("web-01", Map.of(), false);

    client.report(status("web-01"));
    client.orgPolicy();

    JsonNode server = admin("GET", "/api/v1/admin/servers/web-01", null);
    assertThat(server.get("dataCollection").asBoolean()).isFalse();
    assertThat(server.get("mitigations")).isEmpty();
    assertThat(server.get("productVersion").isNull()).isTrue();
  }

  @Test
  void aRemovedServersCredentialIsRefusedWithTheServersReason() throws Exception {
    FleetClient client = enrolled("web-01", Map.of(), true);
    admin("DELETE", "/api/v1/admin/servers/web-01", null);

    assertThatThrownBy(client::orgPolicy).isInstanceOf(IOException.class)
        .hasMessageContaining("expected HTTP 200 but found 401").hasMessageContaining("agent credential");
  }

  @Test
  void credentialFileReadableByOthersIsRefused() throws Exception {
    enrolled("web-01", Map.of(), true);
    Path file = dir.resolve("web-01.credential");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

    assertThatThrownBy(() -> FleetClient.open(server.uri(), file, true)).isInstanceOf(IOException.class)
        .hasMessageContaining("readable by its owner only");
  }

  @Test
  void feedAndPolicyEventsBecomeHints() throws Exception {
    FleetClient client = enrolled("web-01", Map.of(), true);
    Hints agent = new Hints();
    try (PushListener push = client.listen(agent)) {
      awaitConnected(push, 1);

      repo.refreshTimestamp(List.of(key));
      agent.await("a new feed timestamp");

      admin("POST", "/api/v1/admin/org/block", "{\"id\":\"M1\"}");
      agent.await("a policy change");
    }
  }

  @Test
  void lostStreamIsReconnectedAndHintsOnce() throws Exception {
    FleetClient client = enrolled("web-01", Map.of(), true);
    Hints agent = new Hints();
    int port = server.uri().getPort();
    try (PushListener push = PushListener.start(client, agent, new PushListener.Settings(Duration.ofMillis(100),
        Duration.ofMillis(400), Duration.ofSeconds(45), () -> 0.5))) {
      awaitConnected(push, 1);

      server.close();
      server = startServer(port); // same data directory, same port: a restart

      agent.await("reconnecting");
      assertThat(push.connections()).isGreaterThanOrEqualTo(2);
      admin("POST", "/api/v1/admin/org/block", "{\"id\":\"M1\"}");
      agent.await("a policy change on the new stream");
    }
  }

  @Test
  void silentStreamIsAbandonedAndReopened() throws Exception {
    FleetClient client = enrolled("web-01", Map.of(), true);
    Hints agent = new Hints();
    // The server's keep-alive is every 15 s; a silence limit of 300 ms trips long before it.
    try (PushListener push = PushListener.start(client, agent, new PushListener.Settings(Duration.ofMillis(50),
        Duration.ofMillis(100), Duration.ofMillis(300), () -> 0.5))) {
      awaitConnected(push, 2);
      agent.await("reopening a silent stream");
    }
  }

  @Test
  void clientsOpenedWithOneSharedHttpClientReportAndListenThroughIt() throws Exception {
    List<String> asked = new CopyOnWriteArrayList<>();
    HttpClient shared = HttpClient.newBuilder().proxy(recording(asked)).build();
    enrolled("web-01", Map.of(), true);
    enrolled("web-02", Map.of(), true);
    FleetClient first = FleetClient.open(server.uri(), dir.resolve("web-01.credential"), true, shared);
    FleetClient second = FleetClient.open(server.uri(), dir.resolve("web-02.credential"), true, shared);
    Hints firstAgent = new Hints();
    Hints secondAgent = new Hints();
    try (PushListener a = first.listen(firstAgent); PushListener b = second.listen(secondAgent)) {
      awaitConnected(a, 1);
      awaitConnected(b, 1);
      first.report(status("web-01"));
      second.report(status("web-02"));

      repo.refreshTimestamp(List.of(key));
      firstAgent.await("a new feed timestamp");
      secondAgent.await("a new feed timestamp");
    }

    assertThat(admin("GET", "/api/v1/admin/servers/web-02", null).get("mitigations").get(0).get("status").asText())
        .isEqualTo("Applied");
    assertThat(asked).filteredOn(p -> p.equals("/api/v1/agent/events")).hasSize(2);
    assertThat(asked).filteredOn(p -> p.equals("/api/v1/agent/report")).hasSize(2);
  }

  /** A proxy selector that chooses no proxy and records the path of every request it is asked about. */
  static ProxySelector recording(List<String> paths) {
    return new ProxySelector() {
      @Override
      public List<Proxy> select(URI uri) {
        paths.add(uri.getPath());
        return List.of(Proxy.NO_PROXY);
      }

      @Override
      public void connectFailed(URI uri, SocketAddress address, IOException e) {}
    };
  }

  private static void awaitConnected(PushListener push, int connections) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (push.connections() < connections && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(push.connections()).as("stream connections").isGreaterThanOrEqualTo(connections);
  }

  /**
   * A hostile or broken fleet server on 127.0.0.1: every request gets 200 and then {@code body}, which
   * writes what it likes (each writer is bounded, so the test ends even if the client misbehaves).
   */
  private static com.sun.net.httpserver.HttpServer hostile(BodyWriter body) throws IOException {
    com.sun.net.httpserver.HttpServer hostile = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
    hostile.createContext("/", exchange -> {
      try (exchange; java.io.OutputStream out = exchange.getResponseBody()) {
        exchange.sendResponseHeaders(200, 0);
        body.write(exchange.getRequestURI().getPath(), out);
      } catch (IOException | InterruptedException clientHungUp) {
        // what the client should do
      }
    });
    hostile.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    hostile.start();
    return hostile;
  }

  interface BodyWriter {
    void write(String path, java.io.OutputStream out) throws IOException, InterruptedException;
  }

  private FleetClient clientOf(com.sun.net.httpserver.HttpServer hostile, Duration timeout) throws IOException {
    Path credential = dir.resolve("hostile.credential");
    CredentialFile.write(credential, "tqa_" + "A".repeat(43));
    return FleetClient.open(URI.create("http://127.0.0.1:" + hostile.getAddress().getPort() + "/"), credential, true,
        HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).build(), timeout);
  }

  @Test
  void answerWithoutEndIsRefusedAtTheCapInsteadOfFillingTheAgentsMemory() throws Exception {
    java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
    com.sun.net.httpserver.HttpServer hostile = hostile((path, out) -> {
      byte[] chunk = " ".repeat(8192).getBytes(StandardCharsets.US_ASCII);
      while (sent.get() < 256L * 1024 * 1024) {
        out.write(chunk);
        sent.addAndGet(chunk.length);
      }
    });
    try {
      FleetClient client = clientOf(hostile, Duration.ofSeconds(30));

      assertThatThrownBy(client::orgPolicy).isInstanceOf(IOException.class)
          .hasMessageEndingWith("/api/v1/agent/policy: expected an answer of at most 1048576 bytes but found more");
      assertThat(sent.get()).as("bytes sent before the client hung up").isLessThan(256L * 1024 * 1024);
    } finally {
      hostile.stop(0);
    }
  }

  @Test
  void answerSentAByteAtATimeIsGivenUpAtTheDeadlineInsteadOfHoldingTheCheck() throws Exception {
    java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
    com.sun.net.httpserver.HttpServer hostile = hostile((path, out) -> {
      // A real delay, since the slowness is what is tested: a byte every 100 ms keeps the answer alive, so only
      // the client's deadline on the whole answer (1 s, the least its message names in whole seconds) ends it.
      while (sent.get() < 300) { // 30 s at most
        out.write('{');
        out.flush();
        sent.incrementAndGet();
        Thread.sleep(100);
      }
    });
    try {
      FleetClient client = clientOf(hostile, Duration.ofSeconds(1));

      assertThatThrownBy(client::orgPolicy).isInstanceOf(IOException.class)
          .hasMessageContaining("/api/v1/agent/policy: the download did not end within 1 s");
      assertThat(sent.get()).as("bytes sent before the client gave up").isLessThan(300);
    } finally {
      hostile.stop(0);
    }
  }

  @Test
  void endlessLineOnTheEventStreamIsCutAndTheStreamReopenedStillHinting() throws Exception {
    java.util.concurrent.atomic.AtomicInteger streams = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.CountDownLatch over = new java.util.concurrent.CountDownLatch(1);
    com.sun.net.httpserver.HttpServer hostile = hostile((path, out) -> {
      if (streams.incrementAndGet() == 1) {
        byte[] chunk = "x".repeat(8192).getBytes(StandardCharsets.US_ASCII);
        while (sent.get() < 256L * 1024 * 1024) { // 256 MiB at most, on one line
          out.write(chunk);
          sent.addAndGet(chunk.length);
        }
      } else {
        out.write("event: feed\n\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        over.await(30, java.util.concurrent.TimeUnit.SECONDS); // the stream stays open until the test is over
      }
    });
    Hints agent = new Hints();
    try (PushListener push = PushListener.start(clientOf(hostile, Duration.ofSeconds(30)), agent,
        new PushListener.Settings(Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofSeconds(45), () -> 0.5))) {
      agent.await("reconnecting after the endless line");
      agent.await("the feed event on the second stream");
      assertThat(push.connections()).isEqualTo(2);
      assertThat(sent.get()).as("bytes of the endless line sent before the client hung up").isLessThan(256L * 1024 * 1024);
    } finally {
      over.countDown();
      hostile.stop(0);
    }
  }

  @Test
  void backoffGrowsExponentiallyToTheCapWithFullJitter() {
    Backoff backoff = new Backoff(Duration.ofSeconds(1), Duration.ofMinutes(5), () -> 0.999);
    assertThat(backoff.bound(0)).isEqualTo(1_000);
    assertThat(backoff.bound(3)).isEqualTo(8_000);
    assertThat(backoff.bound(40)).isEqualTo(300_000);
    assertThat(backoff.next().toMillis()).isEqualTo(999);
    assertThat(backoff.next().toMillis()).isEqualTo(1_998);
    backoff.reset();
    assertThat(backoff.next().toMillis()).isEqualTo(999);
    assertThat(new Backoff(Duration.ofSeconds(1), Duration.ofMinutes(5), () -> 0.0).next()).isZero();
  }

  @Test
  void serverUrlMustBeHttpOrHttps() {
    assertThatThrownBy(() -> FleetClient.open(URI.create("ftp://fleet/"), dir.resolve("x"), true))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected an absolute http or https URL");
  }

  @Test
  void unreachableServerIsNamedWithWhatWentWrongNotNull() throws Exception {
    int port;
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort(); // closed again: nothing listens there now
    }
    Path credential = dir.resolve("unreachable.credential");
    CredentialFile.write(credential, "tqa_" + "A".repeat(43));
    FleetClient client = FleetClient.open(URI.create("http://127.0.0.1:" + port + "/"), credential, true);

    // What the agent's status shows as "organisation policy unavailable, keeping the last one obtained (…): …".
    assertThatThrownBy(client::orgPolicy).isInstanceOf(IOException.class)
        .hasMessage("GET http://127.0.0.1:" + port + "/api/v1/agent/policy: cannot connect (connection refused, or the"
            + " host is unreachable)");
  }

  @Test
  void aHeldMitigationWithoutItsReasonIsAPolicyThatDoesNotParse() throws Exception {
    JsonNode policy = new com.fasterxml.jackson.databind.ObjectMapper().readTree("{\"orgMitigationsEnabled\":true,"
        + "\"serverMitigationsEnabled\":true,\"blocked\":[],\"modes\":{},\"held\":{\"M1\":3}}");

    assertThatThrownBy(() -> FleetClient.parsePolicy(policy)).isInstanceOf(IOException.class)
        .hasMessage("policy: held.M1: expected the reason it is held, a string, but found 3");
  }
}
