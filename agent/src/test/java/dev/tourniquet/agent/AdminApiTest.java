package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The local admin API of a running agent, over real HTTP on 127.0.0.1. */
class AdminApiTest {
  /**
   * Deadlines for the tests of slow clients, which wait for a cut-off: a second instead of the agent's five,
   * and a grace shorter than that (so a test can tell the two apart).
   */
  static final AdminServer.Timeouts FAST = new AdminServer.Timeouts(Duration.ofSeconds(1), Duration.ofMillis(250));

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

  /** What an operation may end in: an exception the agent could not handle, or an Error (a class gone from a jar). */
  static Stream<Arguments> failures() {
    return Stream.of(Arguments.of(new IllegalStateException("the target's disk is full")),
        Arguments.of(new NoClassDefFoundError("dev/tourniquet/agent/Gone (the jar was replaced under the agent)")));
  }

  @ParameterizedTest
  @MethodSource("failures")
  void operationTheAgentFailsAnswers500SayingWhatFailed(Throwable failure) throws Exception {
    agent.close();
    AtomicBoolean failing = new AtomicBoolean();
    start(Agent.builder(fx.load()).hook((point, target, appliedId) -> {
      if (failing.get()) {
        if (failure instanceof Error error) {
          throw error;
        }
        throw (RuntimeException) failure;
      }
    }));
    failing.set(true);

    HttpResponse<String> r = send("POST", "/v1/block", "Bearer " + token(), "{\"id\":\"M1\"}");

    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(r.body()).contains("\"error\"").contains("the agent failed: " + failure.getMessage());
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
  void tokenIsOwnerOnlyInAnOwnerOnlyStateDirectory() throws Exception {
    Path file = fx.stateDir.resolve("admin.token");

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(fx.stateDir))).isEqualTo("rwx------");
    assertThat(token()).hasSizeGreaterThanOrEqualTo(43);
  }

  @Test
  void aTokenFromAnEarlierRunIsRefusedAfterARestart() throws Exception {
    String earlier = token();

    restart();

    assertThat(token()).isNotEqualTo(earlier).hasSizeGreaterThanOrEqualTo(43);
    assertThat(send("GET", "/v1/status", "Bearer " + earlier, null).statusCode()).isEqualTo(401);
    assertThat(send("GET", "/v1/status", "Bearer " + token(), null).statusCode()).isEqualTo(200);
  }

  @Test
  void aTokenFileLoosenedWhileTheAgentWasStoppedIsReplacedByAnOwnerOnlyOne() throws Exception {
    agent.close();
    Path file = fx.stateDir.resolve("admin.token");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

    startAgain();

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
  }

  @Test
  void portFileIsDeletedWhenTheAgentStops() throws Exception {
    assertThat(fx.stateDir.resolve("admin.port")).content().isEqualToIgnoringNewLines(String.valueOf(agent.adminPort()));

    agent.close();

    assertThat(fx.stateDir.resolve("admin.port")).doesNotExist();
    startAgain(); // for tearDown
  }

  @Test
  void afterTheAgentStopsTheClientSaysItIsNotRunningAndSendsNothingToWhoeverTookItsPort() throws Exception {
    int port = agent.adminPort();
    agent.close();

    try (ServerSocket impostor = new ServerSocket()) {
      impostor.setReuseAddress(true);
      impostor.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));

      assertThatThrownBy(() -> AdminClient.forStateDirectory(fx.stateDir, Duration.ofSeconds(2)).status())
          .isInstanceOf(IOException.class).hasMessageContaining("the agent is not running");
      impostor.setSoTimeout(200);
      assertThatThrownBy(impostor::accept).as("a connection to the impostor").isInstanceOf(SocketTimeoutException.class);
    }
    startAgain(); // for tearDown
  }

  @Test
  void aStalePortFileIsDeletedBeforeTheApiListensSoAStartThatCannotListenLeavesNone() throws Exception {
    agent.close();
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Files.writeString(fx.stateDir.resolve("admin.port"), "1\n"); // what a killed agent could leave
      useAdminPort(taken.getLocalPort());
      agent = Agent.builder(fx.load()).clock(fx.clock).build();

      assertThatThrownBy(agent::start).isInstanceOf(IOException.class);
      assertThat(fx.stateDir.resolve("admin.port")).doesNotExist();
    }
  }

  @Test
  void aConfiguredPortInUseFailsTheStartNamingThePortAndSuggestingPortZero() throws Exception {
    agent.close();
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      int port = taken.getLocalPort();
      useAdminPort(port);
      agent = Agent.builder(fx.load()).clock(fx.clock).build();

      assertThatThrownBy(agent::start).isInstanceOf(IOException.class)
          .hasMessageContaining("admin.port " + port + ": cannot listen on 127.0.0.1:" + port)
          .hasMessageContaining("admin.port: 0");
    }
  }

  @Test
  void aConfiguredFixedPortIsListenedOnAndWrittenToThePortFile() throws Exception {
    agent.close();
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort(); // free a moment ago: the agent takes it once this is closed
    }
    useAdminPort(port);

    startAgain();

    assertThat(agent.adminPort()).isEqualTo(port);
    assertThat(fx.stateDir.resolve("admin.port")).content().isEqualToIgnoringNewLines(String.valueOf(port));
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

  /**
   * Bodies that name an id but say more than the API takes: a block sent as {@code {"id":"M1","target":"app"}}
   * must not block M1 on every target, nor one with two ids block whichever the parser kept.
   */
  static Stream<Arguments> ambiguousBodies() {
    return Stream.of(
        Arguments.of("{\"id\":\"M1\",\"target\":\"app\"}", "unknown field \\\"target\\\"; expected only id"),
        Arguments.of("{\"id\":\"M2\",\"id\":\"M1\"}", "Duplicate field 'id'"),
        Arguments.of("{\"id\":\"M1\"} {\"id\":\"M2\"}", "does not parse: Trailing token"));
  }

  @ParameterizedTest
  @MethodSource("ambiguousBodies")
  void aBodyWithAnUnknownFieldATwiceGivenIdOrTrailingContentIsRefusedWith400AndChangesNothing(String body,
      String expected) throws Exception {
    HttpResponse<String> r = send("POST", "/v1/block", "Bearer " + token(), body);

    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.body()).startsWith("{\"error\":\"expected a JSON body").contains(expected);
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(client.status().mitigations()).extracting(MitigationStatus::status).containsExactly(Status.APPLIED);
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
  void clientsThatStallMidRequestDoNotKeepAnAuthenticatedRequestFromBeingAnswered() throws Exception {
    restartWith(FAST);
    String token = token();
    // More stalled clients than the API has threads, without a token or with one: a request line cut short,
    // headers without their end, a body shorter than its Content-Length (answered 401 without reading it, so
    // only the drain of the body waits), and the same with the token (the handler itself waits for the body).
    List<String> partial = List.of(
        "GET /v1/sta",
        "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        "POST /v1/block HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"id\"",
        "POST /v1/block HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token
            + "\r\nContent-Length: 100\r\n\r\n{\"id\"");
    List<Socket> stalled = new ArrayList<>();
    try {
      for (int i = 0; i < 24; i++) {
        stalled.add(stall(partial.get(i % partial.size())));
      }
      long start = System.nanoTime();

      AgentStatus status = AdminClient.forStateDirectory(fx.stateDir, Duration.ofSeconds(40)).status();

      assertThat(status.server()).isEqualTo("mail01");
      // A bound for correctness, not speed: without the cut-off the client's own 40 s timeout ran out. (About
      // the request timeout and two graces here: 24 stalled clients on 8 threads.)
      assertThat(Duration.ofNanos(System.nanoTime() - start)).as("time to answer")
          .isLessThan(Duration.ofSeconds(30));
    } finally {
      for (Socket s : stalled) {
        s.close();
      }
    }
  }

  @Test
  void aClientThatStallsMidRequestIsDisconnectedAfterTheRequestTimeout() throws Exception {
    restartWith(FAST);
    try (Socket s = stall("GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")) {
      s.setSoTimeout((int) FAST.request().plusSeconds(30).toMillis()); // only if the server never closes it
      long start = System.nanoTime();

      assertThat(readUntilClosed(s)).as("what the server answered").isEmpty();
      // Not before the request timeout (the deadline counts from when the server took the connection, a moment
      // after the start measured here), and so not at the grace either.
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(FAST.request().minusMillis(200));
    }
  }

  @Test
  void aClientThatSendsItsRequestSlowlyButWithinTheTimeoutIsAnswered() throws Exception {
    ManualTicker ticker = new ManualTicker();
    AdminServer.Timeouts timeouts = new AdminServer.Timeouts(Duration.ofSeconds(3), Duration.ofMillis(250), ticker);
    restartWith(timeouts);
    long before = ticker.workerReads();
    try (Socket s = stall("GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")) {
      s.setSoTimeout(30_000);
      // The client is slow on the workers' clock: twice the grace (a deadline at the grace would cut it off),
      // and 2.5 s short of the request timeout, with the watchdog looking at that time before the rest comes.
      ticker.awaitAnExchangeTakenUp(before);
      ticker.advanceAndAwaitTheWatchdog(timeouts.queuedGrace().multipliedBy(2));
      s.getOutputStream().write(("Authorization: Bearer " + token() + "\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));

      assertThat(readUntilClosed(s)).startsWith("HTTP/1.1 200");
    }
  }

  @Test
  void anOperationThatTakesLongerThanTheRequestTimeoutIsAnsweredNotCutOff() throws Exception {
    agent.close();
    AtomicBoolean slow = new AtomicBoolean();
    ManualTicker ticker = new ManualTicker();
    start(Agent.builder(fx.load()).adminTimeouts(new AdminServer.Timeouts(FAST.request(), FAST.queuedGrace(), ticker))
        .hook((point, target, appliedId) -> {
      if (slow.getAndSet(false)) {
        try {
          // The operation outlasts the request timeout on the workers' clock, and the watchdog sees it do so.
          ticker.advanceAndAwaitTheWatchdog(FAST.request().plusSeconds(1));
        } catch (InterruptedException e) {
          throw new IllegalStateException("the operation was interrupted", e);
        }
      }
    }));
    slow.set(true);

    HttpResponse<String> r = send("POST", "/v1/block", "Bearer " + token(), "{\"id\":\"M1\"}");

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(fx.enforced()).isEmpty();
  }

  /** Connects to the admin API and sends the start of a request, which it never finishes. */
  private Socket stall(String start) throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), agent.adminPort()), 5000);
    s.getOutputStream().write(start.getBytes(StandardCharsets.US_ASCII));
    s.getOutputStream().flush();
    return s;
  }

  /** Reads what the server sends until it closes the connection (a reset counts as closed). */
  private static String readUntilClosed(Socket s) throws IOException {
    ByteArrayOutputStream received = new ByteArrayOutputStream();
    byte[] buffer = new byte[4096];
    try {
      for (int n = s.getInputStream().read(buffer); n >= 0; n = s.getInputStream().read(buffer)) {
        received.write(buffer, 0, n);
      }
    } catch (SocketException e) {
      // Connection reset: closed with our unread request in its buffer.
    }
    return received.toString(StandardCharsets.ISO_8859_1);
  }

  /** Stops the agent and starts it again with an admin API whose deadlines are {@code timeouts}. */
  private void restartWith(AdminServer.Timeouts timeouts) throws Exception {
    agent.close();
    start(Agent.builder(fx.load()).adminTimeouts(timeouts));
  }

  /** Stops the agent and starts it again on the same state directory. */
  private void restart() throws Exception {
    agent.close();
    startAgain();
  }

  /** Starts an agent again on the state directory of the one stopped. */
  private void startAgain() throws Exception {
    start(Agent.builder(fx.load()));
  }

  /** Rewrites the configuration with a fixed admin port. */
  private void useAdminPort(int port) throws IOException {
    Files.writeString(fx.configFile, Files.readString(fx.configFile).replace("admin: {port: 0}", "admin: {port: " + port + "}"));
  }
}
