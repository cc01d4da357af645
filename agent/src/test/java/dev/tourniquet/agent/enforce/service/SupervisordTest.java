package dev.tourniquet.agent.enforce.service;

import static dev.tourniquet.agent.enforce.service.ScriptedRunner.sample;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Parsing {@code supervisorctl status} and the commands issued; {@link SupervisordIntegrationTest} runs
 * the same against a real supervisord.
 */
class SupervisordTest {
  static final String CTL = "/usr/bin/supervisorctl";
  static final List<String> STATUS = List.of(CTL, "-c", "/etc/supervisor/supervisord.conf", "status", "web");

  ScriptedRunner runner;
  ServiceManager supervisord;

  @BeforeEach
  void setUp() {
    runner = new ScriptedRunner();
    supervisord = ServiceManagers.create("supervisord", Map.of("configFile", "/etc/supervisor/supervisord.conf"),
        runner, Duration.ZERO);
  }

  @ParameterizedTest
  @CsvSource({"status-running.out, RUNNING", "status-stopped.out, STOPPED", "status-starting.out, STARTING",
      "status-backoff.out, BACKOFF", "status-fatal.out, FATAL", "status-exited.out, EXITED"})
  void parseStatusReadsTheStateOfEachLine(String sampleFile, String state) {
    assertThat(Supervisord.parseStatus(sample("supervisord/" + sampleFile))).hasValue(Map.of("web", state));
  }

  @Test
  void parseStatusReadsEveryProcessOfAGroup() {
    assertThat(Supervisord.parseStatus(sample("supervisord/status-group-mixed.out")))
        .hasValueSatisfying(p -> assertThat(p).containsExactly(
            Map.entry("pool:pool_00", "RUNNING"), Map.entry("pool:pool_01", "STOPPED")));
  }

  @Test
  void parseStatusOfAnUnknownProcessOrGroupIsEmpty() {
    assertThat(Supervisord.parseStatus(sample("supervisord/status-no-such-process.out"))).isEmpty();
    assertThat(Supervisord.parseStatus(sample("supervisord/status-no-such-group.out"))).isEmpty();
  }

  @Test
  void parseStatusRejectsAnythingElse() {
    assertThat(Supervisord.parseStatus(sample("supervisord/status-no-server.out"))).isNull();
    assertThat(Supervisord.parseStatus("")).isNull();
  }

  @ParameterizedTest
  @CsvSource({
      "status-running.out, 0, RUNNING, false",
      "status-stopped.out, 3, STOPPED, true",
      "status-exited.out, 3, EXITED, true",
      "status-fatal.out, 3, FATAL, true",
      "status-backoff.out, 0, BACKOFF, false"})
  void queryReportsTheStateAndWhetherItCountsAsDisabled(String sampleFile, int exit, String state, boolean disabled)
      throws Exception {
    runner.expect(STATUS, exit, "supervisord/" + sampleFile, null);

    ServiceState found = supervisord.query("web").orElseThrow();

    assertThat(found).isEqualTo(new ServiceState(ServiceState.SUPERVISORD_STARTUP, state));
    assertThat(supervisord.isDisabled(found)).isEqualTo(disabled);
  }

  @Test
  void queryOfAnUnknownProgramIsEmpty() throws Exception {
    runner.expect(STATUS, 4, "supervisord/status-no-such-process.out", null);

    assertThat(supervisord.query("web")).isEmpty();
  }

  @Test
  void queryWithoutSupervisordFailsQuotingSupervisorctl() {
    runner.expect(STATUS, 4, "supervisord/status-no-server.out", null);

    assertThatThrownBy(() -> supervisord.query("web"))
        .isInstanceOf(ServiceManagerException.class)
        .hasMessageContaining("exited with 4: unix:///run/supervisor/supervisor.sock no such file");
  }

  @Test
  void aGroupStateRecordsEveryProcess() throws Exception {
    List<String> status = List.of(CTL, "-c", "/etc/supervisor/supervisord.conf", "status", "pool:");
    runner.expect(status, 3, "supervisord/status-group-mixed.out", null);

    assertThat(supervisord.query("pool:")).contains(
        new ServiceState("config", "pool:pool_00=RUNNING,pool:pool_01=STOPPED"));
    assertThat(supervisord.isDisabled(new ServiceState("config", "pool:pool_00=FATAL,pool:pool_01=STOPPED"))).isTrue();
  }

  @Test
  void disableStopsAndChecksTheStatus() throws Exception {
    runner.expect(List.of(CTL, "-c", "/etc/supervisor/supervisord.conf", "stop", "web"), "supervisord/stop-web.out")
        .expect(STATUS, 3, "supervisord/status-stopped.out", null);

    supervisord.disable("web", new ServiceState("config", "RUNNING"));

    runner.assertPlayedOut();
  }

