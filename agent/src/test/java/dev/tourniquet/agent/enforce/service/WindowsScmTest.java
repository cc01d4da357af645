package dev.tourniquet.agent.enforce.service;

import static dev.tourniquet.agent.enforce.service.ServiceMitigations.disable;
import static dev.tourniquet.agent.enforce.service.ServiceMitigations.enforce;
import static dev.tourniquet.agent.enforce.service.ScriptedRunner.sample;
import static dev.tourniquet.feed.mitigation.Action.DisableService.Manager.WINDOWS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.EnforcementException;
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

/**
 * The Windows service control manager: parsing {@code sc.exe qc} and {@code sc.exe query}, and the exact
 * commands the enforcer issues, modelled on Microsoft's 2021 mitigation for CVE-2021-26857 (stop
 * {@code MSExchangeUM}, start type Disabled; roll back by restoring the start type and starting it).
 */
class WindowsScmTest {
  static final String SC = "C:\\Windows\\System32\\sc.exe";
  static final List<String> QC = List.of(SC, "qc", "msexchangeum", "8192");
  static final List<String> QUERY = List.of(SC, "query", "msexchangeum");
  static final List<String> STOP = List.of(SC, "stop", "msexchangeum");
  static final List<String> START = List.of(SC, "start", "msexchangeum");
  static final ActiveMitigation M3 = enforce("M3", disable("MSExchangeUM", WINDOWS));

  @TempDir Path state;
  ScriptedRunner runner;
  ServiceManager scm;
  ServiceEnforcer enforcer;

  @BeforeEach
  void setUp() {
    runner = new ScriptedRunner();
    scm = ServiceManagers.create("windows", Map.of("sc", SC), runner, Duration.ZERO);
    enforcer = new ServiceEnforcer("exchange", scm, state);
  }

  static List<String> config(String startType) {
    return List.of(SC, "config", "msexchangeum", "start=", startType);
  }

  Map<String, ServiceRecords.Entry> records() throws Exception {
    return new ServiceRecords(state.resolve("services/exchange.json"), "exchange", WINDOWS).read().entries();
  }

  /** Scripts the commands that disable a running service whose start type is {@code qcSample}. */
  void scriptDisable(String qcSample) {
    runner.expect(QC, qcSample) // resolve: sc.exe qc knows the name, so it is a key name; and its start type
        .expect(QUERY, "windows/query-running.out")
        .expect(config("disabled"), "windows/config-success.out")
        .expect(QC, "windows/qc-disabled.out")
        .expect(STOP, "windows/stop.out")
        .expect(QUERY, "windows/query-stop-pending.out")
        .expect(QUERY, "windows/query-stopped.out");
  }

  @ParameterizedTest
  @CsvSource({"qc-auto.out, auto", "qc-delayed-auto.out, delayed-auto", "qc-demand.out, demand",
      "qc-disabled.out, disabled", "qc-localized-labels.out, delayed-auto"})
  void parseStartTypeReadsTheNumberAndNameWhateverTheLabelLanguage(String sampleFile, String startType) {
    assertThat(WindowsScm.parseStartType(sample("windows/" + sampleFile))).hasValue(startType);
  }

  @ParameterizedTest
  @CsvSource({"query-running.out, RUNNING", "query-stopped.out, STOPPED", "query-stop-pending.out, STOP_PENDING",
      "query-start-pending.out, START_PENDING", "stop.out, STOP_PENDING", "start.out, START_PENDING"})
  void parseStateReadsTheStateLine(String sampleFile, String state) {
    assertThat(WindowsScm.parseState(sample("windows/" + sampleFile))).hasValue(state);
  }

  @Test
  void parsersRefuseANumberThatContradictsItsName() {
    assertThat(WindowsScm.parseStartType("        START_TYPE         : 3   AUTO_START\r\n")).isEmpty();
    assertThat(WindowsScm.parseStartType("        START_TYPE         : 3   DEMAND_START  (DELAYED)\r\n")).isEmpty();
    assertThat(WindowsScm.parseState("        STATE              : 1  RUNNING\r\n")).isEmpty();
    assertThat(WindowsScm.parseState(sample("windows/no-such-service.out"))).isEmpty();
  }

  @Test
  void addressIsTheLowerCaseNameBecauseWindowsServiceNamesIgnoreCase() {
    assertThat(scm.address("MSExchangeUM")).isEqualTo("msexchangeum");
  }

  @Test
  void queryReportsStartTypeAndState() throws Exception {
    runner.expect(QC, "windows/qc-delayed-auto.out").expect(QUERY, "windows/query-running.out");

    assertThat(scm.query("msexchangeum")).contains(new ServiceState("delayed-auto", "RUNNING"));
  }

