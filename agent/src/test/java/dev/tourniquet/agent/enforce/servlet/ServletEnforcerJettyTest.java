package dev.tourniquet.agent.enforce.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.nginx.TestMitigations;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Applicability;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.MitigationParser;
import dev.tourniquet.feed.mitigation.Version;
import dev.tourniquet.feed.mitigation.VersionRange;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The servlet enforcer against the real filter in a real embedded Jetty: the ProxyNotShell request from
 * Microsoft's advisory is served before M1 is applied and cut off after.
 */
class ServletEnforcerJettyTest {
  /** The request of the ProxyNotShell attack (CVE-2022-41040), as in the advisories. */
  static final String PROXYNOTSHELL =
      "/autodiscover/autodiscover.json?@evil.com/powershell/?&Email=autodiscover/autodiscover.json%3F@evil.com";

  @TempDir Path dir;
  Server server;
  int port;
  final AtomicInteger served = new AtomicInteger();
  Path file;

  @BeforeEach
  void startJetty() throws Exception {
    file = dir.resolve("enforcement/exchange.json");
    server = ApplicationMain.application(file, new HttpServlet() {
      @Override
      protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        served.incrementAndGet();
        resp.setContentType("text/plain");
        resp.getWriter().print("ok " + req.getRequestURI());
      }
    });
    server.start();
    port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
  }

  @AfterEach
  void stopJetty() throws Exception {
    server.stop();
  }

  /** M1 from Microsoft's own web.config rule (the shared fixture), as a publisher would build it. */
  static Mitigation m1FromFixture() throws IOException {
    String xml = Files.readString(TestMitigations.sharedFixture("eems-m1.1-cve-2022-41040.xml"));
    return new Mitigation("M1", 1, "ProxyNotShell", "EEMS M1.1", List.of("CVE-2022-41040"), Mitigation.Severity.HIGH,
        List.of(), new Applicability("microsoft-exchange-server",
            List.of(VersionRange.fixedIn(Version.parse("15.2.0"), Version.parse("15.2.986.36")))),
        List.of(Action.RequestRules.ofXml(xml)), Mitigation.Mode.ENFORCE, Optional.empty(), Map.of());
  }

  @Test
  void proxyNotShellIsServedBeforeM1AndCutOffAfterTheEnforcerAppliesIt() throws Exception {
    ServletEnforcer enforcer = new ServletEnforcer("exchange", file, dir.resolve("state"), Clock.systemUTC());
    enforcer.converge(List.of());
    assertThat(status(get(PROXYNOTSHELL))).isEqualTo(200);

    enforcer.converge(List.of(new ActiveMitigation(m1FromFixture(), false)));

    String answer = poll(Duration.ofSeconds(30), "the filter to abort ProxyNotShell", () -> get(PROXYNOTSHELL), String::isEmpty);
    assertThat(answer).as("the connection is closed without a byte").isEmpty();
    assertThat(status(get("/autodiscover/autodiscover.json?Email=user@contoso.com"))).isEqualTo(200);
    assertThat(status(get("/owa/"))).isEqualTo(200);
  }

  @Test
  void theExampleM1DocumentBlocksTheSameRequest() throws Exception {
    Path example = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(example.resolve("examples/mitigations"))) {
      example = example.getParent();
    }
    Mitigation m1 = MitigationParser.parse(Files.readAllBytes(example.resolve("examples/mitigations/M1.json")));
    ServletEnforcer enforcer = new ServletEnforcer("exchange", file, dir.resolve("state"), Clock.systemUTC());

    enforcer.converge(List.of(new ActiveMitigation(m1, false)));

    String answer = poll(Duration.ofSeconds(30), "the filter to abort ProxyNotShell", () -> get(PROXYNOTSHELL), String::isEmpty);
    assertThat(answer).isEmpty();
  }

  @Test
  void stoppingTheApplicationMakesItsFileNotConfirmedLiveUntilItStartsAgain() throws Exception {
    ServletEnforcer enforcer = new ServletEnforcer("exchange", file, dir.resolve("state"), Clock.systemUTC());
    enforcer.converge(List.of(new ActiveMitigation(m1FromFixture(), false)));
    assertThat(enforcer.notLive()).as("acknowledged by the running filter").isEmpty();

    server.stop();

    assertThat(enforcer.notLive()).hasValueSatisfying(n -> {
      assertThat(n.rejected()).isFalse();
      assertThat(n.reason()).startsWith("not confirmed live: the application stopped (its Tourniquet filter said so at ");
    });

    server.start(); // the filter loads the file again as it starts

    assertThat(enforcer.notLive()).isEmpty();
  }

  @Test
  void inAuditModeTheRequestPassesAndTheHitIsCountedInTheHitsFile() throws Exception {
    ServletEnforcer enforcer = new ServletEnforcer("exchange", file, dir.resolve("state"), Clock.systemUTC());

    enforcer.converge(List.of(new ActiveMitigation(m1FromFixture(), true)));
    poll(Duration.ofSeconds(30), "the filter to load M1 in audit mode", () -> {
      get(PROXYNOTSHELL);
      return enforcer.auditHits();
    }, hits -> !hits.isEmpty());

    assertThat(served.get()).isPositive();
    assertThat(enforcer.auditHits().get("M1")).containsKey("EEMS M1.1 PowerShell - inbound");
  }

  /**
   * The real filter counts from 0 again when its application restarts (a new {@code since}); the counts
   * the agent reports go on from what it counted before, and an agent restarted over the same state
   * directory reports the same.
   */
  @Test
  void afterTheApplicationRestartsTheAuditCountsGoOnFromWhatItCountedBefore() throws Exception {
    ServletEnforcer enforcer = new ServletEnforcer("exchange", file, dir.resolve("state"), Clock.systemUTC());
    enforcer.converge(List.of(new ActiveMitigation(m1FromFixture(), true)));
    String rule = "EEMS M1.1 PowerShell - inbound";
    for (int i = 0; i < 3; i++) {
      assertThat(status(get(PROXYNOTSHELL))).isEqualTo(200);
    }
    poll(Duration.ofSeconds(30), "the three hits in the hits file", () -> count(enforcer, rule), n -> n == 3);
    Path hits = file.resolveSibling(file.getFileName() + ".hits.json");
    String firstRun = Files.readString(hits);

    server.stop();
    server.start();
    port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    assertThat(status(get(PROXYNOTSHELL))).isEqualTo(200);

    poll(Duration.ofSeconds(30), "the new run's hit on top of the first run's", () -> count(enforcer, rule), n -> n == 4);
    assertThat(Files.readString(hits)).as("the filter started again from 0, with a new since").isNotEqualTo(firstRun)
        .containsPattern("\"count\"\\s*:\\s*1[^0-9]");
    ServletEnforcer restarted = new ServletEnforcer("exchange", file, dir.resolve("state"), Clock.systemUTC());
    restarted.converge(List.of(new ActiveMitigation(m1FromFixture(), true)));
    assertThat(count(restarted, rule)).as("after an agent restart").isEqualTo(4);
  }

  private static long count(ServletEnforcer enforcer, String rule) {
    return enforcer.auditHits().getOrDefault("M1", Map.of()).getOrDefault(rule, 0L);
  }

  int status(String raw) {
    assertThat(raw).as("a response").startsWith("HTTP/1.1 ");
    return Integer.parseInt(raw.substring(9, 12));
  }

  /** Sends a GET exactly as written and returns every byte received until the server closes. */
  String get(String target) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      out.write(("GET " + target + " HTTP/1.1\r\nHost: mail.contoso.com\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[8192];
      try {
        for (int n; (n = in.read(buffer)) > 0; ) {
          received.write(buffer, 0, n);
        }
      } catch (java.net.SocketException reset) {
        // An aborted request may end in a reset rather than a clean close.
      }
      return received.toString(StandardCharsets.ISO_8859_1);
    }
  }

  interface Attempt<T> {
    T get() throws Exception;
  }

  /** Polls until the condition holds or the deadline passes (the filter reloads the file on its own). */
  static <T> T poll(Duration timeout, String what, Attempt<T> attempt, java.util.function.Predicate<T> done) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      T value = attempt.get();
      if (done.test(value)) {
        return value;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("expected " + what + " within " + timeout.toSeconds() + " s; last: " + value);
      }
      LockSupport.parkNanos(50_000_000);
    }
  }
}