  @Test
  void aSpawnErrorOnRestoreIsAFailureEvenWithExitCodeZero() {
    runner.expect(STATUS, 3, "supervisord/status-stopped.out", null)
        .expect(List.of(CTL, "-c", "/etc/supervisor/supervisord.conf", "start", "web"), "supervisord/start-spawn-error.out");

    assertThatThrownBy(() -> supervisord.restore("web", new ServiceState("config", "RUNNING")))
        .isInstanceOf(ServiceManagerException.class)
        .hasMessageContaining("start web` exited with 0: web: ERROR (spawn error) (expected exit code 0 and no ERROR)");
  }

  @Test
  void allIsRefusedBecauseSupervisorctlReadsItAsEveryProgram() {
    assertThatThrownBy(() -> supervisord.address("all"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("expected a supervisord program or group name but found \"all\", which supervisorctl reads as every"
            + " program");
  }

  @Test
  void aServerUrlWithoutCredentialsGoesOnTheCommandLine() throws Exception {
    ServiceManager byUrl = ServiceManagers.create("supervisord", Map.of("serverUrl", "unix:///run/supervisor.sock"),
        runner, Duration.ZERO);
    runner.expect(List.of(CTL, "-s", "unix:///run/supervisor.sock", "status", "web"), "supervisord/status-running.out");

    assertThat(byUrl.query("web")).contains(new ServiceState("config", "RUNNING"));
  }

  @Test
  void credentialsGoInAPrivateFileThatIsGoneAfterTheCommand() throws Exception {
    ServiceManager withPassword = ServiceManagers.create("supervisord",
        Map.of("serverUrl", "unix:///run/supervisor.sock", "username", "agent", "password", "s3cret%1"),
        (argv, timeout) -> {
          assertThat(argv).hasSize(5).startsWith(CTL, "-c").endsWith("status", "web");
          assertThat(String.join(" ", argv)).doesNotContain("s3cret");
          java.nio.file.Path file = java.nio.file.Path.of(argv.get(2));
          assertThat(java.nio.file.Files.readString(file))
              .isEqualTo("[supervisorctl]\nserverurl=unix:///run/supervisor.sock\nusername=agent\npassword=s3cret%%1\n");
          assertThat(java.nio.file.Files.getPosixFilePermissions(file))
              .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                  java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
          return new CommandRunner.Result(0, sample("supervisord/status-running.out"), "");
        }, Duration.ZERO);

    assertThat(withPassword.query("web")).isPresent();
    assertThat(withPassword.toString()).doesNotContain("s3cret").contains("(password set)");
  }

  @Test
  void aGroupResolvesToEachOfItsProcessesAndAProgramToItsNamespecEachWithItsState() throws Exception {
    runner.expect(List.of(CTL, "-c", "/etc/supervisor/supervisord.conf", "status", "pool:"), 3,
            "supervisord/status-group-mixed.out", null)
        .expect(List.of(CTL, "-c", "/etc/supervisor/supervisord.conf", "status", "web:web"), 0,
            "supervisord/status-running.out", null)
        .expect(List.of(CTL, "-c", "/etc/supervisor/supervisord.conf", "status", "nosuch:"), 4,
            "supervisord/status-no-such-group.out", null);

    assertThat(supervisord.resolve("pool:")).containsExactly(
        Map.entry("pool:pool_00", new ServiceState("config", "RUNNING")),
        Map.entry("pool:pool_01", new ServiceState("config", "STOPPED")));
    assertThat(supervisord.resolve("web:web")).containsExactly(Map.entry("web", new ServiceState("config", "RUNNING")));
    assertThat(supervisord.resolve("nosuch:")).isEmpty();
  }

  @Test
  void aProgramNamedAllIsNotResolvedToANameSupervisorctlReadsAsEveryProgram() {
    runner.expect(List.of(CTL, "-c", "/etc/supervisor/supervisord.conf", "status", "all:"), 0,
        "supervisord/status-program-named-all.out", null);

    assertThatThrownBy(() -> supervisord.resolve("all:"))
        .isInstanceOf(ServiceManagerException.class)
        .hasMessageContaining("all: is the process all, which cannot be addressed safely");
  }

  @Test
  void aGroupRecordOfAnEarlierVersionIsOneRecordPerProcess() throws Exception {
    assertThat(supervisord.identitiesOfRecord("pool:", new ServiceState("config", "pool:pool_00=RUNNING,pool:pool_01=STOPPED")))
        .containsExactly(Map.entry("pool:pool_00", new ServiceState("config", "RUNNING")),
            Map.entry("pool:pool_01", new ServiceState("config", "STOPPED")));
    assertThat(supervisord.identitiesOfRecord("web:", new ServiceState("config", "web=RUNNING")))
        .containsExactly(Map.entry("web", new ServiceState("config", "RUNNING")));
    assertThat(supervisord.identitiesOfRecord("web", new ServiceState("config", "RUNNING")))
        .containsExactly(Map.entry("web", new ServiceState("config", "RUNNING")));
    assertThat(runner.issued()).isEmpty();
  }
}
