package dev.tourniquet.agent.enforce.nginx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.EnforcementException;
import dev.tourniquet.feed.mitigation.Action;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The enforcer against a real nginx: apply, idempotence, M1 end to end, the failure paths, and audit counting. */
class NginxEnforcerTest {
  private static final String M1 = "shared:eems-m1.1-cve-2022-41040.xml";
  private static final String PROXY_NOT_SHELL =
      "/autodiscover/autodiscover.json?@evil.com/powershell/?&Email=autodiscover/autodiscover.json%3F@evil.com";

  @TempDir static Path dir;
  static RealNginx nginx;

  @BeforeAll
  static void startNginx() throws Exception {
    nginx = new RealNginx(dir.resolve("nginx"), "");
  }

  @AfterAll
  static void stopNginx() throws Exception {
    nginx.close();
  }

  private static ActiveMitigation m1() {
    return TestMitigations.rules("M1", TestMitigations.read(TestMitigations.ruleFile(M1)));
  }

  @Test
  void convergeWithM1InNjsModeAbortsProxyNotShellAndLetsAutodiscoverAndOwaThrough() throws Exception {
    NginxEnforcer enforcer = new NginxEnforcer("web-nginx", nginx.settings(true));
    enforcer.converge(List.of(m1()));

    assertThat(nginx.get(PROXY_NOT_SHELL).aborted()).as("the ProxyNotShell request").isTrue();
    assertThat(nginx.get("/autodiscover/autodiscover.json/%70owershell/x").aborted()).isTrue();
    RealNginx.Outcome autodiscover = nginx.send("POST", "/autodiscover/autodiscover.xml",
        RealNginx.headers("Host", "mail.contoso.com"));
    assertThat(autodiscover.fromBackend()).as("Autodiscover").isTrue();
    RealNginx.Outcome owa = nginx.get("/owa/auth/logon.aspx?replaceCurrent=1&url=https%3a%2f%2fmail.contoso.com%2fowa%2f");
    assertThat(owa.fromBackend()).as("OWA").isTrue();

    enforcer.converge(List.of());
    assertThat(nginx.get(PROXY_NOT_SHELL).fromBackend()).as("after removal").isTrue();
  }

  @Test
  void convergeWithM1WithoutNjsIsRefusedAndTouchesNothing() throws Exception {
    NginxEnforcer enforcer = new NginxEnforcer("web-nginx", nginx.settings(false));
    enforcer.converge(List.of());
    byte[] before = Files.readAllBytes(nginx.include);

    assertThat(enforcer.refusal(m1())).hasValueSatisfying(reason -> assertThat(reason)
        .contains("web-nginx", "EEMS M1.1 PowerShell - inbound", "{UrlDecode:{REQUEST_URI}}", "njs"));
    assertThatThrownBy(() -> enforcer.converge(List.of(m1())))
        .isInstanceOf(EnforcementException.class)
        .hasMessageContaining("needs njs");
    assertThat(Files.readAllBytes(nginx.include)).isEqualTo(before);
  }

  @Test
  void convergeTwiceOnTheSameSetNeitherWritesNorReloads() throws Exception {
    NginxEnforcer enforcer = new NginxEnforcer("web-nginx", nginx.settings(true));
    ActiveMitigation endpoint = TestMitigations.enforce("TQ-1", new Action.DisableEndpoint("/ecp", 503, Optional.empty()));
    enforcer.converge(List.of(endpoint));
    FileTime written = Files.getLastModifiedTime(nginx.include);
    Set<Long> workers = NginxEnforcer.children(nginx.masterPid());
    Files.setLastModifiedTime(nginx.include, FileTime.fromMillis(written.toMillis() - 60_000));
    FileTime marked = Files.getLastModifiedTime(nginx.include);

    enforcer.converge(List.of(endpoint));

    assertThat(Files.getLastModifiedTime(nginx.include)).isEqualTo(marked);
    assertThat(NginxEnforcer.children(nginx.masterPid())).isEqualTo(workers);
    assertThat(nginx.get("/ECP/default.aspx").status()).isEqualTo(503);
    assertThat(nginx.get("/ecpx").fromBackend()).isTrue();
    enforcer.converge(List.of());
  }

