package dev.tourniquet.agent.enforce.service;

import static dev.tourniquet.agent.enforce.service.ServiceMitigations.audit;
import static dev.tourniquet.agent.enforce.service.ServiceMitigations.disable;
import static dev.tourniquet.agent.enforce.service.ServiceMitigations.endpointOnly;
import static dev.tourniquet.agent.enforce.service.ServiceMitigations.enforce;
import static dev.tourniquet.agent.enforce.service.ScriptedRunner.sample;
import static dev.tourniquet.feed.mitigation.Action.DisableService.Manager.SUPERVISORD;
import static dev.tourniquet.feed.mitigation.Action.DisableService.Manager.SYSTEMD;
import static dev.tourniquet.feed.mitigation.Action.DisableService.Manager.WINDOWS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.EnforcementException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The systemd manager: parsing {@code systemctl show}, and the exact commands the enforcer issues. */
class SystemdTest {
  static final List<String> SHOW = List.of("systemctl", "show", "--property=LoadState,UnitFileState,ActiveState", "--",
      "nginx.service");
  static final List<String> RESOLVE = resolving("nginx.service");
  static final List<String> MASK = List.of("systemctl", "mask", "--now", "--", "nginx.service");
  static final List<String> UNMASK = List.of("systemctl", "unmask", "--", "nginx.service");
  static final List<String> START = List.of("systemctl", "start", "--", "nginx.service");
  static final List<String> STOP = List.of("systemctl", "stop", "--", "nginx.service");
  static final List<String> MASK_ONLY = List.of("systemctl", "mask", "--", "nginx.service");
  static final ActiveMitigation M1 = enforce("M1", disable("nginx", SYSTEMD));

  @TempDir Path state;
  ScriptedRunner runner;
  ServiceManager systemd;
  ServiceEnforcer enforcer;

  @BeforeEach
  void setUp() {
    runner = new ScriptedRunner();
    systemd = ServiceManagers.create("systemd", Map.of("systemctl", "systemctl"), runner, Duration.ZERO);
    enforcer = new ServiceEnforcer("web-systemd", systemd, state);
  }

  Path recordFile() {
    return state.resolve("services/web-systemd.json");
  }

  Map<String, ServiceRecords.Entry> records() throws Exception {
    return new ServiceRecords(recordFile(), "web-systemd", SYSTEMD).read().entries();
  }

  @Test
  void parseShowReadsKeyValueLinesWhateverTheirOrder() throws Exception {
    assertThat(Systemd.parseShow(sample("systemd/show-enabled-active.out"))).containsExactly(
        Map.entry("LoadState", "loaded"), Map.entry("ActiveState", "active"), Map.entry("UnitFileState", "enabled"));
    assertThat(Systemd.parseShow("UnitFileState=static\nLoadState=loaded\n\nActiveState=inactive\n"))
        .containsEntry("UnitFileState", "static").containsEntry("ActiveState", "inactive").hasSize(3);
  }

  @Test
  void parseShowKeepsAnEmptyValueAndEverythingAfterTheFirstEquals() throws Exception {
    assertThat(Systemd.parseShow(sample("systemd/show-not-found.out"))).containsEntry("UnitFileState", "");
    assertThat(Systemd.parseShow("Description=a=b\n")).containsEntry("Description", "a=b");
  }

  @Test
  void parseShowRejectsALineWithoutEquals() {
    assertThatThrownBy(() -> Systemd.parseShow("LoadState=loaded\nSystem has not been booted with systemd\n"))
        .isInstanceOf(ServiceManagerException.class)
        .hasMessageContaining("expected Key=Value lines but found \"System has not been booted with systemd\"");
  }

  @ParameterizedTest
  @CsvSource({
      "show-enabled-active.out, enabled, active",
      "show-disabled-inactive.out, disabled, inactive",
      "show-static-active.out, static, active",
      "show-enabled-failed.out, enabled, failed",
      "show-masked-inactive.out, masked, inactive",
      "show-not-found-active.out, none, active"})
  void queryReadsUnitFileStateAndActiveState(String sampleFile, String startup, String activity) throws Exception {
    runner.expect(SHOW, "systemd/" + sampleFile);
    assertThat(systemd.query("nginx.service")).contains(new ServiceState(startup, activity));
  }