  @Test
  void queryOfAMissingServiceIsEmptyByItsExitCode() throws Exception {
    runner.expect(QC, WindowsScm.NO_SUCH_SERVICE, "windows/no-such-service.out", null);

    assertThat(scm.query("msexchangeum")).isEmpty();
  }

  @Test
  void queryWithoutRightsFailsQuotingScExe() {
    runner.expect(QC, 5, "windows/access-denied.out", null);

    assertThatThrownBy(() -> scm.query("msexchangeum"))
        .isInstanceOf(ServiceManagerException.class)
        .hasMessage("`" + SC + " qc msexchangeum 8192` exited with 5: [SC] OpenService FAILED 5: | Access is denied."
            + " (expected exit code 0)");
  }

  @Test
  void convergeSetsStartTypeDisabledThenStopsAndWaitsUntilStopped() throws Exception {
    scriptDisable("windows/qc-auto.out");

    enforcer.converge(List.of(M3));

    runner.assertPlayedOut();
    assertThat(records()).containsExactly(Map.entry("msexchangeum",
        new ServiceRecords.Entry(new ServiceState("auto", "RUNNING"), new TreeSet<>(Set.of("M3")))));
  }

  @Test
  void convergeAgainIssuesOnlyQcAndQuery() throws Exception {
    scriptDisable("windows/qc-auto.out");
    enforcer.converge(List.of(M3));
    runner.reset().expect(QC, "windows/qc-disabled.out").expect(QUERY, "windows/query-stopped.out");

    enforcer.converge(List.of(M3));

    assertThat(runner.issued()).containsExactly(QC, QUERY);
  }

  @Test
  void aSteadyStateConvergeIssuesOneQcAndOneQueryPerService() throws Exception {
    // Disabled by an earlier check, for two mitigations that write its name differently.
    Map<String, ServiceRecords.Entry> recorded = Map.of("msexchangeum",
        new ServiceRecords.Entry(new ServiceState("auto", "RUNNING"), new TreeSet<>(Set.of("M3", "M4"))));
    new ServiceRecords(state.resolve("services/exchange.json"), "exchange", WINDOWS).write(recorded);
    // sc.exe has no command that reports both start type and state: qc resolves the name and gives the start
    // type, query gives the state.
    runner.expect(QC, "windows/qc-disabled.out").expect(QUERY, "windows/query-stopped.out");

    enforcer.converge(List.of(M3, enforce("M4", disable("msexchangeum", WINDOWS))));

    assertThat(runner.issued()).containsExactly(QC, QUERY);
    assertThat(records()).isEqualTo(recorded);
  }

  @Test
  void removalRestoresTheStartTypeAndStartsWhatRan() throws Exception {
    scriptDisable("windows/qc-auto.out");
    enforcer.converge(List.of(M3));
    runner.reset()
        .expect(QC, "windows/qc-disabled.out")
        .expect(QUERY, "windows/query-stopped.out")
        .expect(config("auto"), "windows/config-success.out")
        .expect(QC, "windows/qc-auto.out")
        .expect(START, "windows/start.out")
        .expect(QUERY, "windows/query-start-pending.out")
        .expect(QUERY, "windows/query-running.out");

    enforcer.converge(List.of());

    runner.assertPlayedOut();
    assertThat(state.resolve("services/exchange.json")).doesNotExist();
  }

  @Test
  void removalRestoresDelayedAutoStartAsDelayedAuto() throws Exception {
    scriptDisable("windows/qc-delayed-auto.out");
    enforcer.converge(List.of(M3));
    runner.reset()
        .expect(QC, "windows/qc-disabled.out")
        .expect(QUERY, "windows/query-stopped.out")
        .expect(config("delayed-auto"), "windows/config-success.out")
        .expect(QC, "windows/qc-delayed-auto.out")
        .expect(START, "windows/start.out")
        .expect(QUERY, "windows/query-running.out");

    enforcer.converge(List.of());

    runner.assertPlayedOut();
  }

  @Test
  void aStoppedManualServiceIsOnlyDisabledAndOnRemovalOnlyGetsItsStartTypeBack() throws Exception {
    runner.expect(QC, "windows/qc-demand.out")
        .expect(QUERY, "windows/query-stopped.out")
        .expect(config("disabled"), "windows/config-success.out")
        .expect(QC, "windows/qc-disabled.out");
    enforcer.converge(List.of(M3));
    runner.reset()
        .expect(QC, "windows/qc-disabled.out")
        .expect(QUERY, "windows/query-stopped.out")
        .expect(config("demand"), "windows/config-success.out")
        .expect(QC, "windows/qc-demand.out");

    enforcer.converge(List.of());

    runner.assertPlayedOut();
  }

