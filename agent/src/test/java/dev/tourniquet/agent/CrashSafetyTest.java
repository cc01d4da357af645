package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
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
    Process child = start(point, "app", appliedId);
    try {
      String line = awaitLine(child, "PAUSED");
      assertThat(line).isEqualTo("PAUSED " + point + " app " + appliedId);
    } finally {
      child.destroyForcibly(); // SIGKILL on Unix: no shutdown hook, no finally in the child
      assertThat(child.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the child died").isTrue();
    }
  }

  private String runToCompletion() throws Exception {
    Process child = start();
    try {
      String line = awaitLine(child, "DONE");
      assertThat(child.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the child exited").isTrue();
      assertThat(child.exitValue()).isZero();
      return line;
    } finally {
      child.destroyForcibly();
    }
  }

  private Process start(String... pause) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    command.add("-cp");
    command.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
    command.add(CrashTestMain.class.getName());
    command.add(fx.configFile.toString());
    command.add(AgentFixture.START.toString());
    command.addAll(List.of(pause));
    return new ProcessBuilder(command).redirectError(dir.resolve("child-stderr.txt").toFile()).start();
  }

  /** Reads the child's output until a line with the prefix, within {@link #WAIT}. */
  private String awaitLine(Process child, String prefix) throws Exception {
    BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = in.readLine(); line != null; line = in.readLine()) {
          lines.add(line);
        }
      } catch (IOException e) {
        // The child was killed; the queue has what it wrote.
      } finally {
        lines.add("<end of output>");
      }
    });
    reader.setDaemon(true);
    reader.start();
    long deadline = System.nanoTime() + WAIT.toNanos();
    List<String> seen = new ArrayList<>();
    while (true) {
      String line = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (line == null || line.equals("<end of output>")) {
        throw new AssertionError("expected a line starting with " + prefix + " from the child but found " + seen
            + (line == null ? " within " + WAIT : " before it ended") + "; stderr: "
            + java.nio.file.Files.readString(dir.resolve("child-stderr.txt")));
      }
      seen.add(line);
      if (line.startsWith(prefix)) {
        return line;
      }
    }
  }
}
