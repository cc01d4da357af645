package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The agent killed with SIGKILL ({@link Process#destroyForcibly()}) in a child JVM between the steps of a
 * change, then restarted: it converges on the planned state with nothing applied twice and nothing lost,
 * as the audit log, the state and the enforcement file show.
 */
class CrashSafetyTest {
  private static final Duration WAIT = Duration.ofSeconds(120);

  @TempDir
  Path dir;

  AgentFixture fx;

  @BeforeEach
  void setUp() throws Exception {
    fx = new AgentFixture(dir);
    fx.feed.put(Mitigations.m1(1)).put(Mitigations.proxyLogon("M2", 1)).publish();
  }

  @ParameterizedTest(name = "killed at {0} of {1}")
  @CsvSource({"intent, M1.1", "converged, M1.1", "intent, M2.1", "converged, M2.1"})
  void killedWhileApplyingConvergesOnRestartWithNothingAppliedTwice(String point, String appliedId) throws Exception {
    killAt(point, appliedId);

    String done = runToCompletion();

    assertThat(done).startsWith("DONE {M1=Applied, M2=Applied}");
    assertThat(fx.enforced()).containsExactly("M1.1", "M2.1");
    assertThat(fx.audit("M1.1", "applied")).containsExactly("apply app");
    assertThat(fx.audit("M2.1", "applied")).containsExactly("apply app");
    assertThat(fx.audit(appliedId, "interrupted")).containsExactly("apply app");
    assertThat(state().path("targets").path("app").path("M1").path("revision").asInt()).isEqualTo(1);
    assertThat(state().path("targets").path("app").path("M2").path("revision").asInt()).isEqualTo(1);
  }

  @ParameterizedTest(name = "killed at {0} of removing M1.1")
  @CsvSource({"intent", "converged"})
  void killedWhileRemovingConvergesOnRestartWithNothingRemovedTwice(String point) throws Exception {
    assertThat(runToCompletion()).startsWith("DONE {M1=Applied, M2=Applied}");
    fx.feed.withdraw("M1").publish();
    killAt(point, "M1.1");

    String done = runToCompletion();

    assertThat(done).startsWith("DONE {M1=Removed, M2=Applied}");
    assertThat(fx.enforced()).containsExactly("M2.1");
    assertThat(fx.audit("M1.1", "removed")).containsExactly("remove app");
    assertThat(fx.audit("M1.1", "interrupted")).containsExactly("remove app");
    assertThat(fx.audit("M1.1", "applied")).containsExactly("apply app");
  }

  @Test
  void killedTwiceInARowStillConverges() throws Exception {
    killAt("converged", "M1.1");
    killAt("converged", "M2.1");

    assertThat(runToCompletion()).startsWith("DONE {M1=Applied, M2=Applied}");
    assertThat(fx.enforced()).containsExactly("M1.1", "M2.1");
    assertThat(fx.audit("M1.1", "applied")).containsExactly("apply app");
    assertThat(fx.audit("M2.1", "applied")).containsExactly("apply app");
  }

  private JsonNode state() throws IOException {
    return new ObjectMapper().readTree(fx.stateDir.resolve("state.json").toFile());
  }

  private void killAt(String point, String appliedId) throws Exception {
    try (ChildJvm child = start(point, "app", appliedId)) {
      String line = child.awaitLine("PAUSED", WAIT);
      assertThat(line).isEqualTo("PAUSED " + point + " app " + appliedId);
      child.kill(WAIT);
    }
  }

  private String runToCompletion() throws Exception {
    try (ChildJvm child = start()) {
      String line = child.awaitLine("DONE", WAIT);
      assertThat(child.process().waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the child exited").isTrue();
      assertThat(child.process().exitValue()).isZero();
      return line;
    }
  }

  private ChildJvm start(String... pause) throws IOException {
    List<String> args = new ArrayList<>(List.of(fx.configFile.toString(), AgentFixture.START.toString()));
    args.addAll(List.of(pause));
    return ChildJvm.start(dir.resolve("child-stderr.txt"), CrashTestMain.class, args.toArray(String[]::new));
  }
}