  @Test
  void aStopThatFailsPutsTheStartTypeBack() throws Exception {
    runner.expect(QC, "windows/qc-auto.out")
        .expect(QUERY, "windows/query-running.out")
        .expect(config("disabled"), "windows/config-success.out")
        .expect(QC, "windows/qc-disabled.out")
        .expect(STOP, 1051, "windows/stop-dependent-services.out", null)
        // roll back to what this converge found: start type auto, running
        .expect(QC, "windows/qc-disabled.out")
        .expect(QUERY, "windows/query-running.out")
        .expect(config("auto"), "windows/config-success.out")
        .expect(QC, "windows/qc-auto.out");

    assertThatThrownBy(() -> enforcer.converge(List.of(M3)))
        .isInstanceOf(EnforcementException.class)
        .hasMessageContaining("exchange: `" + SC + " stop msexchangeum` exited with 1051: [SC] ControlService FAILED"
            + " 1051: | A stop control has been sent to a service that other running services are dependent on.")
        .hasMessageContaining("restored the services as they were")
        .satisfies(e -> assertThat(((EnforcementException) e).restored()).isTrue());
    runner.assertPlayedOut();
    assertThat(state.resolve("services/exchange.json")).doesNotExist();
  }

  @Test
  void aRollbackThatFailsTooSaysAnOperatorMustLookAndKeepsTheRecord() throws Exception {
    runner.expect(QC, "windows/qc-auto.out")
        .expect(QUERY, "windows/query-running.out")
        .expect(config("disabled"), "windows/config-success.out")
        .expect(QC, "windows/qc-disabled.out")
        .expect(STOP, 1051, "windows/stop-dependent-services.out", null)
        .expect(QC, 5, "windows/access-denied.out", null);

    assertThatThrownBy(() -> enforcer.converge(List.of(M3)))
        .isInstanceOf(EnforcementException.class)
        .hasMessageContaining("restoring failed too, an operator must look: `" + SC + " qc msexchangeum 8192` exited with 5")
        .satisfies(e -> assertThat(((EnforcementException) e).restored()).isFalse());
    assertThat(records().get("msexchangeum").previous()).isEqualTo(new ServiceState("auto", "RUNNING"));
  }

  @Test
  void aStopAnsweredNotStartedIsFine() throws Exception {
    runner.expect(QC, "windows/qc-disabled.out")
        .expect(QUERY, "windows/query-running.out")
        .expect(STOP, WindowsScm.NOT_ACTIVE, "windows/stop-not-started.out", null)
        .expect(QUERY, "windows/query-stopped.out");

    enforcer.converge(List.of(M3));

    runner.assertPlayedOut();
  }

  @Test
  void aServiceStillStartingIsStoppedOnlyOnceItHasStarted() throws Exception {
    // ControlService refuses every control while a service is START_PENDING (1061,
    // ERROR_SERVICE_CANNOT_ACCEPT_CTRL): sc.exe stop must wait until it runs.
    runner.expect(QC, "windows/qc-auto.out")
        .expect(QUERY, "windows/query-start-pending.out")
        .expect(config("disabled"), "windows/config-success.out")
        .expect(QC, "windows/qc-disabled.out")
        .expect(QUERY, "windows/query-start-pending.out")
        .expect(QUERY, "windows/query-running.out")
        .expect(STOP, "windows/stop.out")
        .expect(QUERY, "windows/query-stopped.out");

    enforcer.converge(List.of(M3));

    runner.assertPlayedOut();
    assertThat(records().get("msexchangeum").previous()).isEqualTo(new ServiceState("auto", "START_PENDING"));
  }

  @Test
  void aServiceThatStaysStopPendingFailsAfterTheSettleTimeout() {
    ServiceManager slow = ServiceManagers.create("windows", Map.of("sc", SC, "settleTimeout", "PT0.05S"), runner,
        Duration.ofMillis(5));
    runner.expect(config("disabled"), "windows/config-success.out")
        .expect(QC, "windows/qc-disabled.out")
        .expect(STOP, "windows/stop.out")
        .expectRepeatedly(QUERY, "windows/query-stop-pending.out");

    assertThatThrownBy(() -> slow.disable("msexchangeum", new ServiceState("auto", "RUNNING")))
        .isInstanceOf(ServiceManagerException.class)
        .hasMessage("waiting for msexchangeum to stop: expected STATE STOPPED within PT0.05S but found startup"
            + " disabled, STOP_PENDING");
  }