  @Test
  void convergeWithAnAuthPolicyRefusesBasicOnItsPrefixOnly() throws Exception {
    NginxEnforcer enforcer = new NginxEnforcer("web-nginx", nginx.settings(false));
    enforcer.converge(List.of(TestMitigations.enforce("TQ-2",
        new Action.AuthPolicy("/ews", Set.of(Action.AuthPolicy.Refusal.BASIC)))));

    assertThat(nginx.send("GET", "/EWS/Exchange.asmx", RealNginx.headers("Authorization", "basic dTpw")).status()).isEqualTo(401);
    assertThat(nginx.send("GET", "/ews/x", RealNginx.headers("Authorization", "Bearer abc")).fromBackend()).isTrue();
    assertThat(nginx.get("/ews/x").fromBackend()).as("anonymous is not refused by this policy").isTrue();
    assertThat(nginx.send("GET", "/owa/x", RealNginx.headers("Authorization", "Basic dTpw")).fromBackend()).isTrue();
    enforcer.converge(List.of());
  }

  @Test
  void convergeWithM1InAuditModeCountsTheProxyNotShellRequestAndLetsItThrough() throws Exception {
    NginxEnforcer enforcer = new NginxEnforcer("web-nginx", nginx.settings(true));
    ActiveMitigation audited = new ActiveMitigation(TestMitigations.mitigation("AUDIT-M1",
        new Action.RequestRules(TestMitigations.read(TestMitigations.ruleFile(M1)), Optional.empty()),
        new Action.DisableEndpoint("/ecp", 503, Optional.empty())), true);
    enforcer.converge(List.of(audited));

    assertThat(nginx.get(PROXY_NOT_SHELL).fromBackend()).as("audit mode never blocks").isTrue();
    assertThat(nginx.get(PROXY_NOT_SHELL).fromBackend()).isTrue();
    assertThat(nginx.get("/ecp/x").fromBackend()).isTrue();
    assertThat(nginx.get("/owa/").fromBackend()).isTrue();
    assertThat(nginx.get("/bad%C3%28").fromBackend()).as("no 400 guard in audit mode").isTrue();

    assertThat(enforcer.auditHits()).containsEntry("AUDIT-M1",
        java.util.Map.of("EEMS M1.1 PowerShell - inbound", 2L, "disable-endpoint /ecp", 1L));
    enforcer.converge(List.of());
  }

  @Test
  void timeoutsInMessagesReadAsTheConfigurationWritesThem() {
    // docs/nginx.md quotes "… started no new worker within 30s …"; Duration would print PT30S.
    assertThat(NginxEnforcer.seconds(java.time.Duration.ofSeconds(30))).isEqualTo("30s");
    assertThat(NginxEnforcer.seconds(java.time.Duration.ofMillis(1500))).isEqualTo("1.5s");
    assertThat(NginxEnforcer.seconds(java.time.Duration.ofMinutes(2))).isEqualTo("120s");
  }

