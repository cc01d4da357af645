package dev.tourniquet.agent.enforce.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.EnforcementException;
import dev.tourniquet.agent.enforce.Enforcer;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Applicability;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.Version;
import dev.tourniquet.feed.mitigation.VersionRange;
import dev.tourniquet.servlet.EnforcementFile;
import dev.tourniquet.servlet.Mode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServletEnforcerTest {
  static final Instant T0 = Instant.parse("2026-11-28T12:00:00Z");
  static final String RULES = "<rewrite><rules><rule name=\"block attack\" stopProcessing=\"true\">"
      + "<match url=\"attack\" /><action type=\"CustomResponse\" statusCode=\"403\" /></rule></rules></rewrite>";
  static final String OUTBOUND = "<rewrite><outboundRules><rule name=\"csp\">"
      + "<match serverVariable=\"RESPONSE_Content_Security_Policy\" pattern=\".*\" />"
      + "<action type=\"Rewrite\" value=\"default-src 'self'\" /></rule></outboundRules></rewrite>";

  @TempDir Path dir;

  static Mitigation mitigation(String id, int revision, List<Action> actions) {
    return new Mitigation(id, revision, "test " + id, "a test mitigation", List.of(), Mitigation.Severity.HIGH, List.of(),
        new Applicability("acme", List.of(VersionRange.fixedIn(Version.parse("1.0"), Version.parse("2.0")))),
        actions, Mitigation.Mode.ENFORCE, Optional.empty(), Map.of());
  }

  static Mitigation everyServletKind(String id) {
    return mitigation(id, 2, List.of(
        Action.RequestRules.ofXml(RULES),
        Action.ResponseRules.ofXml(OUTBOUND),
        new Action.DisableEndpoint("/ecp", 503, Optional.empty()),
        new Action.AuthPolicy("/ews", EnumSet.of(Action.AuthPolicy.Refusal.BASIC))));
  }

  ServletEnforcer enforcer(Clock clock) {
    return new ServletEnforcer("app", dir.resolve("enforcement/app.json"), dir.resolve("state"), clock);
  }

  @Test
  void convergeWritesAFileThatReadsBackAsTheSameMitigations() throws Exception {
    ServletEnforcer enforcer = enforcer(Clock.fixed(T0, ZoneOffset.UTC));
    Mitigation m = everyServletKind("TQ-1");

    enforcer.converge(List.of(new ActiveMitigation(m, false), new ActiveMitigation(mitigation("M1", 1,
        List.of(Action.RequestRules.ofXml(RULES))), true)));

    EnforcementFile read = EnforcementFile.read(enforcer.file());
    assertThat(read.generated()).isEqualTo(T0);
    assertThat(read.mitigations()).extracting(dev.tourniquet.servlet.ActiveMitigation::appliedId)
        .containsExactly("M1.1", "TQ-1.2");
    dev.tourniquet.servlet.ActiveMitigation tq = read.mitigations().get(1);
    assertThat(tq.mode()).isEqualTo(Mode.ENFORCE);
    assertThat(tq.requestRules().rules()).hasSize(1);
    assertThat(tq.responseRules().outboundRules()).hasSize(1);
    assertThat(tq.disableEndpoints()).singleElement()
        .satisfies(d -> assertThat(d.pathPrefix().value()).isEqualTo("/ecp"))
        .satisfies(d -> assertThat(d.status()).isEqualTo(503));
    assertThat(tq.authPolicies()).singleElement()
        .satisfies(p -> assertThat(p.refuseBasic()).isTrue())
        .satisfies(p -> assertThat(p.refuseAnonymous()).isFalse());
    assertThat(read.mitigations().get(0).mode()).isEqualTo(Mode.AUDIT);
    assertThat(read.toJson()).isEqualTo(new EnforcementFile(T0, List.of(
        ServletEnforcer.convert(new ActiveMitigation(m, false)),
        ServletEnforcer.convert(new ActiveMitigation(mitigation("M1", 1, List.of(Action.RequestRules.ofXml(RULES))), true))))
        .toJson());
  }

  @Test
  void convergingTwiceOnTheSameSetDoesNotRewriteTheFile() throws Exception {
    MutableTime clock = new MutableTime(T0);
    ServletEnforcer enforcer = enforcer(clock);
    List<ActiveMitigation> set = List.of(new ActiveMitigation(everyServletKind("TQ-1"), false));
    enforcer.converge(set);
    FileTime old = FileTime.from(T0.minus(Duration.ofDays(1)));
    Files.setLastModifiedTime(enforcer.file(), old);
    clock.now = T0.plus(Duration.ofHours(1));

    enforcer.converge(set);

    assertThat(Files.getLastModifiedTime(enforcer.file())).isEqualTo(old);
    assertThat(EnforcementFile.read(enforcer.file()).generated()).isEqualTo(T0);
  }

  @Test
  void convergingOnADifferentSetRewritesWithANewGeneratedTime() throws Exception {
    MutableTime clock = new MutableTime(T0);
    ServletEnforcer enforcer = enforcer(clock);
    enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), false)));
    clock.now = T0.plus(Duration.ofHours(1));

    enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), true)));

    EnforcementFile read = EnforcementFile.read(enforcer.file());
    assertThat(read.generated()).isEqualTo(clock.now);
    assertThat(read.mitigations().get(0).mode()).isEqualTo(Mode.AUDIT);
  }

  @Test
  void convergingOnNothingLeavesAnEmptyFile() throws Exception {
    ServletEnforcer enforcer = enforcer(Clock.fixed(T0, ZoneOffset.UTC));
    enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), false)));

    enforcer.converge(List.of());

    assertThat(EnforcementFile.read(enforcer.file()).mitigations()).isEmpty();
  }

  @Test
  void mitigationsWithoutAServletActionAreIgnored() throws Exception {
    ServletEnforcer enforcer = enforcer(Clock.fixed(T0, ZoneOffset.UTC));
    Mitigation service = mitigation("TQ-S", 1, List.of(new Action.DisableService("MSExchangeUM",
        EnumSet.of(Action.DisableService.Manager.WINDOWS))));

    enforcer.converge(List.of(new ActiveMitigation(service, false)));

    assertThat(enforcer.handles("disable-service")).isFalse();
    assertThat(enforcer.handles("request-rules")).isTrue();
    assertThat(enforcer.handles("response-rules")).isTrue();
    assertThat(enforcer.handles("disable-endpoint")).isTrue();
    assertThat(enforcer.handles("auth-policy")).isTrue();
    assertThat(enforcer.refusal(new ActiveMitigation(everyServletKind("TQ-1"), false))).isEmpty();
    assertThat(EnforcementFile.read(enforcer.file()).mitigations()).isEmpty();
  }

  @Test
  void aFileThatCannotBeWrittenIsAnEnforcementExceptionAndTheOldFileStays() throws Exception {
    Path blocker = dir.resolve("not-a-dir");
    Files.writeString(blocker, "x");
    ServletEnforcer enforcer = new ServletEnforcer("app", blocker.resolve("app.json"), dir.resolve("state"), Clock.fixed(T0, ZoneOffset.UTC));

    assertThatThrownBy(() -> enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), false))))
        .isInstanceOf(EnforcementException.class)
        .hasMessageContaining(blocker.resolve("app.json").toString())
        .hasMessageContaining("could not write the enforcement file")
        .satisfies(e -> assertThat(((EnforcementException) e).restored()).isTrue());
    assertThat(Files.readString(blocker)).isEqualTo("x");
  }

  @Test
  void auditHitsAreReadFromTheFiltersHitsFile() throws Exception {
    ServletEnforcer enforcer = auditingM1();
    Files.createDirectories(enforcer.file().getParent());
    Files.writeString(enforcer.file().resolveSibling("app.json.hits.json"), """
        {"format": "tourniquet-hits/1", "since": "2026-11-28T05:00:00Z", "written": "2026-11-28T05:10:00Z",
         "hits": [{"mitigation": "M1", "revision": 1, "mode": "audit", "rule": "EEMS M1.1 PowerShell - inbound", "count": 2},
                  {"mitigation": "M1", "revision": 1, "mode": "audit", "rule": "disable-endpoint /ecp", "count": 5}]}
        """, StandardCharsets.UTF_8);

    assertThat(enforcer.auditHits()).isEqualTo(Map.of("M1",
        Map.of("EEMS M1.1 PowerShell - inbound", 2L, "disable-endpoint /ecp", 5L)));
  }

  /** The filter's {@code <file>.hits.json} as it writes it: one audit-mode count of M1's rule, started at {@code since}. */
  private void filterWroteHits(ServletEnforcer enforcer, String since, long count) throws Exception {
    Files.createDirectories(enforcer.file().getParent());
    Files.writeString(enforcer.file().resolveSibling("app.json.hits.json"), "{\"format\": \"tourniquet-hits/1\","
        + " \"since\": \"" + since + "\", \"written\": \"2026-11-28T12:00:00Z\", \"hits\": [{\"mitigation\": \"M1\","
        + " \"revision\": 1, \"mode\": \"audit\", \"rule\": \"block attack\", \"count\": " + count + "}]}",
        StandardCharsets.UTF_8);
  }

  /** An enforcer that has converged on M1 in audit mode, as the agent does at every start. */
  private ServletEnforcer auditingM1() throws Exception {
    ServletEnforcer enforcer = enforcer(Clock.fixed(T0, ZoneOffset.UTC));
    enforcer.converge(List.of(new ActiveMitigation(mitigation("M1", 1, List.of(Action.RequestRules.ofXml(RULES))), true)));
    return enforcer;
  }

  private static Map<String, Map<String, Long>> m1(long count) {
    return Map.of("M1", Map.of("block attack", count));
  }

  static final String APP_START_1 = "2026-11-28T05:00:00Z";
  static final String APP_START_2 = "2026-11-28T09:00:00Z";
  static final String APP_START_3 = "2026-11-28T10:00:00Z";

  @Test
  void whenTheApplicationRestartsTheCountsGoOnFromWhatItCountedBefore() throws Exception {
    ServletEnforcer enforcer = auditingM1();
    filterWroteHits(enforcer, APP_START_1, 5);
    assertThat(enforcer.auditHits()).isEqualTo(m1(5));

    filterWroteHits(enforcer, APP_START_2, 2); // the application restarted: its filter counts from 0 again

    assertThat(enforcer.auditHits()).isEqualTo(m1(7));
    filterWroteHits(enforcer, APP_START_2, 3);
    assertThat(enforcer.auditHits()).isEqualTo(m1(8));
  }

  @Test
  void readingTheSameCountsAgainDoesNotCountThemTwice() throws Exception {
    ServletEnforcer enforcer = auditingM1();
    filterWroteHits(enforcer, APP_START_1, 5);
    assertThat(enforcer.auditHits()).isEqualTo(m1(5));

    assertThat(enforcer.auditHits()).isEqualTo(m1(5));
    filterWroteHits(enforcer, APP_START_1, 6);
    assertThat(enforcer.auditHits()).isEqualTo(m1(6));
  }

  @Test
  void anAgentRestartGoesOnFromTheSavedTotalsWithoutCountingAgain() throws Exception {
    ServletEnforcer before = auditingM1();
    filterWroteHits(before, APP_START_1, 5);
    before.auditHits();
    filterWroteHits(before, APP_START_2, 2);
    assertThat(before.auditHits()).isEqualTo(m1(7));

    ServletEnforcer after = auditingM1(); // the agent restarted; the application did not
    assertThat(after.auditHits()).isEqualTo(m1(7));
    filterWroteHits(after, APP_START_2, 3);
    assertThat(after.auditHits()).isEqualTo(m1(8));
  }

  @Test
  void anApplicationRestartWhileTheAgentWasDownAddsToTheSavedTotals() throws Exception {
    ServletEnforcer before = auditingM1();
    filterWroteHits(before, APP_START_1, 5);
    assertThat(before.auditHits()).isEqualTo(m1(5));
    filterWroteHits(before, APP_START_2, 1); // written while no agent was running

    assertThat(auditingM1().auditHits()).isEqualTo(m1(6));
  }

  /**
   * Two restarts between two reads: the middle run's counts were never seen and are lost (the filter
   * does not keep them), but nothing is counted twice and the counts do not go down.
   */
  @Test
  void twoApplicationRestartsBetweenTwoReadsLoseOnlyTheMiddleRun() throws Exception {
    ServletEnforcer enforcer = auditingM1();
    filterWroteHits(enforcer, APP_START_1, 5);
    enforcer.auditHits();
    filterWroteHits(enforcer, APP_START_2, 4); // never read
    filterWroteHits(enforcer, APP_START_3, 1);

    assertThat(enforcer.auditHits()).isEqualTo(m1(6));
  }

  /**
   * An application redeployed side by side: the old instance's filter, still running, may write the hits
   * file after the new one did. Its counts were already added; taking them again would count them twice.
   */
  @Test
  void countsOfAnEarlierRunWrittenAgainAreNotAddedAgain() throws Exception {
    ServletEnforcer enforcer = auditingM1();
    filterWroteHits(enforcer, APP_START_1, 5);
    enforcer.auditHits();
    filterWroteHits(enforcer, APP_START_2, 1);
    enforcer.auditHits();

    filterWroteHits(enforcer, APP_START_1, 6);
    assertThat(enforcer.auditHits()).isEqualTo(m1(6));
    filterWroteHits(enforcer, APP_START_2, 2);
    assertThat(enforcer.auditHits()).isEqualTo(m1(7));
  }

  @Test
  void aCorruptSavedTotalIsNotUsedAndIsReplacedAtTheNextSave() throws Exception {
    ServletEnforcer before = auditingM1();
    filterWroteHits(before, APP_START_1, 5);
    before.auditHits();
    Path saved = dir.resolve("state/servlet-audit.totals.json");
    Files.createDirectories(saved.getParent());
    Files.writeString(saved, "{\"format\": \"tourniquet-servlet-audit-totals/1\", \"epoch\": \"not a time\"");
    filterWroteHits(before, APP_START_2, 3);

    ServletEnforcer after = auditingM1();

    assertThat(after.auditHits()).as("only what the file says now: never more").isEqualTo(m1(3));
    assertThat(after.auditTotalsProblem()).hasValueSatisfying(p -> assertThat(p)
        .contains(saved.toString()).contains("cannot be used"));
    filterWroteHits(after, APP_START_2, 4);
    assertThat(auditingM1().auditHits()).as("replaced by a usable file").isEqualTo(m1(4));
  }

  @Test
  void aHitsFileWithoutAStartTimeDoesNotChangeTheCounts() throws Exception {
    ServletEnforcer enforcer = auditingM1();
    filterWroteHits(enforcer, APP_START_1, 5);
    enforcer.auditHits();
    Files.writeString(enforcer.file().resolveSibling("app.json.hits.json"), "{\"format\": \"tourniquet-hits/1\","
        + " \"hits\": [{\"mitigation\": \"M1\", \"revision\": 1, \"mode\": \"audit\", \"rule\": \"block attack\","
        + " \"count\": 900}]}");

    assertThat(enforcer.auditHits()).isEqualTo(m1(5));
  }

  /** The hits file is the application's: names it makes up cannot crowd out the mitigations being audited. */
  @Test
  void forgedNamesBeyondTheCapDoNotCrowdOutAMitigationBeingAudited() throws Exception {
    ServletEnforcer enforcer = auditingM1();
    StringBuilder hits = new StringBuilder("{\"format\": \"tourniquet-hits/1\", \"since\": \"" + APP_START_1
        + "\", \"hits\": [");
    for (int i = 0; i < AuditTotals.MAX_KEYS; i++) {
      hits.append("{\"mitigation\": \"F").append(i).append("\", \"revision\": 1, \"mode\": \"audit\","
          + " \"rule\": \"forged\", \"count\": 1}, ");
    }
    hits.append("{\"mitigation\": \"M1\", \"revision\": 1, \"mode\": \"audit\", \"rule\": \"block attack\","
        + " \"count\": 2}, {\"mitigation\": \"Z9\", \"revision\": 1, \"mode\": \"audit\", \"rule\": \"forged\","
        + " \"count\": 1}]}");
    Files.writeString(enforcer.file().resolveSibling("app.json.hits.json"), hits);

    assertThat(enforcer.auditHits()).isEqualTo(m1(2));
    assertThat(Files.readString(dir.resolve("state/servlet-audit.totals.json"))).contains("\"M1\"").doesNotContain("\"Z9\"");
  }

  /**
   * The Enforcer contract: audit-mode hit counters. Enforce-mode matches, and mitigations not (or no
   * longer) in audit mode, are not reported, as on nginx.
   */
  @Test
  void onlyAuditModeHitsOfMitigationsInAuditModeNowAreReported() throws Exception {
    ServletEnforcer enforcer = enforcer(Clock.fixed(T0, ZoneOffset.UTC));
    enforcer.converge(List.of(
        new ActiveMitigation(mitigation("M1", 2, List.of(Action.RequestRules.ofXml(RULES))), true),
        new ActiveMitigation(mitigation("M2", 1, List.of(Action.RequestRules.ofXml(RULES))), false)));
    Files.writeString(enforcer.file().resolveSibling("app.json.hits.json"), """
        {"format": "tourniquet-hits/1", "since": "2026-11-28T05:00:00Z", "written": "2026-11-28T05:10:00Z",
         "hits": [{"mitigation": "M1", "revision": 1, "mode": "audit", "rule": "block attack", "count": 2},
                  {"mitigation": "M1", "revision": 1, "mode": "enforce", "rule": "block attack", "count": 7},
                  {"mitigation": "M1", "revision": 2, "mode": "audit", "rule": "block attack", "count": 1},
                  {"mitigation": "M2", "revision": 1, "mode": "audit", "rule": "block attack", "count": 4},
                  {"mitigation": "M2", "revision": 1, "mode": "enforce", "rule": "block attack", "count": 3},
                  {"mitigation": "M3", "revision": 1, "mode": "audit", "rule": "block attack", "count": 1}]}
        """, StandardCharsets.UTF_8);

    assertThat(enforcer.auditHits()).isEqualTo(m1(3));
  }

  @Test
  void noHitsFileMeansNoCounts() {
    assertThat(enforcer(Clock.systemUTC()).auditHits()).isEmpty();
  }

  @Test
  void aDisableEndpointActionIsEnforcedEvenWhenItNamesAnIisAppPool() throws Exception {
    ServletEnforcer enforcer = enforcer(Clock.fixed(T0, ZoneOffset.UTC));
    Mitigation m = mitigation("TQ-E", 1, List.of(new Action.DisableEndpoint("/ecp", 503, Optional.of("MSExchangeECPAppPool"))));

    enforcer.converge(List.of(new ActiveMitigation(m, false)));

    assertThat(EnforcementFile.read(enforcer.file()).mitigations().get(0).disableEndpoints()).hasSize(1);
    assertThat(Set.of(enforcer.target())).containsExactly("app");
  }

  @Test
  void aFileNoFilterHasAcknowledgedIsNotConfirmedLiveAndTheNoteAsksWhetherTheApplicationRuns() throws Exception {
    ServletEnforcer enforcer = enforcer(Clock.fixed(T0, ZoneOffset.UTC));
    enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), false)));

    assertThat(enforcer.notLive()).contains(new Enforcer.NotLive("not confirmed live: no servlet filter has loaded "
        + enforcer.file() + " yet (there is no app.json.loaded.json): is the application running, with the Tourniquet"
        + " filter reading this file? The file stays in place and takes effect when the filter starts", false));
  }

  @Test
  void anAcknowledgementOfTheCurrentFileConfirmsItUntilTheFileChanges() throws Exception {
    MutableTime time = new MutableTime(T0);
    ServletEnforcer enforcer = new ServletEnforcer("app", dir.resolve("enforcement/app.json"), dir.resolve("state"), time, Duration.ZERO);
    enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), false)));
    acknowledge(enforcer, sha256(enforcer.file()), "loaded", null);

    assertThat(enforcer.notLive()).isEmpty();

    time.now = T0.plusSeconds(60);
    enforcer.converge(List.of());

    assertThat(enforcer.notLive()).contains(new Enforcer.NotLive("not confirmed live: the servlet filter did not"
        + " acknowledge the current " + enforcer.file() + " (its last acknowledgement, at 2026-11-28T12:00:01Z, is of"
        + " another version): is the application running? The file stays in place and takes effect when the filter"
        + " loads it", false));
  }

  @Test
  void aStoppedFilterMeansNotLiveEvenForTheFileItLoaded() throws Exception {
    ServletEnforcer enforcer = new ServletEnforcer("app", dir.resolve("enforcement/app.json"), dir.resolve("state"),
        Clock.fixed(T0, ZoneOffset.UTC), Duration.ZERO);
    enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), false)));
    acknowledge(enforcer, sha256(enforcer.file()), "loaded", null);
    assertThat(enforcer.notLive()).isEmpty();

    acknowledge(enforcer, sha256(enforcer.file()), "stopped", null);

    assertThat(enforcer.notLive()).contains(new Enforcer.NotLive("not confirmed live: the application stopped (its"
        + " Tourniquet filter said so at 2026-11-28T12:00:01Z in app.json.loaded.json); the file stays in place and"
        + " takes effect when the application starts again", false));
  }

  @Test
  @org.junit.jupiter.api.Timeout(60)
  void aFileWrittenWhileTheApplicationIsStoppedDoesNotWaitForAnAcknowledgement() throws Exception {
    ServletEnforcer enforcer = new ServletEnforcer("app", dir.resolve("enforcement/app.json"), dir.resolve("state"),
        Clock.fixed(T0, ZoneOffset.UTC), Duration.ofMinutes(10));
    enforcer.converge(List.of());
    acknowledge(enforcer, sha256(enforcer.file()), "stopped", null);

    enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), false))); // waiting would take 10 min

    assertThat(enforcer.notLive()).hasValueSatisfying(n -> assertThat(n.reason()).contains("the application stopped"));
  }

  @Test
  void aRejectionOfTheCurrentFileIsReportedAsRejectedNotAsUnconfirmed() throws Exception {
    ServletEnforcer enforcer = new ServletEnforcer("app", dir.resolve("enforcement/app.json"), dir.resolve("state"),
        Clock.fixed(T0, ZoneOffset.UTC), Duration.ZERO);
    enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), false)));
    acknowledge(enforcer, sha256(enforcer.file()), "rejected", "mitigations[0] (TQ-1): unknown field \"x\"");

    assertThat(enforcer.notLive()).contains(new Enforcer.NotLive("the servlet filter rejected " + enforcer.file()
        + ": mitigations[0] (TQ-1): unknown field \"x\"; it keeps enforcing what it loaded before, if anything, and the"
        + " file stays in place: read the application's log, and check that its Tourniquet filter is as recent as the"
        + " agent", true));
    assertThat(Files.exists(enforcer.file())).isTrue();
  }

  @Test
  void aRejectionOfAnotherVersionSaysNothingAboutTheCurrentFile() throws Exception {
    ServletEnforcer enforcer = new ServletEnforcer("app", dir.resolve("enforcement/app.json"), dir.resolve("state"),
        Clock.fixed(T0, ZoneOffset.UTC), Duration.ZERO);
    enforcer.converge(List.of());
    acknowledge(enforcer, "0".repeat(64), "rejected", "an older file");

    assertThat(enforcer.notLive()).hasValueSatisfying(n -> {
      assertThat(n.rejected()).isFalse();
      assertThat(n.reason()).contains("did not acknowledge the current");
    });
  }

  @Test
  void aProcessWhosePidNowBelongsToAnotherIsNotLive() throws Exception {
    ServletEnforcer enforcer = acknowledgedBy(process(ProcessHandle.current().pid(), "2001-01-01T00:00:00Z",
        bootId(), pidNamespace()));

    assertThat(enforcer.notLive()).hasValueSatisfying(n -> assertThat(n.reason()).contains("names a process that is"
        + " not running (process " + ProcessHandle.current().pid() + " is another one now (it started at "
        + ProcessHandle.current().info().startInstant().orElseThrow() + ", the application at 2001-01-01T00:00:00Z))"));
  }

  /** An application killed while its parent does not collect it (a zombie) has ended all the same. */
  @Test
  void aProcessThatEndedButWasNotCollectedIsNotLive() throws Exception {
    // The shell starts a child that ends at once, then becomes a sleep that never collects it.
    Process parent = new ProcessBuilder("sh", "-c", "sleep 0 & echo $!; exec sleep 60").start();
    try {
      long pid = Long.parseLong(new java.io.BufferedReader(new java.io.InputStreamReader(parent.getInputStream(),
          StandardCharsets.UTF_8)).readLine().strip());
      ProcessHandle zombie = ProcessHandle.of(pid).orElseThrow();
      String started = zombie.info().startInstant().map(Object::toString).orElse(null);
      // "sleep 0" ends within moments; waited for, bounded (6 s).
      for (int i = 0; i < 600 && !Files.readString(Path.of("/proc/" + pid + "/stat")).contains(") Z "); i++) {
        java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
      }
      assertThat(zombie.isAlive()).as("what the JDK says of it").isTrue();

      ServletEnforcer enforcer = acknowledgedBy(process(pid, started, bootId(), pidNamespace()));

      assertThat(enforcer.notLive()).hasValueSatisfying(n -> assertThat(n.reason()).contains("(process " + pid
          + " has ended; its parent has not collected it yet)"));
    } finally {
      parent.destroyForcibly();
    }
  }

  @Test
  void theRunningProcessThatAcknowledgedIsLive() throws Exception {
    ServletEnforcer enforcer = acknowledgedBy(process(ProcessHandle.current().pid(),
        ProcessHandle.current().info().startInstant().orElseThrow().toString(), bootId(), pidNamespace()));

    assertThat(enforcer.notLive()).isEmpty();
  }

  /**
   * A pid seen from another boot of the host, another host, or another pid namespace (an application in a
   * container) means nothing here, nor does one that no process can have: whether that process runs cannot
   * be told, and it is not reported as ended.
   */
  @Test
  void aProcessOfAnotherBootHostOrPidNamespaceCannotBeToldEndedAndIsNotReportedSo() throws Exception {
    long nobody = Long.MAX_VALUE;
    for (String process : List.of(process(nobody, null, "another-boot", pidNamespace()),
        process(nobody, null, bootId(), "pid:[1]"), process(nobody, null, null, null), "{\"pid\": \"x\"}",
        process(0, null, bootId(), pidNamespace()), process(-1, null, bootId(), pidNamespace()))) {
      assertThat(acknowledgedBy(process).notLive()).as(process).isEmpty();
    }
  }

  /**
   * The application usually runs as another user than the agent (root, with the umask 0077 of its systemd
   * unit): the file must be readable by it, and is, whatever the umask.
   */
  @Test
  void theEnforcementFileIsReadableByTheApplicationsUser() throws Exception {
    ServletEnforcer enforcer = enforcer(Clock.fixed(T0, ZoneOffset.UTC));
    enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), false)));

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(enforcer.file()))).isEqualTo("rw-r--r--");
    org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
        "reading it as another user takes root (runuser); CI runs as root");
    for (Path d = enforcer.file().getParent(); d.startsWith(dir); d = d.getParent()) {
      Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x")); // @TempDir is owner-only
    }
    Process cat = new ProcessBuilder("runuser", "-u", "nobody", "--", "cat", enforcer.file().toString())
        .redirectErrorStream(true).start();
    byte[] read = cat.getInputStream().readAllBytes();
    assertThat(cat.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat(new String(read, StandardCharsets.UTF_8)).as("read by user nobody")
        .isEqualTo(Files.readString(enforcer.file()));
    assertThat(cat.exitValue()).isZero();
  }

  /**
   * The files beside the enforcement file are the application's: a symbolic link there is not followed (it
   * could point the agent at any file), and a named pipe does not block the agent (it is not a file to read).
   */
  @Test
  @org.junit.jupiter.api.Timeout(value = 60, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
  void anAcknowledgementThatIsALinkOrAPipeIsNotReadAndDoesNotBlock() throws Exception {
    ServletEnforcer enforcer = new ServletEnforcer("app", dir.resolve("enforcement/app.json"), dir.resolve("state"),
        Clock.fixed(T0, ZoneOffset.UTC), Duration.ZERO);
    enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), false)));
    Path ack = enforcer.file().resolveSibling("app.json.loaded.json");
    acknowledge(enforcer, sha256(enforcer.file()), "loaded", null);
    Path elsewhere = Files.move(ack, dir.resolve("elsewhere.json"));
    Files.createSymbolicLink(ack, elsewhere);

    assertThat(enforcer.notLive()).as("a link to a valid acknowledgement").isPresent();

    Files.delete(ack);
    assertThat(new ProcessBuilder("mkfifo", ack.toString()).start().waitFor()).isZero();

    assertThat(enforcer.notLive()).as("a named pipe, with no writer: reading it would block").isPresent();
    assertThat(enforcer.auditHits()).isEmpty();
    Files.delete(ack);
    Path hits = Files.writeString(dir.resolve("elsewhere-hits.json"), "{\"format\": \"tourniquet-hits/1\", \"hits\":"
        + " [{\"mitigation\": \"TQ-1\", \"revision\": 2, \"mode\": \"audit\", \"rule\": \"block attack\", \"count\": 3}]}");
    Files.createSymbolicLink(enforcer.file().resolveSibling("app.json.hits.json"), hits);
    assertThat(enforcer.auditHits()).as("counters through a link").isEmpty();
  }

  /** An enforcer whose current file is acknowledged {@code loaded} by the filter of {@code process}. */
  private ServletEnforcer acknowledgedBy(String process) throws Exception {
    ServletEnforcer enforcer = new ServletEnforcer("app", dir.resolve("enforcement/app.json"), dir.resolve("state"),
        Clock.fixed(T0, ZoneOffset.UTC), Duration.ZERO);
    enforcer.converge(List.of(new ActiveMitigation(everyServletKind("TQ-1"), false)));
    Path ack = enforcer.file().resolveSibling("app.json.loaded.json");
    acknowledge(enforcer, sha256(enforcer.file()), "loaded", null);
    Files.writeString(ack, Files.readString(ack).replaceFirst("}$", ", \"process\": " + process + "}"));
    return enforcer;
  }

  /** An acknowledgement's {@code process}, as the filter writes it (docs/servlet.md). */
  private static String process(long pid, String started, String bootId, String pidNamespace) {
    return "{\"pid\": " + pid + ", \"started\": " + quoted(started) + ", \"bootId\": " + quoted(bootId)
        + ", \"pidNamespace\": " + quoted(pidNamespace) + "}";
  }

  private static String quoted(String s) {
    return s == null ? "null" : "\"" + s + "\"";
  }

  private static String bootId() throws Exception {
    return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
  }

  private static String pidNamespace() throws Exception {
    return Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
  }

  static String sha256(Path file) throws Exception {
    return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest(Files.readAllBytes(file)));
  }

  /** Writes {@code <file>.loaded.json} as the filter does (docs/servlet.md). */
  static void acknowledge(ServletEnforcer enforcer, String sha256, String outcome, String error) throws Exception {
    Files.writeString(enforcer.file().resolveSibling("app.json.loaded.json"), "{\"format\": \"tourniquet-loaded/1\","
        + " \"sha256\": \"" + sha256 + "\", \"outcome\": \"" + outcome + "\", \"error\": "
        + (error == null ? "null" : new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(error))
        + ", \"time\": \"2026-11-28T12:00:01Z\"}", StandardCharsets.UTF_8);
  }

  /** A clock a test moves by hand. */
  static final class MutableTime extends Clock {
    Instant now;

    MutableTime(Instant now) {
      this.now = now;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