  @Test
  void aDisabledServiceThatRanIsStartedOnRemovalAndDisabledAgain() throws Exception {
    // Start type Disabled only keeps a service from starting; one started before can run on.
    runner.expect(QC, "windows/qc-disabled.out")
        .expect(QUERY, "windows/query-stopped.out")
        .expect(config("demand"), "windows/config-success.out")
        .expect(QC, "windows/qc-demand.out")
        .expect(START, "windows/start.out")
        .expect(QUERY, "windows/query-running.out")
        .expect(config("disabled"), "windows/config-success.out")
        .expect(QC, "windows/qc-disabled.out");

    scm.restore("msexchangeum", new ServiceState("disabled", "RUNNING"));

    runner.assertPlayedOut();
  }

  @Test
  void twoSpellingsOfOneServiceAreOneRecord() throws Exception {
    // MSExchangeUM and msexchangeum are one address: sc.exe is asked once.
    scriptDisable("windows/qc-auto.out");

    enforcer.converge(List.of(M3, enforce("M4", disable("msexchangeum", WINDOWS))));

    runner.assertPlayedOut();
    assertThat(records().get("msexchangeum").mitigations()).containsExactly("M3", "M4");
  }

  @Test
  void refusalNamesAServiceThatIsNotInstalled() {
    runner.expect(QC, WindowsScm.NO_SUCH_SERVICE, "windows/no-such-service.out", null)
        .expect(List.of(SC, "getkeyname", "MSExchangeUM"), WindowsScm.NO_SUCH_SERVICE,
            "windows/getkeyname-no-such-service.out", null);

    assertThat(enforcer.refusal(M3)).hasValue("disable-service MSExchangeUM: expected a service msexchangeum on Windows"
        + " service control manager (" + SC + ") but found none");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "[SC] GetServiceKeyName SUCCESS  Name = MSExchangeUM\\r\\n| MSExchangeUM",
      "[SC] GetServiceKeyName SUCCESS\\r\\nName = wuauserv\\r\\n| wuauserv",
      "[SC] GetServiceKeyName OPERAZIONI RIUSCITE\\r\\nNome = wuauserv\\r\\n| wuauserv"})
  void parseKeyNameReadsTheNameAfterTheEqualsSignWhateverTheLabel(String stdout, String keyName) {
    assertThat(WindowsScm.parseKeyName(stdout.replace("\\r\\n", "\r\n"))).contains(keyName);
  }

  @Test
  void parseKeyNameRefusesAnAnswerWithoutAKeyName() {
    assertThat(WindowsScm.parseKeyName("[SC] GetServiceKeyName SUCCESS\r\n")).isEmpty();
    assertThat(WindowsScm.parseKeyName("Name = two words\r\n")).isEmpty();
  }

  @Test
  void aDisplayNameIsResolvedToTheKeyNameAndSharesItsRecord() throws Exception {
    // Not a key name (sc.exe qc opens services by key name only), but a display name without spaces.
    List<String> qcDisplay = List.of(SC, "qc", "exchange-um", "8192");
    runner.expect(QC, "windows/qc-auto.out")
        .expect(QUERY, "windows/query-running.out")
        .expect(qcDisplay, WindowsScm.NO_SUCH_SERVICE, "windows/no-such-service.out", null)
        .expect(List.of(SC, "getkeyname", "Exchange-UM"), "windows/getkeyname.out")
        .expect(QC, "windows/qc-auto.out")
        .expect(QUERY, "windows/query-running.out")
        .expect(config("disabled"), "windows/config-success.out")
        .expect(QC, "windows/qc-disabled.out")
        .expect(STOP, "windows/stop.out")
        .expect(QUERY, "windows/query-stopped.out");

    enforcer.converge(List.of(M3, enforce("M4", disable("Exchange-UM", WINDOWS))));

    runner.assertPlayedOut();
    assertThat(records()).containsExactly(Map.entry("msexchangeum",
        new ServiceRecords.Entry(new ServiceState("auto", "RUNNING"), new TreeSet<>(Set.of("M3", "M4")))));
  }

  @Test
  void refusalAcceptsADisplayNameThatNamesAService() {
    runner.expect(List.of(SC, "qc", "exchange-um", "8192"), WindowsScm.NO_SUCH_SERVICE, "windows/no-such-service.out", null)
        .expect(List.of(SC, "getkeyname", "Exchange-UM"), "windows/getkeyname.out")
        .expect(QC, "windows/qc-auto.out")
        .expect(QUERY, "windows/query-running.out");

    assertThat(enforcer.refusal(enforce("M4", disable("Exchange-UM", WINDOWS)))).isEmpty();
    runner.assertPlayedOut();
  }
}