  @Test
  void unreachableByTellsWhenTheWorkerUserCannotReachTheAuditLog() throws Exception {
    Path base = Files.createDirectories(dir.resolve("perm"));
    Path state = Files.createDirectories(base.resolve("state"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwx--x--x"));
    Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx------"));
    Path log = state.resolve("nginx-audit.log");

    assertThat(NginxEnforcer.unreachableBy("www-data", log)).hasValueSatisfying(problem -> assertThat(problem)
        .contains("www-data", state.toString(), "rwx------", "o+x"));
    assertThat(NginxEnforcer.unreachableBy("root", log)).isEmpty();
    Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx--x--x"));
    assertThat(NginxEnforcer.unreachableBy("www-data", log)).isEmpty();
  }

  @Test
  void convergeWhenTheBinaryIsMissingFailsClearlyAndWritesNothing() throws Exception {
    NginxSettings base = nginx.settings(true);
    Path missing = dir.resolve("no-such-nginx");
    NginxEnforcer enforcer = new NginxEnforcer("web-nginx", new NginxSettings(base.includeFile(), missing,
        base.configFile(), base.stateDir(), Duration.ofSeconds(5), true));
    byte[] before = Files.readAllBytes(nginx.include);

    assertThatThrownBy(() -> enforcer.converge(List.of(m1())))
        .isInstanceOf(EnforcementException.class)
        .hasMessageContaining("cannot run the nginx binary " + missing)
        .satisfies(e -> assertThat(((EnforcementException) e).restored()).isTrue());
    assertThat(Files.readAllBytes(nginx.include)).isEqualTo(before);
  }

  // ---------------------------------------------------------------------------------------------------
  // Audit counting from the log nginx's workers append to, which any local user can append to as well:
  // only the enforcer's own keys count, the file is read incrementally and at most
  // AuditLogReader.MAX_BYTES_PER_READ bytes per status build, and a truncated or rotated file is read
  // again from its start. Each test has its own state directory, so its own log; the lines are written by
  // the test, as a local user could.

  private static final String RULE = "disable-endpoint /probe";

  @TempDir Path state;
  private NginxEnforcer enforcer;

  @AfterEach
  void removeTheAuditedMitigation() throws Exception {
    if (enforcer != null) {
      enforcer.converge(List.of());
    }
  }

  /** Converges, in audit mode, a mitigation whose one key is {@code <id>/1/1}, named {@value #RULE}. */
  private NginxEnforcer auditing(String id) throws Exception {
    NginxEnforcer e = new NginxEnforcer("web-nginx", nginx.settings(true, state));
    ActiveMitigation audited = TestMitigations.audit(id, new Action.DisableEndpoint("/probe", 503, Optional.empty()));
    e.converge(List.of(audited));
    return e;
  }

  private Path log() {
    return state.resolve(NjsScript.AUDIT_LOG);
  }

  private void append(String text) throws IOException {
    append(text.getBytes(StandardCharsets.UTF_8));
  }

  private void append(byte[] bytes) throws IOException {
    Files.write(log(), bytes, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  private static Map<String, Map<String, Long>> counted(String id, long hits) {
    return Map.of(id, Map.of(RULE, hits));
  }

  @Test
  void linesThatAreNotKeysTheEnforcerWritesAreIgnoredAndCountedAsIgnored() throws Exception {
    enforcer = auditing("J-1");
    append("J-1/1/1\n");
    append(" J-1/1/1 \n");
    append("J-1/01/1\n");
    append("\n");
    append("J-1/1/1/1\n");
    append("../1/1\n");
    append(new byte[] {(byte) 0xff, (byte) 0xfe, '\n'});
    append("J-1/1/1\r\n");
    append("J-1/1/1\n");

    assertThat(enforcer.auditHits()).isEqualTo(counted("J-1", 2));
    assertThat(enforcer.auditLinesIgnored()).isEqualTo(7);
  }

  @Test
  void aFileLargerThanThePerCallBoundIsCountedOverSeveralStatusBuildsWithoutReadingItWhole() throws Exception {
    // Also what the first status builds do after a restart that finds no usable saved counts: the log is
    // read from its start.
    enforcer = auditing("BIG-2");
    Filled filled = appendPastTwoReadBounds("BIG-2/1/1\n");

    List<Long> seen = new ArrayList<>();
    for (int status = 0; status < 4; status++) {
      seen.add(enforcer.auditHits().getOrDefault("BIG-2", Map.of()).getOrDefault(RULE, 0L));
    }

    assertThat(seen).containsExactly(filled.afterOneRead(), filled.afterTwoReads(), filled.lines(), filled.lines());
    assertThat(nginx.get("/probe/x").fromBackend()).as("audit mode never blocks").isTrue();
    assertThat(enforcer.auditHits()).as("a hit nginx recorded since").isEqualTo(counted("BIG-2", filled.lines() + 1));
  }

  @Test
  void aTruncatedFileIsReadFromItsStartAndItsLinesAddToTheCounts() throws Exception {
    enforcer = auditing("T-3");
    append("T-3/1/1\nT-3/1/1\nT-3/1/1\n");
    assertThat(enforcer.auditHits()).isEqualTo(counted("T-3", 3));

    Files.write(log(), new byte[0], StandardOpenOption.TRUNCATE_EXISTING);
    append("T-3/1/1\n");

    assertThat(enforcer.auditHits()).isEqualTo(counted("T-3", 4));
  }

  @Test
  void aRotatedFileIsReadFromItsStartEvenWhenItIsLongerThanTheOldOne() throws Exception {
    enforcer = auditing("R-4");
    append("R-4/1/1\nR-4/1/1\nR-4/1/1\n");
    assertThat(enforcer.auditHits()).isEqualTo(counted("R-4", 3));

    Files.move(log(), log().resolveSibling(NjsScript.AUDIT_LOG + ".1"));
    append("R-4/1/1\nR-4/1/1\nR-4/1/1\nR-4/1/1\nR-4/1/1\n");

    assertThat(enforcer.auditHits()).isEqualTo(counted("R-4", 8));
  }

  @Test
  void aLogRenamedAwayIsCreatedAgainByNginxAtTheNextHitAndCountedFromItsStart() throws Exception {
    enforcer = auditing("N-5");
    assertThat(nginx.get("/probe/1").fromBackend()).isTrue();
    assertThat(enforcer.auditHits()).isEqualTo(counted("N-5", 1));

    Files.move(log(), log().resolveSibling(NjsScript.AUDIT_LOG + ".1"));
    assertThat(enforcer.auditHits()).as("no file: the counts stay").isEqualTo(counted("N-5", 1));
    assertThat(nginx.get("/probe/2").fromBackend()).isTrue();
    assertThat(nginx.get("/probe/3").fromBackend()).isTrue();

    assertThat(log()).exists();
    assertThat(enforcer.auditHits()).isEqualTo(counted("N-5", 3));
  }

  @Test
  void aLineLongerThanTheCapIsSkippedWithoutBeingReadWhole() throws Exception {
    enforcer = auditing("L-5");
    long bound = AuditLogReader.MAX_BYTES_PER_READ;
    append("L-5/1/1\n");
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(log(), StandardOpenOption.APPEND))) {
      for (long i = 0; i < 2 * bound; i++) {
        out.write('x');
      }
      out.write('\n');
    }
    append("L-5/1/1\n");

    List<Long> seen = new ArrayList<>();
    for (int status = 0; status < 3; status++) {
      seen.add(enforcer.auditHits().getOrDefault("L-5", Map.of()).getOrDefault(RULE, 0L));
    }

    assertThat(seen).containsExactly(1L, 1L, 2L);
    assertThat(enforcer.auditLinesIgnored()).isEqualTo(1);
  }

  @Test
  void aLineOneByteOverTheCapIsIgnoredAndTheNextOneCounted() throws Exception {
    enforcer = auditing("C-6");
    String key = "C-6/1/1";
    append(" ".repeat(AuditTally.MAX_LINE_BYTES + 1 - key.length()) + key + "\n" + key + "\n");

    assertThat(enforcer.auditHits()).isEqualTo(counted("C-6", 1));
    assertThat(enforcer.auditLinesIgnored()).isEqualTo(1);
  }

  @Test
  void aLineIsCountedOnlyOnceItsNewlineIsWritten() throws Exception {
    enforcer = auditing("P-7");
    append("P-7/1/1");
    assertThat(enforcer.auditHits()).doesNotContainKey("P-7");

    append("\n");

    assertThat(enforcer.auditHits()).isEqualTo(counted("P-7", 1));
  }

  @Test
  void unknownKeysBeyondTheKeyCapAreIgnoredWhileTheActiveMitigationsKeysAreStillCounted() throws Exception {
    enforcer = auditing("K-8");
    StringBuilder forged = new StringBuilder();
    for (int i = 0; i < AuditTally.MAX_KEYS + 10; i++) {
      forged.append("FORGED-").append(i).append("/1/1\n");
    }
    append(forged.toString());
    append("K-8/1/1\nK-8/1/1\n");

    assertThat(enforcer.auditHits()).isEqualTo(counted("K-8", 2));
    assertThat(enforcer.auditLinesIgnored()).isEqualTo(10);
  }

  // ---------------------------------------------------------------------------------------------------
  // Across an agent restart: a new enforcer over the same state directory, as the agent builds at start.
  // The counts go on from where they were, never lower and never counting a line twice, whatever happened
  // to the log meanwhile.

  /** Converges {@code id} in enforce mode: its rule answers, and nothing is written to the audit log. */
  private NginxEnforcer enforcing(String id) throws Exception {
    NginxEnforcer e = new NginxEnforcer("web-nginx", nginx.settings(true, state));
    e.converge(List.of(TestMitigations.enforce(id, new Action.DisableEndpoint("/probe", 503, Optional.empty()))));
    return e;
  }

  private void appendLines(String id, int lines) throws IOException {
    append((id + "/1/1\n").repeat(lines));
  }

  @Test
  void afterARestartTheCountsGoOnFromWhereTheyWereWithoutCountingTheLogAgain() throws Exception {
    enforcer = auditing("S-1");
    assertThat(nginx.get("/probe/1").fromBackend()).isTrue();
    assertThat(nginx.get("/probe/2").fromBackend()).isTrue();
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-1", 2));

    enforcer = auditing("S-1");

    assertThat(enforcer.auditHits()).as("the first status after the restart").isEqualTo(counted("S-1", 2));
    assertThat(nginx.get("/probe/3").fromBackend()).isTrue();
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-1", 3));
  }

  @Test
  void aRestartKeepsTheHitsOfAFileRotatedAwayBeforeIt() throws Exception {
    enforcer = auditing("S-2");
    appendLines("S-2", 3);
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-2", 3));
    Files.move(log(), log().resolveSibling(NjsScript.AUDIT_LOG + ".1"));
    assertThat(nginx.get("/probe/1").fromBackend()).isTrue();
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-2", 4));

    enforcer = auditing("S-2");

    assertThat(enforcer.auditHits()).isEqualTo(counted("S-2", 4));
    assertThat(nginx.get("/probe/2").fromBackend()).isTrue();
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-2", 5));
  }

  @Test
  void aFileRotatedWhileTheAgentWasDownIsReadFromItsStartAndAddsToTheSavedCounts() throws Exception {
    enforcer = auditing("S-3");
    appendLines("S-3", 3);
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-3", 3));

    Files.move(log(), log().resolveSibling(NjsScript.AUDIT_LOG + ".1"));
    appendLines("S-3", 5); // a new file, longer than the one read
    enforcer = auditing("S-3");

    assertThat(enforcer.auditHits()).isEqualTo(counted("S-3", 8));
  }

  @Test
  void aFileTruncatedWhileTheAgentWasDownIsReadFromItsStartAndAddsToTheSavedCounts() throws Exception {
    enforcer = auditing("S-4");
    appendLines("S-4", 3);
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-4", 3));

    Files.write(log(), new byte[0], StandardOpenOption.TRUNCATE_EXISTING);
    appendLines("S-4", 1);
    enforcer = auditing("S-4");

    assertThat(enforcer.auditHits()).isEqualTo(counted("S-4", 4));
  }

  @Test
  void aFileRewrittenInPlaceWhileTheAgentWasDownIsToldFromTheOneReadByItsFirstBytes() throws Exception {
    // Same inode, longer than what was read: only its first bytes tell it from the file that was read.
    enforcer = auditing("S-5");
    appendLines("S-5", 3);
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-5", 3));

    Files.writeString(log(), "X-0/1/1\n" + "S-5/1/1\n".repeat(4), StandardOpenOption.TRUNCATE_EXISTING);
    enforcer = auditing("S-5");

    assertThat(enforcer.auditHits()).isEqualTo(counted("S-5", 7));
  }

  @Test
  void aLineUnfinishedAtARestartIsCountedOnceItsNewlineComes() throws Exception {
    enforcer = auditing("S-6");
    append("S-6/1/1\nS-6/1/1");
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-6", 1));

    enforcer = auditing("S-6");
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-6", 1));
    append("\n");

    assertThat(enforcer.auditHits()).isEqualTo(counted("S-6", 2));
  }

  @Test
  void aRestartWhileALargeLogIsBeingCountedNeverShowsFewerHits() throws Exception {
    enforcer = auditing("S-7");
    Filled filled = appendPastTwoReadBounds("S-7/1/1\n");
    List<Long> seen = new ArrayList<>();
    for (int status = 0; status < 2; status++) {
      seen.add(enforcer.auditHits().getOrDefault("S-7", Map.of()).getOrDefault(RULE, 0L));
    }

    enforcer = auditing("S-7");
    for (int status = 0; status < 2; status++) {
      seen.add(enforcer.auditHits().getOrDefault("S-7", Map.of()).getOrDefault(RULE, 0L));
    }

    assertThat(seen).containsExactly(filled.afterOneRead(), filled.afterTwoReads(), filled.lines(), filled.lines());
  }

  @Test
  void leavingAndReenteringAuditModeAcrossARestartShowsTheEarlierCountsAgainAndGoesOn() throws Exception {
    enforcer = auditing("S-8");
    assertThat(nginx.get("/probe/1").fromBackend()).isTrue();
    assertThat(nginx.get("/probe/2").fromBackend()).isTrue();
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-8", 2));

    enforcer = enforcing("S-8");
    assertThat(nginx.get("/probe/3").status()).as("enforced: answered, not recorded").isEqualTo(503);
    assertThat(enforcer.auditHits()).as("not in audit mode: not shown").doesNotContainKey("S-8");
    enforcer = enforcing("S-8");
    assertThat(enforcer.auditHits()).doesNotContainKey("S-8");
    enforcer = auditing("S-8");
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-8", 2));
    assertThat(nginx.get("/probe/4").fromBackend()).isTrue();

    assertThat(enforcer.auditHits()).isEqualTo(counted("S-8", 3));
  }

  private Path tally() {
    return state.resolve(AuditTallyFile.FILE_NAME);
  }

  @Test
  void theSavedCountsAreReadableByTheAgentOnly() throws Exception {
    // The state directory is searchable by nginx's workers, so that they reach the log (see Audit mode).
    enforcer = auditing("S-9");
    appendLines("S-9", 1);
    assertThat(enforcer.auditHits()).isEqualTo(counted("S-9", 1));

    assertThat(Files.getPosixFilePermissions(tally())).isEqualTo(PosixFilePermissions.fromString("rw-------"));
  }

  /** Ways a saved tally can be unusable, each made from a valid one that counts C-9's one key 1000 times. */
  static Stream<Arguments> unusableTallies() {
    return Stream.of(
        arguments("cut short", (UnaryOperator<String>) t -> t.substring(0, t.length() / 2), "expected JSON but it does not parse"),
        arguments("empty", (UnaryOperator<String>) t -> "", "expected a JSON object but found an empty file"),
        arguments("another format", (UnaryOperator<String>) t -> t.replace("tally/1", "tally/9"),
            "expected format \"tourniquet-nginx-audit-tally/1\" but found \"tourniquet-nginx-audit-tally/9\""),
        arguments("a key the include does not write", (UnaryOperator<String>) t -> t.replace("\"counts\":{", "\"counts\":{\"../1/1\":5,"),
            "expected the keys of counts to be <id>/<action>/<rule> as the include writes them but found \"../1/1\""),
        arguments("a negative count", (UnaryOperator<String>) t -> t.replace(":1000", ":-1"),
            "expected counts.C-9/1/1 to be a whole number of at least 0 but found -1"),
        arguments("a count that is text", (UnaryOperator<String>) t -> t.replace(":1000", ":\"1000\""),
            "expected counts.C-9/1/1 to be a whole number of at least 0 but found \"1000\""),
        arguments("a count of zero", (UnaryOperator<String>) t -> t.replace(":1000", ":0"),
            "expected counts.C-9/1/1 to be at least 1 but found 0"),
        arguments("a negative offset", (UnaryOperator<String>) t -> t.replaceFirst("\"offset\":\\d+", "\"offset\":-1"),
            "expected log.offset to be a whole number of at least 0 but found -1"),
        arguments("a digest that is not hex", (UnaryOperator<String>) t -> t.replaceFirst("\"headSha256\":\"[0-9a-f]+\"", "\"headSha256\":\"zz\""),
            "expected headSha256 to be 64 lower-case hex digits but found zz"),
        arguments("an unknown field", (UnaryOperator<String>) t -> t.replace("\"counts\":", "\"extra\":1,\"counts\":"),
            "expected only the fields [counts, format, log] but found extra"),
        arguments("no counts", (UnaryOperator<String>) t -> t.replaceFirst(",\"counts\":\\{[^}]*}", ""),
            "expected counts to be an object but found nothing"),
        arguments("counts without a position", (UnaryOperator<String>) t -> t.replaceFirst("\"log\":\\{[^}]*}", "\"log\":null"),
            "expected a log position with the counts but found counts without one"),
        arguments("over the size cap", (UnaryOperator<String>) t -> t + " ".repeat(AuditTallyFile.MAX_BYTES),
            "expected at most " + AuditTallyFile.MAX_BYTES + " bytes"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("unusableTallies")
  void anUnusableSavedTallyIsSaidAndTheCountsStartAgainFromTheLogNeverAbove(
      String what, UnaryOperator<String> spoil, String expected) throws Exception {
    enforcer = auditing("C-9");
    appendLines("C-9", 3);
    assertThat(enforcer.auditHits()).isEqualTo(counted("C-9", 3));
    String valid = Files.readString(tally());
    assertThat(valid).contains("\"C-9/1/1\":3");
    Files.writeString(tally(), spoil.apply(valid.replace("\"C-9/1/1\":3", "\"C-9/1/1\":1000")));

    enforcer = auditing("C-9");

    assertThat(enforcer.auditHits()).as("each line of the log once, nothing of the unusable tally")
        .isEqualTo(counted("C-9", 3));
    assertThat(enforcer.auditTallyProblem()).hasValueSatisfying(problem -> assertThat(problem)
        .contains("the saved audit counts cannot be used", tally().toString(), expected));
    enforcer = auditing("C-9");
    assertThat(enforcer.auditHits()).as("replaced by a usable tally").isEqualTo(counted("C-9", 3));
    assertThat(enforcer.auditTallyProblem()).isEmpty();
  }

  @Test
  void aSavedTallyThatIsALinkIsNotFollowed() throws Exception {
    enforcer = auditing("C-10");
    appendLines("C-10", 2);
    assertThat(enforcer.auditHits()).isEqualTo(counted("C-10", 2));
    Path elsewhere = Files.move(tally(), state.resolve("elsewhere.json"));
    Files.writeString(elsewhere, Files.readString(elsewhere).replace("\"C-10/1/1\":2", "\"C-10/1/1\":1000"));
    Files.createSymbolicLink(tally(), elsewhere);

    enforcer = auditing("C-10");

    assertThat(enforcer.auditHits()).isEqualTo(counted("C-10", 2));
    assertThat(enforcer.auditTallyProblem()).hasValueSatisfying(problem -> assertThat(problem)
        .contains(tally().toString(), "expected a regular file but found a symbolic link"));
  }

  @Test
  void countsThatCannotBeSavedGoOnInMemoryAndAreSavedOnceTheyCanBe() throws Exception {
    enforcer = auditing("U-1");
    Files.createDirectories(tally().resolve("occupied")); // a rename cannot replace a directory that is not empty
    appendLines("U-1", 2);

    assertThat(enforcer.auditHits()).isEqualTo(counted("U-1", 2));
    assertThat(enforcer.auditTallyProblem()).hasValueSatisfying(problem -> assertThat(problem)
        .contains("cannot save the audit counts to " + tally()));
    appendLines("U-1", 1);
    assertThat(enforcer.auditHits()).isEqualTo(counted("U-1", 3));

    Files.delete(tally().resolve("occupied"));
    Files.delete(tally());
    assertThat(enforcer.auditHits()).as("nothing new read, saved all the same").isEqualTo(counted("U-1", 3));
    Files.move(log(), log().resolveSibling(NjsScript.AUDIT_LOG + ".1"));
    enforcer = auditing("U-1");
    assertThat(enforcer.auditHits()).as("the counts of the file rotated away were saved").isEqualTo(counted("U-1", 3));
  }

  /** The lines counted after one and two status builds, and the lines in all. */
  private record Filled(long afterOneRead, long afterTwoReads, long lines) {}

  /** Appends one line to the audit log over and over, to two and a half times what one status build reads. */
  private Filled appendPastTwoReadBounds(String text) throws IOException {
    byte[] line = text.getBytes(StandardCharsets.US_ASCII);
    long bound = AuditLogReader.MAX_BYTES_PER_READ;
    long lines = (2 * bound + bound / 2) / line.length;
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(log(), StandardOpenOption.APPEND))) {
      for (long i = 0; i < lines; i++) {
        out.write(line);
      }
    }
    return new Filled(bound / line.length, 2 * bound / line.length, lines);
  }
}
