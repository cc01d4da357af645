package dev.tourniquet.agent.enforce.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.feed.mitigation.Action.DisableService.Manager;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Creating a service manager from the agent's configuration: what is accepted and what is refused. */
class ServiceManagersTest {

  @Test
  void eachTypeCreatesItsManager() {
    assertThat(ServiceManagers.create("systemd", Map.of()).kind()).isEqualTo(Manager.SYSTEMD);
    assertThat(ServiceManagers.create("windows", Map.of("sc", "sc.exe")).kind()).isEqualTo(Manager.WINDOWS);
    assertThat(ServiceManagers.create("supervisord", Map.of("configFile", "/etc/supervisord.conf")).kind())
        .isEqualTo(Manager.SUPERVISORD);
    assertThat(ServiceManagers.create("systemd", Map.of("systemctl", "/bin/systemctl", "commandTimeout", "PT30S",
        "settleTimeout", "PT1M")).toString()).isEqualTo("systemd (/bin/systemctl)");
  }

  @Test
  void anUnknownTypeIsRefused() {
    assertThatThrownBy(() -> ServiceManagers.create("launchd", Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("service manager type: expected systemd, windows or supervisord but found \"launchd\"");
  }

  @Test
  void anUnknownOptionIsRefusedNotIgnored() {
    assertThatThrownBy(() -> ServiceManagers.create("systemd", Map.of("sc", "sc.exe")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("systemd service manager: expected options among [commandTimeout, settleTimeout, systemctl] but"
            + " found \"sc\"");
  }

  @Test
  void aMalformedDurationIsRefused() {
    assertThatThrownBy(() -> ServiceManagers.create("windows", Map.of("commandTimeout", "30s")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("windows service manager: option commandTimeout: expected a positive ISO-8601 duration such as PT2M"
            + " but found \"30s\"");
    assertThatThrownBy(() -> ServiceManagers.create("windows", Map.of("settleTimeout", "PT0S")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("settleTimeout");
  }

  @Test
  void supervisordNeedsExactlyOneWayToReachIt() {
    assertThatThrownBy(() -> ServiceManagers.create("supervisord", Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("supervisord: expected exactly one of configFile or serverUrl but found neither");
    assertThatThrownBy(() -> ServiceManagers.create("supervisord",
        Map.of("configFile", "/etc/supervisord.conf", "serverUrl", "unix:///run/s.sock")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("but found both");
    assertThatThrownBy(() -> ServiceManagers.create("supervisord", Map.of("serverUrl", "ftp://host")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("supervisord: serverUrl: expected unix:///path or http://host:port but found \"ftp://host\"");
  }

  @Test
  void aPasswordSupervisorctlCannotReadBackIsRefusedWithoutBeingQuoted() {
    assertThatThrownBy(() -> ServiceManagers.create("supervisord",
        Map.of("serverUrl", "http://127.0.0.1:9001", "username", "agent", "password", "hunter2 ;x")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("supervisord: password: expected a non-empty value")
        .hasMessageNotContaining("hunter2");
  }

  @Test
  void credentialsGoWithServerUrlOnly() {
    assertThatThrownBy(() -> ServiceManagers.create("supervisord",
        Map.of("configFile", "/etc/supervisord.conf", "password", "hunter2")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("username and password go with serverUrl")
        .hasMessageNotContaining("hunter2");
  }

  @Test
  void windowsRunsScExeFromTheSystemDirectoryNeverFromTheSearchPath() {
    assertThat(ServiceManagers.defaultSc("D:\\WINNT")).isEqualTo("D:\\WINNT\\System32\\sc.exe");
    // Without SystemRoot a bare sc.exe would be looked for in the current directory first.
    assertThat(ServiceManagers.defaultSc(null)).isEqualTo("C:\\Windows\\System32\\sc.exe");
    assertThat(ServiceManagers.defaultSc(" ")).isEqualTo("C:\\Windows\\System32\\sc.exe");
  }
}
