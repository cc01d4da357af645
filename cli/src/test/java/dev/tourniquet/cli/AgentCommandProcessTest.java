package dev.tourniquet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.servlet.EnforcementFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tourniquet agent --config FILE} as the service manager runs it: a child JVM that applies the feed,
 * answers the operator commands, stops cleanly on SIGTERM (the systemd unit's stop signal) and leaves the
 * state directory to the next start.
 */
class AgentCommandProcessTest {
  @TempDir Path tmp;
  Process child;

  @AfterEach
  void kill() {
    if (child != null && child.isAlive()) {
      child.destroyForcibly();
    }
  }

  Process startAgent(Path config, Path log) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-cp");
    command.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
    command.add("dev.tourniquet.cli.Main");
    command.add("agent");
    command.add("--config");
    command.add(config.toString());
    return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  static void await(Duration timeout, String what, java.util.function.BooleanSupplier done) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("expected " + what + " within " + timeout.toSeconds() + " s");
      }
      LockSupport.parkNanos(100_000_000);
    }
  }

  static int run(StringWriter out, String... args) {
    return Main.run(new PrintWriter(out), new PrintWriter(new StringWriter()), args);
  }

  @Test
  void theAgentCommandAppliesTheFeedAnswersTheCliAndStopsCleanlyOnSigterm() throws Exception {
    Path published = OperatorCommandsTest.publishFeedWithM1(tmp.resolve("feed"));
    Path stateDir = tmp.resolve("state");
    Path enforcement = tmp.resolve("enforcement/exchange.json");
    Path config = tmp.resolve("agent.yaml");
    Files.writeString(config, """
        server: {name: mail02}
        product: {name: microsoft-exchange-server, version: 15.2.1118.7}
        feed: {directory: %s, trustedRoot: %s}
        stateDir: %s
        admin: {port: 0}
        targets:
          - {name: exchange, type: servlet, enforcementFile: %s}
        """.formatted(published, published.resolve("1.root.json"), stateDir, enforcement));
    Path log = tmp.resolve("agent.log");

    child = startAgent(config, log);
    await(Duration.ofSeconds(60), "the agent to apply M1", () -> {
      try {
        return Files.exists(enforcement) && EnforcementFile.read(enforcement).mitigations().size() == 1;
      } catch (Exception e) {
        return false;
      }
    });
    await(Duration.ofSeconds(30), "the admin API's port file", () -> Files.exists(stateDir.resolve("admin.port")));
    StringWriter status = new StringWriter();
    assertThat(run(status, "status", "--state-dir", stateDir.toString(), "--csv")).isZero();
    assertThat(status.toString()).contains("mail02,M1.1,request-rules,").contains(",Applied,");

    child.destroy(); // SIGTERM: the shutdown hook closes the agent
    assertThat(child.waitFor(120, TimeUnit.SECONDS)).as("the agent stops on SIGTERM").isTrue();
    assertThat(Files.readString(log)).contains("tourniquet agent running for mail02");

    // The state directory is free again: a second start takes it over and keeps M1 applied.
    child = startAgent(config, tmp.resolve("agent2.log"));
    StringWriter again = new StringWriter();
    await(Duration.ofSeconds(60), "the restarted agent to answer", () -> {
      again.getBuffer().setLength(0);
      return run(again, "status", "--state-dir", stateDir.toString(), "--csv") == 0 && again.toString().contains(",Applied,");
    });
    assertThat(EnforcementFile.read(enforcement).mitigations()).hasSize(1);
  }

  @Test
  void checkConfigSaysHowTheAgentJoinsItsFleetOrNamesTheMissingTokenFile() throws Exception {
    Path config = tmp.resolve("agent.yaml");
    Files.writeString(config, """
        server: {name: mail03}
        product: {name: microsoft-exchange-server, version: 15.2.1118.7}
        feed: {fleetFeed: default, trustedRoot: root.json}
        fleet: {url: 'https://fleet.example.org:8420/', enrolmentTokenFile: enrol.token}
        stateDir: state
        """);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    assertThat(Main.run(new PrintWriter(out), new PrintWriter(err), "agent", "--config", config.toString(), "--check-config"))
        .isEqualTo(Main.INVALID);
    assertThat(err.toString()).contains("fleet.enrolmentTokenFile " + tmp.resolve("enrol.token")).contains("no such file");

    Files.writeString(tmp.resolve("enrol.token"), "tqe_x\n");
    assertThat(run(out, "agent", "--config", config.toString(), "--check-config")).isZero();
    assertThat(out.toString()).contains("valid; 0 target(s)")
        .contains("fleet https://fleet.example.org:8420/: enrols at first start with the token in " + tmp.resolve("enrol.token"));
    assertThat(tmp.resolve("state")).doesNotExist();
  }
}
