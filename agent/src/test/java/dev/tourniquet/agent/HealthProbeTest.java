package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A target's health probe against a real HTTP endpoint on 127.0.0.1 that starts failing: the mitigation
 * just applied is rolled back, marked Failed with the probe's answer, and not retried until unblocked.
 */
class HealthProbeTest {
  @TempDir
  Path dir;

  AgentFixture fx;
  Agent agent;
  HttpServer service;
  final AtomicInteger health = new AtomicInteger(200);
  final AtomicInteger probes = new AtomicInteger();

  @BeforeEach
  void setUp() throws Exception {
    service = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    service.createContext("/health", exchange -> {
      try (exchange) {
        probes.incrementAndGet();
        exchange.sendResponseHeaders(health.get(), -1);
      }
    });
    service.start();
    fx = new AgentFixture(dir);
    fx.config("directory: " + fx.feed.published(),
        ", healthProbe: {url: \"http://127.0.0.1:" + service.getAddress().getPort() + "/health\", status: 200, timeout: 5s}");
    fx.feed.put(Mitigations.m1(1)).publish();
    agent = fx.open();
    agent.check();
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(probes).hasValue(1);
  }

  @AfterEach
  void tearDown() throws Exception {
    agent.close();
    service.stop(0);
  }

  @Test
  void failingProbeRollsTheNewMitigationBackAndMarksItFailed() throws Exception {
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();
    health.set(503);

    AgentStatus status = agent.check();

    MitigationStatus m2 = AgentFixture.row(status, "M2");
    assertThat(m2.status()).isEqualTo(Status.FAILED);
    assertThat(m2.reason()).isEqualTo("failed: app: health probe http://127.0.0.1:" + service.getAddress().getPort()
        + "/health answered 503, expected 200; rolled back");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit("M2.1", "failed")).containsExactly("apply app");
  }

  @Test
  void failedRevisionIsNotRetriedUntilUnblocked() throws Exception {
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();
    health.set(503);
    agent.check();
    health.set(200);

    AgentStatus again = agent.check();

    assertThat(AgentFixture.row(again, "M2").status()).isEqualTo(Status.FAILED);
    assertThat(fx.audit("M2.1", "intent")).hasSize(1);
    assertThat(fx.enforced()).containsExactly("M1.1");

    AgentStatus unblocked = agent.unblock("M2");

    assertThat(AgentFixture.row(unblocked, "M2").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.1", "M2.1");
  }

  @Test
  void failedUpdateKeepsTheOlderRevisionAndSaysTheNewOneFailed() throws Exception {
    fx.feed.put(Mitigations.m1(2)).publish();
    health.set(500);

    AgentStatus status = agent.check();

    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.FAILED);
    assertThat(m1.appliedRevision()).contains(1);
    assertThat(fx.enforced()).containsExactly("M1.1");

    health.set(200);
    AgentStatus later = agent.check();

    assertThat(AgentFixture.row(later, "M1").status()).isEqualTo(Status.FAILED);
    assertThat(AgentFixture.row(later, "M1").reason()).contains("revision 2 failed: ").contains("kept revision M1.1");
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void unreachableProbeCountsAsFailure() throws Exception {
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();
    service.stop(0);

    AgentStatus status = agent.check();

    assertThat(AgentFixture.row(status, "M2").status()).isEqualTo(Status.FAILED);
    assertThat(AgentFixture.row(status, "M2").reason()).contains("health probe").contains("failed: ");
    assertThat(fx.enforced()).containsExactly("M1.1");
  }
}
