package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.servlet.TourniquetFilter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A target's health probe against a real application on 127.0.0.1 (embedded Jetty running the
 * {@link TourniquetFilter} on the target's enforcement file) that starts failing, or that the mitigation
 * itself breaks: the mitigation just applied is rolled back, marked Failed with the probe's answer, and
 * not retried until unblocked. The probe runs only once the filter has acknowledged the new file.
 */
class HealthProbeTest {
  @TempDir
  Path dir;

  AgentFixture fx;
  Agent agent;
  Server service;
  int port;
  final AtomicInteger health = new AtomicInteger(200);
  final AtomicInteger probes = new AtomicInteger();
  /** How many of the next probes answer 503 whatever {@link #health} says (a service settling). */
  final AtomicInteger settling = new AtomicInteger();

  @BeforeEach
  void setUp() throws Exception {
    fx = new AgentFixture(dir);
    service = startApp(fx.enforcementFile);
    port = AgentFixture.port(service);
    fx.config("directory: " + fx.feed.published(),
        ", healthProbe: {url: \"http://127.0.0.1:" + port + "/health\", status: 200, timeout: 5s}");
    fx.feed.put(Mitigations.m1(1)).publish();
    agent = fx.open();
    agent.check();
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(probes).hasValue(1);
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      agent.close();
    } finally {
      service.stop();
    }
  }

  /** The protected application: the filter in front of a servlet whose /health answers {@link #health}. */
  private Server startApp(Path enforcementFile) throws Exception {
    return AgentFixture.startApp(enforcementFile, new HttpServlet() {
      @Override
      protected void service(HttpServletRequest req, HttpServletResponse resp) {
        if (req.getRequestURI().equals("/health")) {
          probes.incrementAndGet();
          resp.setStatus(settling.getAndUpdate(n -> Math.max(0, n - 1)) > 0 ? 503 : health.get());
        }
      }
    });
  }

  @Test
  void aMitigationThatBreaksTheHealthPageIsRolledBackFailedAndNotRetriedUntilUnblocked() throws Exception {
    fx.feed.put(breaksHealth()).publish();

    AgentStatus status = agent.check();

    MitigationStatus m2 = AgentFixture.row(status, "M2");
    assertThat(m2.status()).isEqualTo(Status.FAILED);
    assertThat(m2.reason()).isEqualTo("failed: app: health probe http://127.0.0.1:" + port
        + "/health answered 503, expected 200; rolled back");
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit("M2.1", "failed")).containsExactly("apply app");

    AgentStatus again = agent.check();

    assertThat(AgentFixture.row(again, "M2").status()).isEqualTo(Status.FAILED);
    assertThat(fx.audit("M2.1", "intent")).hasSize(1);
  }

  @Test
  void failingProbeRollsTheNewMitigationBackAndMarksItFailed() throws Exception {
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();
    health.set(503);

    AgentStatus status = agent.check();

    MitigationStatus m2 = AgentFixture.row(status, "M2");
    assertThat(m2.status()).isEqualTo(Status.FAILED);
    assertThat(m2.reason()).isEqualTo("failed: app: health probe http://127.0.0.1:" + port
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
  void aServiceThatAnswersWronglyOnceWhileSettlingIsNotRolledBack() throws Exception {
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();
    settling.set(1);
    int before = probes.get();

    AgentStatus status = agent.check();

    assertThat(AgentFixture.row(status, "M2").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.1", "M2.1");
    assertThat(probes.get() - before).isEqualTo(2);
  }

  @Test
  void aProbeThatKeepsFailingIsAskedThreeTimesAndTheFailureKeepsTheLastAnswer() throws Exception {
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();
    settling.set(2);
    health.set(500);
    int before = probes.get();

    AgentStatus status = agent.check();

    assertThat(probes.get() - before).isEqualTo(3);
    assertThat(AgentFixture.row(status, "M2").reason()).isEqualTo("failed: app: health probe http://127.0.0.1:" + port
        + "/health answered 500, expected 200; rolled back");
  }

  @Test
  void unreachableProbeCountsAsFailure() throws Exception {
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();
    for (org.eclipse.jetty.server.Connector c : service.getConnectors()) {
      c.stop(); // the filter keeps running (and acknowledging); the application no longer answers
    }

    AgentStatus status = agent.check();

    assertThat(AgentFixture.row(status, "M2").status()).isEqualTo(Status.FAILED);
    assertThat(AgentFixture.row(status, "M2").reason()).contains("health probe").contains("failed: ");
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  @Test
  void anApplicationThatIsNotRunningDoesNotFailTheApplyAndTheAuditLogSaysItIsNotConfirmed() throws Exception {
    service.stop(); // the filter is destroyed: it acknowledges that it stopped, and nobody loads the new file
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();
    int probed = probes.get();

    AgentStatus status = agent.check();

    assertThat(AgentFixture.row(status, "M2").status()).isEqualTo(Status.APPLIED);
    assertThat(AgentFixture.row(status, "M2").live()).contains(false);
    assertThat(AgentFixture.row(status, "M2").reason()).contains("; not confirmed live: the application stopped (its"
        + " Tourniquet filter said so at ").contains("takes effect when the application starts again");
    assertThat(fx.enforced()).containsExactly("M1.1", "M2.1");
    assertThat(probes).hasValue(probed);
    assertThat(fx.audit()).filteredOn(l -> l.path("mitigation").asText().equals("M2.1")
            && l.path("outcome").asText().equals("applied"))
        .singleElement().satisfies(l -> assertThat(l.path("reason").asText())
            .contains("not confirmed live: the application stopped")
            .contains("health probe deferred until the target confirms it live"));
  }

  @Test
  void aMitigationAppliedWhileTheApplicationWasDownIsProbedOnceItLoadsItAndRolledBackIfItBreaksIt()
      throws Exception {
    service.stop();
    fx.feed.put(breaksHealth()).publish();
    agent.check();
    assertThat(fx.enforced()).containsExactly("M1.1", "M2.1");

    restartApp();
    AgentStatus status = agent.check();

    MitigationStatus m2 = AgentFixture.row(status, "M2");
    assertThat(m2.status()).isEqualTo(Status.FAILED);
    assertThat(m2.reason()).isEqualTo("failed: app: health probe http://127.0.0.1:" + port
        + "/health answered 503, expected 200 once the target confirmed M2.1 live; rolled back");
    assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit("M2.1", "failed")).containsExactly("probe app");

    AgentStatus again = agent.check();

    assertThat(AgentFixture.row(again, "M2").status()).as("not retried until unblocked").isEqualTo(Status.FAILED);
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit("M2.1", "intent")).hasSize(1);
  }

  @Test
  void anUpdateAppliedWhileTheApplicationWasDownThatBreaksItIsUndoneToTheRevisionItReplaced() throws Exception {
    service.stop();
    fx.feed.put(Mitigations.m1(2)).publish();
    agent.check();
    assertThat(fx.enforced()).containsExactly("M1.2");
    health.set(500);
    agent.close();
    agent = fx.open(); // the probe owed survives a restart of the agent

    restartApp();
    AgentStatus status = agent.check();

    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.FAILED);
    assertThat(m1.appliedRevision()).contains(1);
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit("M1.2", "failed")).containsExactly("probe app");
  }

  @Test
  void twoUpdatesAppliedWhileTheApplicationWasDownAreUndoneToTheLastRevisionThatWasProbed() throws Exception {
    service.stop();
    fx.feed.put(Mitigations.m1(2)).publish();
    agent.check();
    fx.feed.put(Mitigations.m1(3)).publish();
    agent.check();
    assertThat(fx.enforced()).containsExactly("M1.3");
    health.set(500);

    restartApp();
    AgentStatus status = agent.check();

    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.FAILED);
    assertThat(m1.appliedRevision()).as("M1.2 was never probed either").contains(1);
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit("M1.3", "failed")).containsExactly("probe app");
  }

  @Test
  void aMitigationAppliedWhileTheApplicationWasDownStaysOnceItIsLiveAndHealthyAndIsProbedOnce() throws Exception {
    service.stop();
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();
    agent.check();
    int before = probes.get();

    restartApp();
    AgentStatus status = agent.check();
    agent.check();

    assertThat(AgentFixture.row(status, "M2").status()).isEqualTo(Status.APPLIED);
    assertThat(AgentFixture.row(status, "M2").live()).contains(true);
    assertThat(fx.enforced()).containsExactly("M1.1", "M2.1");
    assertThat(probes.get() - before).as("one probe, at the first check that found it live").isEqualTo(1);
    assertThat(fx.audit("M2.1", "healthy")).containsExactly("probe app");
  }

  @Test
  void theRunningAgentProbesAChangeSoonAfterTheApplicationStartsWithoutWaitingForItsNextCheck() throws Exception {
    AgentFixture.Reports reports = restartRunning();
    service.stop();
    fx.feed.put(breaksHealth()).publish();
    agent.hint();
    reports.await("M2.1 applied while the application is down", () -> fx.audit("M2.1", "applied").size() == 1);

    restartApp();

    reports.await("the probe to fail and M2.1 to be undone",
        () -> fx.audit("M2.1", "failed").equals(List.of("probe app")));
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(AgentFixture.row(agent.status(), "M2").status()).isEqualTo(Status.FAILED);
  }

  @Test
  void aChangeAnOperatorCommandMadeWhileTheApplicationWasDownIsProbedSoonAfterItStartsToo() throws Exception {
    AgentFixture.Reports reports = restartRunning();
    reports.await("the check at start", () -> agent.status().lastCheck().isPresent());
    service.stop();
    fx.feed.put(breaksHealth()).publish();

    agent.check(); // on this thread, as the admin API runs 'tourniquet check', not on the agent's worker
    assertThat(fx.audit("M2.1", "applied")).hasSize(1);
    restartApp();

    reports.await("the probe to fail and M2.1 to be undone",
        () -> fx.audit("M2.1", "failed").equals(List.of("probe app")));
    assertThat(fx.enforced()).containsExactly("M1.1");
  }

  /**
   * Replaces the agent by one running its worker, which checks at once and then not for an hour (the
   * interval) unless hinted, and rechecks owed probes every 100 ms.
   */
  private AgentFixture.Reports restartRunning() throws Exception {
    agent.close();
    AgentFixture.Reports reports = new AgentFixture.Reports();
    agent = Agent.builder(fx.load()).clock(fx.clock).random(() -> 0.5).adminApi(false)
        .probeRecheck(Duration.ofMillis(100)).probeSettle(AgentFixture.PROBE_SETTLE).reporter(reports).build();
    agent.start();
    return reports;
  }

  /** M2, which disables the application's health page: a mitigation that breaks what the probe checks. */
  private static Mitigation breaksHealth() {
    return Mitigations.requestRules("M2", 1, Mitigations.EXCHANGE, Mitigation.Mode.ENFORCE, Optional.empty(),
        new Action.DisableEndpoint("/health", 503, Optional.empty()));
  }

  /** Starts the application again on its port; its filter loads the current file and acknowledges it. */
  private void restartApp() throws Exception {
    ((org.eclipse.jetty.server.ServerConnector) service.getConnectors()[0]).setPort(port);
    service.start();
  }
}
