package dev.tourniquet.agent.enforce.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.agent.ChildJvm;
import dev.tourniquet.agent.enforce.ActiveMitigation;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A servlet application killed with SIGKILL, in a child JVM with the real filter in a real Jetty: its filter
 * is never destroyed and cannot say it stopped, yet the agent does not report its file as live, from the
 * process its last acknowledgement names.
 */
class KilledApplicationTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @TempDir Path dir;

  @Test
  @Timeout(180)
  void anApplicationKilledWithoutItsFilterSayingSoIsNotLiveUntilItStartsAgain() throws Exception {
    Path file = dir.resolve("enforcement/exchange.json");
    ServletEnforcer enforcer = new ServletEnforcer("exchange", file, dir.resolve("state"), Clock.systemUTC(), WAIT);
    enforcer.converge(List.of());
    long pid;
    try (ChildJvm app = ChildJvm.start(dir.resolve("app-stderr.txt"), ApplicationMain.class, file.toString())) {
      pid = Long.parseLong(app.awaitLine("STARTED ", WAIT).substring("STARTED ".length()));
      enforcer.converge(List.of(new ActiveMitigation(ServletEnforcerJettyTest.m1FromFixture(), false)));
      assertThat(enforcer.notLive()).as("acknowledged by the running application").isEmpty();

      app.kill(WAIT);
    }

    assertThat(enforcer.notLive()).hasValueSatisfying(n -> {
      assertThat(n.rejected()).isFalse();
      assertThat(n.reason()).isEqualTo("not confirmed live: the application ended without its Tourniquet filter"
          + " saying so (killed, or crashed?): its filter's last acknowledgement in exchange.json.loaded.json names a"
          + " process that is not running (there is no process " + pid + " any more); the file stays in place and"
          + " takes effect when the application starts again");
    });

    // A change written while it is down does not wait for an acknowledgement that cannot come.
    ServletEnforcer patient = new ServletEnforcer("exchange", file, dir.resolve("state"), Clock.systemUTC(), Duration.ofMinutes(10));
    patient.converge(List.of());
    assertThat(patient.notLive()).hasValueSatisfying(n -> assertThat(n.reason()).contains("ended without"));

    try (ChildJvm app = ChildJvm.start(dir.resolve("app-stderr-2.txt"), ApplicationMain.class, file.toString())) {
      app.awaitLine("STARTED ", WAIT); // its filter loaded the file as it started

      assertThat(patient.notLive()).as("live again").isEmpty();
    }
  }
}