  @ParameterizedTest
  @CsvSource({
      "show-id-enabled-active.out, nginx.service, enabled, active",
      "show-id-masked-runtime-inactive.out, nginx.service, masked-runtime, inactive",
      "show-id-sshd-alias.out, ssh.service, enabled, active"})
  void resolveReadsTheUnitsIdAndItsStateFromOneShow(String sampleFile, String id, String startup, String activity)
      throws Exception {
    runner.expect(RESOLVE, "systemd/" + sampleFile);

    assertThat(systemd.resolve("nginx")).containsExactly(Map.entry(id, new ServiceState(startup, activity)));
    runner.assertPlayedOut();
  }

  @Test
  void resolveOfAnUnknownUnitIsEmpty() throws Exception {
    runner.expect(RESOLVE, "systemd/show-id-not-found.out");

    assertThat(systemd.resolve("nginx")).isEmpty();
  }

  @Test
  void resolveFailsOnAnAnswerWithoutTheId() {
    runner.expect(RESOLVE, "systemd/show-masked-inactive.out");

    assertThatThrownBy(() -> systemd.resolve("nginx"))
        .isInstanceOf(ServiceManagerException.class)
        .hasMessageContaining("(expected Id, LoadState, UnitFileState and ActiveState lines)");
  }

  @Test
  void queryOfAnUnknownUnitIsEmpty() throws Exception {
    runner.expect(SHOW, "systemd/show-not-found.out");
    assertThat(systemd.query("nginx.service")).isEmpty();
  }

  @Test
  void queryWithoutABusFailsQuotingSystemctl() {
    runner.expect(SHOW, 1, null, "systemd/no-bus.err");
    assertThatThrownBy(() -> systemd.query("nginx.service"))
        .isInstanceOf(ServiceManagerException.class)
        .hasMessageContaining("`systemctl show --property=LoadState,UnitFileState,ActiveState -- nginx.service` exited"
            + " with 1: System has not been booted with systemd")
        .hasMessageContaining("(expected exit code 0)");
  }

  @ParameterizedTest
  @CsvSource({"nginx, nginx.service", "nginx.service, nginx.service", "cups.socket, cups.socket",
      "getty@tty1, getty@tty1.service", "app.v2, app.v2.service"})
  void addressNamesAUnitAndAddsServiceWhenNoUnitTypeIsGiven(String name, String unit) {
    assertThat(systemd.address(name)).isEqualTo(unit);
  }

