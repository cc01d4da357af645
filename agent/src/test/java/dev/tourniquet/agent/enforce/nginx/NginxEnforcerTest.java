package dev.tourniquet.agent.enforce.nginx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.EnforcementException;
import dev.tourniquet.feed.mitigation.Action;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The enforcer against a real nginx: apply, idempotence, M1 end to end, and the failure paths. */
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
}
