package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The installed version from a command: what the agent learns, and that a command cannot hold a check. */
class VersionProbeTest {
  private static HostFacts run(String script) {
    return VersionProbe.facts("microsoft-exchange-server",
        new AgentConfig.VersionSource.FromCommand(List.of("sh", "-c", script)), Duration.ofSeconds(2));
  }

  @Test
  void firstLineOfTheCommandsOutputIsTheVersion() {
    HostFacts facts = run("echo 15.2.1118.7; echo more");

    assertThat(facts.version()).map(Object::toString).hasValue("15.2.1118.7");
  }

  @Test
  void commandThatDoesNotEndIsStoppedAtTheTimeoutEvenAfterPrintingAVersion() {
    // Before, the agent read the command's output until every writer closed it, then started the timeout:
    // this command held the check (and the agent's lock) for as long as it ran.
    HostFacts facts = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> run("echo 15.2.1118.7; exec sleep 600"));

    assertThat(facts.version()).isEqualTo(Optional.empty());
    assertThat(facts.versionProblem()).isEqualTo("versionCommand [sh, -c, echo 15.2.1118.7; exec sleep 600] did not finish"
        + " within 2 s; it was stopped");
  }

  @Test
  void failingCommandSaysHowItEnded() {
    assertThat(run("echo 15.2.1118.7; exit 3").versionProblem()).isEqualTo("versionCommand [sh, -c, echo 15.2.1118.7; exit 3]"
        + " exited with 3");
  }
}