  @ParameterizedTest
  @ValueSource(strings = {"getty@", "getty@.service", "app@.socket"})
  void addressRefusesATemplateWhichNoInstanceOfRunsAs(String name) {
    assertThatThrownBy(() -> systemd.address(name)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("expected a unit or a template's instance (getty@tty1) but found the template \"" + name + "\"");
  }

  @Test
  void convergeRecordsThenMasksAndStopsAndVerifies() throws Exception {
    runner.expect(RESOLVE, "systemd/show-id-enabled-active.out")
        .expect(MASK, 0, null, "systemd/mask-nginx.err")
        .expect(SHOW, "systemd/show-masked-inactive.out");

    enforcer.converge(List.of(M1));

    runner.assertPlayedOut();
    assertThat(records()).containsExactly(Map.entry("nginx.service",
        new ServiceRecords.Entry(new ServiceState("enabled", "active"), new TreeSet<>(Set.of("M1")))));
  }

  @Test
  void convergeAgainIssuesOnlyTheShowThatResolvesTheName() throws Exception {
    runner.expect(RESOLVE, "systemd/show-id-enabled-active.out").expect(MASK, 0, null, "systemd/mask-nginx.err")
        .expect(SHOW, "systemd/show-masked-inactive.out");
    enforcer.converge(List.of(M1));
    runner.reset().expect(RESOLVE, "systemd/show-id-masked-inactive.out");

    enforcer.converge(List.of(M1));

    assertThat(runner.issued()).containsExactly(RESOLVE);
    runner.assertPlayedOut();
  }

  @Test
  void aSteadyStateConvergeIssuesOneShowPerUnit() throws Exception {
    // Three units, one named by its alias, one named by two mitigations in two ways of writing one address.
    SimulatedSystemctl systemctl = new SimulatedSystemctl()
        .unit("nginx.service", "enabled", true)
        .unit("redis.service", "disabled", true);
    ServiceEnforcer enforcer = simulated(systemctl);
    List<ActiveMitigation> active = List.of(enforce("M1", disable("nginx", SYSTEMD)),
        enforce("M2", disable("sshd", SYSTEMD), disable("redis", SYSTEMD)),
        enforce("M3", disable("nginx.service", SYSTEMD)));
    enforcer.converge(active);
    assertThat(systemctl.state("nginx.service")).isEqualTo("masked inactive");
    assertThat(systemctl.state("ssh.service")).isEqualTo("masked inactive");
    assertThat(systemctl.state("redis.service")).isEqualTo("masked inactive");
    systemctl.clear();

    enforcer.converge(active);

    // One systemctl per unit and check: the show that resolves the name also reports the unit's state.
    assertThat(systemctl.issued()).extracting(argv -> argv.get(1) + " " + argv.get(argv.size() - 1))
        .containsExactlyInAnyOrder("show nginx.service", "show sshd.service", "show redis.service");
  }

  @Test
  void onceAConvergeHasChangedAUnitTheUnitsStillToCheckAreQueriedAfresh() throws Exception {
    // Masking nginx with --now can stop or start other units (BindsTo=, a unit that wants it): the state the
    // resolve reported for redis is from before that, so redis is queried again before anything is decided.
    SimulatedSystemctl systemctl = new SimulatedSystemctl()
        .unit("nginx.service", "enabled", true)
        .unit("redis.service", "masked", false);
    ServiceEnforcer enforcer = new ServiceEnforcer("web-systemd", ServiceManagers.create("systemd",
        Map.of("systemctl", "systemctl"), systemctl, Duration.ZERO), state);

    enforcer.converge(List.of(enforce("M1", disable("nginx", SYSTEMD)), enforce("M2", disable("redis", SYSTEMD))));

    assertThat(systemctl.issued()).containsExactly(resolving("nginx.service"), resolving("redis.service"),
        systemctl("mask", "--now", "--", "nginx.service"), systemctl("show", Systemd.PROPERTIES, "--", "nginx.service"),
        systemctl("show", Systemd.PROPERTIES, "--", "redis.service"));
  }

  @Test
  void removalUnmasksAndStartsWhatWasEnabledAndActiveThenDeletesTheRecord() throws Exception {
    runner.expect(RESOLVE, "systemd/show-id-enabled-active.out").expect(MASK, 0, null, "systemd/mask-nginx.err")
        .expect(SHOW, "systemd/show-masked-inactive.out");
    enforcer.converge(List.of(M1));
    runner.reset()
        .expect(SHOW, "systemd/show-masked-inactive.out")
        .expect(UNMASK, 0, null, "systemd/unmask-nginx.err")
        .expect(START, 0, null, null)
        .expect(SHOW, "systemd/show-enabled-active.out");

    enforcer.converge(List.of());

    runner.assertPlayedOut();
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void removalOfAUnitThatWasDisabledAndInactiveUnmasksItAndDoesNotStartIt() throws Exception {
    runner.expect(RESOLVE, "systemd/show-id-disabled-inactive.out").expect(MASK, 0, null, "systemd/mask-nginx.err")
        .expect(SHOW, "systemd/show-masked-inactive.out");
    enforcer.converge(List.of(M1));
    runner.reset()
        .expect(SHOW, "systemd/show-masked-inactive.out")
        .expect(UNMASK, 0, null, "systemd/unmask-nginx.err")
        .expect(SHOW, "systemd/show-disabled-inactive.out");

    enforcer.converge(List.of());

    runner.assertPlayedOut();
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void aUnitMaskedBeforeIsLeftMaskedOnRemoval() throws Exception {
    runner.expect(RESOLVE, "systemd/show-id-masked-inactive.out");
    enforcer.converge(List.of(M1));
    assertThat(records().get("nginx.service").previous()).isEqualTo(new ServiceState("masked", "inactive"));
    runner.reset().expect(SHOW, "systemd/show-masked-inactive.out");

    enforcer.converge(List.of());

    assertThat(runner.issued()).containsExactly(SHOW);
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void aMaskedUnitThatRunsIsStoppedNotMaskedAgain() throws Exception {
    runner.expect(RESOLVE, "systemd/show-id-masked-active.out")
        .expect(STOP, 0, null, null)
        .expect(SHOW, "systemd/show-masked-inactive.out");

    enforcer.converge(List.of(M1));

    runner.assertPlayedOut();
  }

  @Test
  void aUnitMaskedYetRunningBeforeIsStartedOnRemovalByLiftingTheMaskForTheStart() throws Exception {
    // An administrator masked nginx without --now: it runs on, and nothing may start it again. systemctl
    // refuses to start a masked unit ("Unit nginx.service is masked."), so restoring "running" means lifting
    // the mask for the start and putting it back, as Windows does with a Disabled service that ran.
    runner.expect(RESOLVE, "systemd/show-id-masked-active.out")
        .expect(STOP, 0, null, null)
        .expect(SHOW, "systemd/show-masked-inactive.out");
    enforcer.converge(List.of(M1));
    assertThat(records().get("nginx.service").previous()).isEqualTo(new ServiceState("masked", "active"));
    runner.reset()
        .expect(SHOW, "systemd/show-masked-inactive.out")
        .expect(UNMASK, 0, null, "systemd/unmask-nginx.err")
        .expect(START, 0, null, null)
        .expect(MASK_ONLY, 0, null, "systemd/mask-nginx.err")
        .expect(SHOW, "systemd/show-masked-active.out");

    enforcer.converge(List.of());

    runner.assertPlayedOut();
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void aRuntimeMaskIsNotLeftAsAPersistentMaskOnRemoval() throws Exception {
    // Masked with --runtime by an administrator: disabled already, so only recorded.
    runner.expect(RESOLVE, "systemd/show-id-masked-runtime-inactive.out");
    enforcer.converge(List.of(M1));
    // After a reboot the runtime mask is gone and nginx runs: the agent masks it, persistently.
    runner.reset()
        .expect(RESOLVE, "systemd/show-id-enabled-active.out")
        .expect(MASK, 0, null, "systemd/mask-nginx.err")
        .expect(SHOW, "systemd/show-masked-inactive.out");
    enforcer.converge(List.of(M1));
    assertThat(records().get("nginx.service").previous()).isEqualTo(new ServiceState("masked-runtime", "inactive"));
    // The persistent mask is the agent's own: removal takes it away (a runtime mask still in place stays).
    runner.reset()
        .expect(SHOW, "systemd/show-masked-inactive.out")
        .expect(UNMASK, 0, null, "systemd/unmask-nginx.err")
        .expect(SHOW, "systemd/show-enabled-inactive.out");

    enforcer.converge(List.of());

    runner.assertPlayedOut();
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void aFailedMaskLeavesTheUnitAndTheRecordsAsTheyWere() throws Exception {
    runner.expect(RESOLVE, "systemd/show-id-enabled-active.out")
        .expect(MASK, 1, null, "systemd/mask-file-exists.err")
        .expect(SHOW, "systemd/show-enabled-active.out");

    assertThatThrownBy(() -> enforcer.converge(List.of(M1)))
        .isInstanceOf(EnforcementException.class)
        .hasMessageContaining("web-systemd: `systemctl mask --now -- nginx.service` exited with 1: Failed to mask unit:"
            + " File /etc/systemd/system/nginx.service already exists.")
        .hasMessageContaining("restored the services as they were")
        .satisfies(e -> assertThat(((EnforcementException) e).restored()).isTrue());
    runner.assertPlayedOut();
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void aStartThatFailsOnRemovalMasksTheUnitAgainAndKeepsTheRecord() throws Exception {
    runner.expect(RESOLVE, "systemd/show-id-enabled-active.out").expect(MASK, 0, null, "systemd/mask-nginx.err")
        .expect(SHOW, "systemd/show-masked-inactive.out");
    enforcer.converge(List.of(M1));
    Map<String, ServiceRecords.Entry> recorded = records();
    runner.reset()
        .expect(SHOW, "systemd/show-masked-inactive.out")
        .expect(UNMASK, 0, null, "systemd/unmask-nginx.err")
        .expect(START, 1, null, "systemd/start-nginx-failed.err")
        // roll back: disable again what the failed restore left half restored
        .expect(SHOW, "systemd/show-enabled-inactive.out")
        .expect(MASK, 0, null, "systemd/mask-nginx.err")
        .expect(SHOW, "systemd/show-masked-inactive.out");

    assertThatThrownBy(() -> enforcer.converge(List.of()))
        .isInstanceOf(EnforcementException.class)
        .hasMessageContaining("`systemctl start -- nginx.service` exited with 1: Job for nginx.service failed")
        .satisfies(e -> assertThat(((EnforcementException) e).restored()).isTrue());
    runner.assertPlayedOut();
    assertThat(records()).isEqualTo(recorded);
  }

  @Test
  void aRecordWrittenBeforeACrashIsFinishedOnTheNextConverge() throws Exception {
    // The agent recorded nginx as enabled and active, then died before masking it.
    new ServiceRecords(recordFile(), "web-systemd", SYSTEMD).write(Map.of("nginx.service",
        new ServiceRecords.Entry(new ServiceState("enabled", "active"), new TreeSet<>(Set.of("M1")))));
    runner.expect(RESOLVE, "systemd/show-id-enabled-active.out")
        .expect(MASK, 0, null, "systemd/mask-nginx.err")
        .expect(SHOW, "systemd/show-masked-inactive.out");

    enforcer.converge(List.of(M1));

    runner.assertPlayedOut();
    assertThat(records().get("nginx.service").previous()).isEqualTo(new ServiceState("enabled", "active"));
  }

  @Test
  void twoMitigationsOnOneUnitRestoreItOnlyWhenTheLastGoes() throws Exception {
    ActiveMitigation m2 = enforce("M2", disable("nginx.service", SYSTEMD, WINDOWS));
    // nginx and nginx.service are one address: systemctl is asked once.
    runner.expect(RESOLVE, "systemd/show-id-enabled-active.out").expect(MASK, 0, null, "systemd/mask-nginx.err")
        .expect(SHOW, "systemd/show-masked-inactive.out");
    enforcer.converge(List.of(M1, m2));
    assertThat(records().get("nginx.service").mitigations()).containsExactly("M1", "M2");

    runner.reset().expect(RESOLVE, "systemd/show-id-masked-inactive.out");
    enforcer.converge(List.of(m2));
    assertThat(runner.issued()).containsExactly(RESOLVE);
    assertThat(records().get("nginx.service"))
        .isEqualTo(new ServiceRecords.Entry(new ServiceState("enabled", "active"), new TreeSet<>(Set.of("M2"))));

    runner.reset().expect(SHOW, "systemd/show-masked-inactive.out").expect(UNMASK, 0, null, "systemd/unmask-nginx.err")
        .expect(START, 0, null, null).expect(SHOW, "systemd/show-enabled-active.out");
    enforcer.converge(List.of());
    runner.assertPlayedOut();
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void auditModeChangesNothingAndRecordsNothing() throws Exception {
    enforcer.converge(List.of(audit("M1", disable("nginx", SYSTEMD))));

    assertThat(runner.issued()).isEmpty();
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void switchingToAuditModeRestoresTheUnit() throws Exception {
    runner.expect(RESOLVE, "systemd/show-id-enabled-active.out").expect(MASK, 0, null, "systemd/mask-nginx.err")
        .expect(SHOW, "systemd/show-masked-inactive.out");
    enforcer.converge(List.of(M1));
    runner.reset().expect(SHOW, "systemd/show-masked-inactive.out").expect(UNMASK, 0, null, "systemd/unmask-nginx.err")
        .expect(START, 0, null, null).expect(SHOW, "systemd/show-enabled-active.out");

    enforcer.converge(List.of(audit("M1", disable("nginx", SYSTEMD))));

    runner.assertPlayedOut();
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void refusalNamesAnUnknownUnit() {
    runner.expect(RESOLVE, "systemd/show-id-not-found.out");

    assertThat(enforcer.refusal(M1)).hasValue(
        "disable-service nginx: expected a service nginx.service on systemd (systemctl) but found none");
  }

  @Test
  void refusalExplainsActionsForOtherManagersOnly() {
    ActiveMitigation windowsOnly = enforce("M3", disable("MSExchangeUM", WINDOWS), disable("um", SUPERVISORD, WINDOWS));

    assertThat(enforcer.refusal(windowsOnly)).hasValue("disable-service: every action names other service managers"
        + " (MSExchangeUM for windows; um for windows, supervisord), and target web-systemd runs systemd");
    assertThat(runner.issued()).isEmpty();
  }

  @Test
  void noRefusalForAKnownUnitNorForAMitigationWithoutDisableService() {
    runner.expect(RESOLVE, "systemd/show-id-enabled-active.out");

    assertThat(enforcer.refusal(M1)).isEmpty();
    assertThat(enforcer.refusal(endpointOnly("M4"))).isEmpty();
    assertThat(enforcer.handles("disable-service")).isTrue();
    assertThat(enforcer.handles("request-rules")).isFalse();
  }

  @Test
  void refusalSaysWhenSystemctlCannotBeAsked() {
    runner.expect(RESOLVE, 1, null, "systemd/no-bus.err");

    assertThat(enforcer.refusal(M1)).hasValueSatisfying(r -> assertThat(r)
        .startsWith("disable-service nginx: could not query systemd (systemctl): `systemctl show")
        .contains("Failed to connect to bus: Host is down"));
  }

  @Test
  void convergeOnAnUnknownUnitFailsWithoutChangingAnything() {
    runner.expect(RESOLVE, "systemd/show-id-not-found.out").expect(SHOW, "systemd/show-not-found.out");

    assertThatThrownBy(() -> enforcer.converge(List.of(M1)))
        .isInstanceOf(EnforcementException.class)
        .hasMessageContaining("disable-service nginx.service (for [M1]): expected a service on systemd (systemctl) but"
            + " found none");
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void aCorruptRecordFileStopsConvergeBeforeAnyCommand() throws Exception {
    Files.createDirectories(recordFile().getParent());
    Files.writeString(recordFile(), "{\"format\":\"tourniquet-service-records/1\",\"target\":\"other\","
        + "\"manager\":\"systemd\",\"services\":{}}");

    assertThatThrownBy(() -> enforcer.converge(List.of(M1)))
        .isInstanceOf(EnforcementException.class)
        .hasMessageContaining("not a valid service record file: target: expected \"web-systemd\" but found \"other\"");
    assertThat(runner.issued()).isEmpty();
  }

  @Test
  void aUnitThatNeverStopsFailsAfterTheSettleTimeoutAndIsRestored() throws Exception {
    ServiceManager slow = ServiceManagers.create("systemd", Map.of("systemctl", "systemctl", "settleTimeout", "PT0.05S"),
        runner, Duration.ofMillis(5));
    ServiceEnforcer withSlow = new ServiceEnforcer("web-systemd", slow, state);
    runner.expect(RESOLVE, "systemd/show-id-enabled-active.out")
        .expect(MASK, 0, null, "systemd/mask-nginx.err")
        .expectRepeatedly(SHOW, "systemd/show-masked-active.out")
        // roll back: unmask; it still runs, so nothing to start
        .expect(UNMASK, 0, null, "systemd/unmask-nginx.err")
        .expect(SHOW, "systemd/show-enabled-active.out");

    assertThatThrownBy(() -> withSlow.converge(List.of(M1)))
        .isInstanceOf(EnforcementException.class)
        .hasMessageContaining("waiting for nginx.service to be masked and stopped: expected UnitFileState masked and"
            + " ActiveState inactive or failed within PT0.05S but found startup masked, active");
    runner.assertPlayedOut();
    assertThat(recordFile()).doesNotExist();
  }

  /** An enforcer on a simulated systemd where ssh.service runs, enabled, and has the alias sshd.service. */
  ServiceEnforcer simulated(SimulatedSystemctl systemctl) {
    systemctl.unit("ssh.service", "enabled", true, "sshd.service");
    return new ServiceEnforcer("web-systemd", ServiceManagers.create("systemd", Map.of("systemctl", "systemctl"),
        systemctl, Duration.ZERO), state);
  }

  static boolean startsOrUnmasks(List<String> argv) {
    return argv.get(1).equals("start") || argv.get(1).equals("unmask");
  }

  @ParameterizedTest
  @ValueSource(strings = {"ssh.service", "sshd", "sshd.service"})
  void aUnitAndItsAliasAreOneRecordSoTheUnitRunsAgainOnlyWhenBothMitigationsAreGone(String spelling) throws Exception {
    SimulatedSystemctl systemctl = new SimulatedSystemctl();
    ServiceEnforcer enforcer = simulated(systemctl);
    ActiveMitigation first = enforce("M1", disable("ssh", SYSTEMD));
    ActiveMitigation second = enforce("M2", disable(spelling, SYSTEMD));
    enforcer.converge(List.of(first));
    enforcer.converge(List.of(first, second));
    assertThat(systemctl.state("ssh.service")).isEqualTo("masked inactive");
    systemctl.clear();

    // M1 goes first: M2 still wants the unit masked, so nothing may unmask or start it, not even for a moment.
    enforcer.converge(List.of(second));

    assertThat(systemctl.issued()).noneMatch(SystemdTest::startsOrUnmasks);
    assertThat(systemctl.state("ssh.service")).isEqualTo("masked inactive");

    // M2 goes too: the unit was enabled and active before M1 masked it.
    enforcer.converge(List.of());

    assertThat(systemctl.state("ssh.service")).isEqualTo("enabled active");
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void recordsAnEarlierVersionKeptPerSpellingAreMergedPerUnitAndRestoredWhenTheLastMitigationGoes() throws Exception {
    // What the earlier version left after M1 (ssh) and then M2 (sshd.service), which found the unit masked by M1.
    SimulatedSystemctl systemctl = new SimulatedSystemctl();
    ServiceEnforcer enforcer = simulated(systemctl);
    systemctl.run(List.of("systemctl", "mask", "--now", "--", "ssh.service"), Duration.ZERO);
    systemctl.clear();
    Files.createDirectories(recordFile().getParent());
    Files.writeString(recordFile(), """
        {
          "format" : "tourniquet-service-records/1",
          "target" : "web-systemd",
          "manager" : "systemd",
          "services" : {
            "ssh.service" : { "startup" : "enabled", "activity" : "active", "mitigations" : [ "M1" ] },
            "sshd.service" : { "startup" : "masked", "activity" : "inactive", "mitigations" : [ "M2" ] }
          }
        }
        """);
    ActiveMitigation second = enforce("M2", disable("sshd.service", SYSTEMD));

    enforcer.converge(List.of(second));

    assertThat(systemctl.issued()).noneMatch(SystemdTest::startsOrUnmasks);
    assertThat(systemctl.state("ssh.service")).isEqualTo("masked inactive");

    enforcer.converge(List.of());

    assertThat(systemctl.state("ssh.service")).isEqualTo("enabled active");
    assertThat(recordFile()).doesNotExist();
  }

  /** The show that resolves a name: the unit's Id, and its state. */
  static List<String> resolving(String name) {
    return List.of("systemctl", "show", "--property=Id,LoadState,UnitFileState,ActiveState", "--", name);
  }

  static List<String> systemctl(String... args) {
    return java.util.stream.Stream.concat(java.util.stream.Stream.of("systemctl"), java.util.stream.Stream.of(args)).toList();
  }

  @Test
  void anAliasIsResolvedToTheUnitsIdAndEveryCommandNamesTheId() throws Exception {
    runner.expect(resolving("sshd.service"), "systemd/show-id-sshd-alias.out")
        .expect(systemctl("mask", "--now", "--", "ssh.service"), 0, null, "systemd/mask-nginx.err")
        .expect(systemctl("show", Systemd.PROPERTIES, "--", "ssh.service"), "systemd/show-masked-inactive.out");

    enforcer.converge(List.of(enforce("M2", disable("sshd", SYSTEMD))));

    runner.assertPlayedOut();
    assertThat(records()).containsOnlyKeys("ssh.service");
  }

  void writeRecordsOfAnEarlierVersion() throws Exception {
    Files.createDirectories(recordFile().getParent());
    Files.writeString(recordFile(), """
        {
          "format" : "tourniquet-service-records/1",
          "target" : "web-systemd",
          "manager" : "systemd",
          "services" : {
            "ssh.service" : { "startup" : "enabled", "activity" : "active", "mitigations" : [ "M1" ] },
            "sshd.service" : { "startup" : "masked", "activity" : "inactive", "mitigations" : [ "M2" ] }
          }
        }
        """);
  }

  @Test
  void recordsOfAnEarlierVersionAreKeyedByUnitIdBeforeAnythingElseAndRestoredOnce() throws Exception {
    writeRecordsOfAnEarlierVersion();
    runner.expect(resolving("ssh.service"), "systemd/show-id-sshd-alias-masked.out")
        .expect(resolving("sshd.service"), "systemd/show-id-sshd-alias-masked.out")
        // Both mitigations are gone: ssh.service gets back what M1 found, once.
        .expect(systemctl("show", Systemd.PROPERTIES, "--", "ssh.service"), "systemd/show-masked-inactive.out")
        .expect(systemctl("unmask", "--", "ssh.service"), 0, null, "systemd/unmask-nginx.err")
        .expect(systemctl("start", "--", "ssh.service"), 0, null, null)
        .expect(systemctl("show", Systemd.PROPERTIES, "--", "ssh.service"), "systemd/show-enabled-active.out");

    enforcer.converge(List.of());

    runner.assertPlayedOut();
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void recordsOfAnEarlierVersionAreWrittenBackKeyedByUnitIdWithTheStateFoundFirst() throws Exception {
    writeRecordsOfAnEarlierVersion();
    runner.expect(resolving("ssh.service"), "systemd/show-id-sshd-alias-masked.out")
        .expect(resolving("sshd.service"), "systemd/show-id-sshd-alias-masked.out")
        .expect(resolving("sshd.service"), "systemd/show-id-sshd-alias-masked.out");

    enforcer.converge(List.of(enforce("M2", disable("sshd.service", SYSTEMD))));

    runner.assertPlayedOut();
    assertThat(Files.readString(recordFile())).contains("\"tourniquet-service-records/2\"");
    assertThat(records()).containsExactly(Map.entry("ssh.service",
        new ServiceRecords.Entry(new ServiceState("enabled", "active"), new TreeSet<>(Set.of("M2")))));
  }

  @Test
  void recordsOfAnEarlierVersionAreLeftAsTheyWereWhenSystemctlCannotSayWhichUnitIsWhich() throws Exception {
    writeRecordsOfAnEarlierVersion();
    String written = Files.readString(recordFile());
    runner.expect(resolving("ssh.service"), 1, null, "systemd/no-bus.err");

    assertThatThrownBy(() -> enforcer.converge(List.of()))
        .isInstanceOf(EnforcementException.class)
        .hasMessageContaining("web-systemd.json: records of an earlier version, kept by name: could not ask systemd"
            + " (systemctl) which service each name is, so nothing was changed: `systemctl show"
            + " --property=Id,LoadState,UnitFileState,ActiveState -- ssh.service` exited with 1")
        .satisfies(e -> assertThat(((EnforcementException) e).restored()).isTrue());
    runner.assertPlayedOut();
    assertThat(Files.readString(recordFile())).isEqualTo(written);
  }

  @Test
  void aUnitNoLongerKnownKeepsItsRecordOfAnEarlierVersionUnderItsName() throws Exception {
    Files.createDirectories(recordFile().getParent());
    Files.writeString(recordFile(), """
        {"format":"tourniquet-service-records/1","target":"web-systemd","manager":"systemd","services":{
          "nginx.service":{"startup":"enabled","activity":"active","mitigations":["M1"]}}}
        """);
    runner.expect(RESOLVE, "systemd/show-id-not-found.out")
        .expect(RESOLVE, "systemd/show-id-not-found.out")
        .expect(SHOW, "systemd/show-not-found.out");

    enforcer.converge(List.of(M1));

    runner.assertPlayedOut();
    assertThat(records()).containsOnlyKeys("nginx.service");
  }
}
