package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Collections;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local admin API of a running agent, over real HTTP on 127.0.0.1. */
class AdminApiTest {
  @TempDir
  Path dir;

  AgentFixture fx;
  Agent agent;
  AdminClient client;
  final HttpClient http = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).build();

  @BeforeEach
  void setUp() throws Exception {
    fx = new AgentFixture(dir);
    fx.feed.put(Mitigations.m1(1)).publish();
    start(Agent.builder(fx.load()));
  }

  /** Starts the agent and waits for the check it makes at start. */
  private void start(Agent.Builder builder) throws Exception {
    agent = builder.clock(fx.clock).build();
    agent.start();
    client = AdminClient.forStateDirectory(fx.stateDir, Duration.ofSeconds(60));
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (client.status().lastCheck().isEmpty()) {
      assertThat(System.nanoTime() - deadline).as("first check within 30 s").isNegative();
      Thread.sleep(20);
    }
  }

  @Test
  void operationTheAgentFailsAnswers500SayingWhatFailed() throws Exception {
    agent.close();
    AtomicBoolean failing = new AtomicBoolean();
    start(Agent.builder(fx.load()).hook((point, target, appliedId) -> {
      if (failing.get()) {
        throw new IllegalStateException("the target's disk is full");
      }
    }));
    failing.set(true);

    HttpResponse<String> r = send("POST", "/v1/block", "Bearer " + token(), "{\"id\":\"M1\"}");

    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(r.body()).contains("\"error\"").contains("the agent failed: the target's disk is full");
  }

  @AfterEach
  void tearDown() throws Exception {
    agent.close();
  }

  private String token() throws IOException {
    return Files.readString(fx.stateDir.resolve("admin.token")).strip();
  }

  private HttpResponse<String> send(String method, String path, String authorization, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + agent.adminPort() + path))
        .timeout(Duration.ofSeconds(60))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void statusReportsTheServerAndItsMitigations() throws Exception {
    AgentStatus status = client.status();

    assertThat(status.server()).isEqualTo("mail01");
    assertThat(status.labels()).containsEntry("site", "paris");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.APPLIED);
  }

  @Test
  void everyVerbChangesWhatIsEnforced() throws Exception {
    assertThat(AgentFixture.row(client.post("block", "M1"), "M1").status()).isEqualTo(Status.BLOCKED);
    assertThat(fx.enforced()).isEmpty();
    assertThat(AgentFixture.row(client.post("unblock", "M1"), "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(AgentFixture.row(client.post("remove", "M1"), "M1").status()).isEqualTo(Status.REMOVED);
    assertThat(fx.enforced()).isEmpty();
    assertThat(client.post("unblock", "M1").mitigations()).extracting(MitigationStatus::status).containsExactly(Status.APPLIED);
    assertThat(client.post("disable", null).enabled()).isFalse();
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();
    assertThat(AgentFixture.row(client.post("check", null), "M2").status()).isEqualTo(Status.DETECTED);
    assertThat(AgentFixture.row(client.post("enable", null), "M2").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.1", "M2.1");
  }

  @Test
  void wrongTokenIsRefusedWith401AndChangesNothing() throws Exception {
    HttpResponse<String> response = send("POST", "/v1/block", "Bearer " + token().replace(token().charAt(0), '_') + "x",
        "{\"id\":\"M1\"}");

    assertThat(response.statusCode()).isEqualTo(401);
    assertThat(response.body()).contains("\"error\"").contains("the token is wrong");
    assertThat(response.headers().firstValue("WWW-Authenticate")).isPresent();
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(client.status().mitigations()).extracting(MitigationStatus::status).containsExactly(Status.APPLIED);
  }

  @Test
  void missingTokenIsRefusedWith401() throws Exception {
    HttpResponse<String> status = send("GET", "/v1/status", null, null);
    HttpResponse<String> block = send("POST", "/v1/block", null, "{\"id\":\"M1\"}");

    assertThat(status.statusCode()).isEqualTo(401);
    assertThat(status.body()).contains("found none");
    assertThat(block.statusCode()).isEqualTo(401);
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void tokenIsOwnerOnlyAndSurvivesARestart() throws Exception {
    Path file = fx.stateDir.resolve("admin.token");
    String before = token();

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(fx.stateDir))).isEqualTo("rwx------");
    assertThat(before).hasSizeGreaterThanOrEqualTo(43);

    agent.close();
    agent = Agent.builder(fx.load()).clock(fx.clock).build();
    agent.start();

    assertThat(token()).isEqualTo(before);
    assertThat(AdminClient.forStateDirectory(fx.stateDir, Duration.ofSeconds(60)).status().server()).isEqualTo("mail01");
  }

  @Test
  void wrongMethodUnknownPathOversizedAndMalformedBodiesAreJsonErrors() throws Exception {
    String auth = "Bearer " + token();

    HttpResponse<String> get = send("GET", "/v1/block", auth, null);
    HttpResponse<String> unknown = send("GET", "/v1/nothing", auth, null);
    HttpResponse<String> big = send("POST", "/v1/block", auth, "{\"id\":\"" + "M".repeat(5000) + "\"}");
    HttpResponse<String> bad = send("POST", "/v1/block", auth, "{\"id\":");
    HttpResponse<String> badId = send("POST", "/v1/block", auth, "{\"id\":\"../etc\"}");
    HttpResponse<String> unknownId = send("POST", "/v1/remove", auth, "{\"id\":\"M404\"}");

    assertThat(get.statusCode()).isEqualTo(405);
    assertThat(get.headers().firstValue("Allow")).contains("POST");
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(big.statusCode()).isEqualTo(413);
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("expected a JSON body");
    assertThat(badId.statusCode()).isEqualTo(400);
    assertThat(badId.body()).contains("id: expected 1 to 64 letters, digits").contains("../etc");
    assertThat(unknownId.statusCode()).isEqualTo(400);
    assertThat(unknownId.body()).contains("M404");
    for (HttpResponse<String> r : java.util.List.of(get, unknown, big, bad, badId, unknownId)) {
      assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
      assertThat(r.body()).startsWith("{\"error\":");
    }
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void clientSaysWhatTheAgentAnswered() {
    assertThatThrownBy(() -> client.post("block", "bad id"))
        .isInstanceOf(IOException.class).hasMessageStartingWith("the agent answered 400: id: expected 1 to 64 letters, digits");
  }

  @Test
  void listensOnLoopbackOnly() throws Exception {
    Optional<InetAddress> external = Collections.list(NetworkInterface.getNetworkInterfaces()).stream()
        .flatMap(i -> Collections.list(i.getInetAddresses()).stream())
        .filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress())
        .findFirst();
    assumeThat(external).as("a non-loopback IPv4 address on this host").isPresent();

    try (Socket loopback = new Socket()) {
      loopback.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), agent.adminPort()), 5000);
      assertThat(loopback.isConnected()).isTrue();
    }
    assertThatThrownBy(() -> {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(external.get(), agent.adminPort()), 5000);
      }
    }).isInstanceOf(java.net.ConnectException.class);
  }

  @Test
  void clientWithoutARunningAgentSaysSo() throws Exception {
    agent.close();

    assertThatThrownBy(() -> client.status()).isInstanceOf(IOException.class).hasMessageContaining("is it running?");
    agent = Agent.builder(fx.load()).clock(fx.clock).build(); // for tearDown
    agent.start();
  }
}
