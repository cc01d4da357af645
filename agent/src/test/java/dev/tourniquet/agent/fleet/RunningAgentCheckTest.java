package dev.tourniquet.agent.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.agent.AgentConfig;
import dev.tourniquet.agent.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code tourniquet agent --check-config} and the start refuse about a fleet section without asking the
 * network. (Enrolment against a real fleet server: RunningAgentTest in the server module.)
 */
class RunningAgentCheckTest {
  @TempDir
  Path dir;

  // Port 9 on 127.0.0.1 (discard) is never asked: every case here fails or passes before the network.
  private static final String BASE = String.join("\n",
      "server: {name: web-01}",
      "product: {name: acme-portal, version: 1.0}",
      "feed: {fleetFeed: default, trustedRoot: root.json}",
      "stateDir: state",
      "targets: [{name: app, type: servlet, enforcementFile: app.json}]",
      "");

  private AgentConfig load(String fleet) throws Exception {
    Path file = dir.resolve("agent.yaml");
    Files.writeString(file, BASE + fleet + "\n");
    return AgentConfig.load(file);
  }

  private void credential(String perms) throws Exception {
    CredentialFile.write(dir.resolve("state/fleet.credential"), "tqa_credential");
    Files.setPosixFilePermissions(dir.resolve("state/fleet.credential"), PosixFilePermissions.fromString(perms));
  }

  @Test
  void withATokenFileAndNoCredentialTheCheckSaysTheAgentWillEnrol() throws Exception {
    Files.writeString(dir.resolve("enrol.token"), "tqe_abc\n");

    assertThat(RunningAgent.check(load("fleet: {url: 'http://127.0.0.1:9/', enrolmentTokenFile: enrol.token}")))
        .containsExactly("fleet http://127.0.0.1:9/: enrols at first start with the token in " + dir.resolve("enrol.token"));
  }

  @Test
  void withACredentialTheTokenFileIsNotNeeded() throws Exception {
    credential("rw-------");

    assertThat(RunningAgent.check(load("fleet: {url: 'http://127.0.0.1:9/'}")))
        .containsExactly("fleet http://127.0.0.1:9/: enrolled (credential in " + dir.resolve("state/fleet.credential") + ")");
  }

  @Test
  void withoutAFleetThereIsNothingMoreToSay() throws Exception {
    Path file = dir.resolve("agent.yaml");
    Files.writeString(file, BASE.replace("fleetFeed: default", "directory: feed"));

    assertThat(RunningAgent.check(AgentConfig.load(file))).isEmpty();
  }

  @Test
  void withNeitherCredentialNorTokenFileKeyTheCheckNamesTheKey() {
    assertThatThrownBy(() -> RunningAgent.check(load("fleet: {url: 'http://127.0.0.1:9/'}")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("fleet.enrolmentTokenFile: expected a one-time enrolment token file to enrol with, since "
            + dir.resolve("state/fleet.credential") + " does not exist yet, but the key is missing");
  }

  @Test
  void aMissingTokenFileIsNamed() {
    assertThatThrownBy(() -> RunningAgent.check(load("fleet: {url: 'http://127.0.0.1:9/', enrolmentTokenFile: enrol.token}")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("fleet.enrolmentTokenFile " + dir.resolve("enrol.token")
            + ": expected a file holding a one-time enrolment token (there is no fleet credential yet) but there is no such file");
  }

  @Test
  void anEmptyOrMultiWordTokenFileIsRefused() throws Exception {
    AgentConfig config = load("fleet: {url: 'http://127.0.0.1:9/', enrolmentTokenFile: enrol.token}");
    Files.writeString(dir.resolve("enrol.token"), " \n");
    assertThatThrownBy(() -> RunningAgent.check(config)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("expected a one-time enrolment token but the file is empty");

    Files.writeString(dir.resolve("enrol.token"), "tqe_one\ntqe_two\n");
    assertThatThrownBy(() -> RunningAgent.check(config)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("expected one enrolment token (printable characters, one line) but found spaces, line breaks")
        .hasMessageNotContaining("tqe_one");

    Files.write(dir.resolve("enrol.token"), new byte[Enrolment.MAX_TOKEN_BYTES + 1]);
    assertThatThrownBy(() -> RunningAgent.check(config)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("expected one enrolment token (at most 1024 bytes) but the file is larger");
  }

  @Test
  void aCredentialOthersMayReadIsRefused() throws Exception {
    credential("rw-r--r--");

    assertThatThrownBy(() -> RunningAgent.check(load("fleet: {url: 'http://127.0.0.1:9/'}")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("fleet: ").hasMessageContaining("must be readable by its owner only (chmod 600) but is rw-r--r--");
  }

  @Test
  void aServerNameOtherThanTheEnrolledOneIsRefusedNamingTheKey() throws Exception {
    credential("rw-------");
    CredentialFile.write(dir.resolve("state").resolve(Enrolment.ENROLLED_NAME_FILE), "web-00");

    assertThatThrownBy(() -> RunningAgent.check(load("fleet: {url: 'http://127.0.0.1:9/'}")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.name: expected \"web-00\", the name this agent enrolled with at http://127.0.0.1:9/")
        .hasMessageContaining("but found \"web-01\"; to rename it, remove web-00 on the fleet server, delete "
            + dir.resolve("state/fleet.credential"));

    CredentialFile.write(dir.resolve("state").resolve(Enrolment.ENROLLED_NAME_FILE), "web-01");
    assertThat(RunningAgent.check(load("fleet: {url: 'http://127.0.0.1:9/'}"))).hasSize(1);
  }

  @Test
  void startWithoutCredentialOrTokenFailsBeforeAnythingIsSentOrWritten() throws Exception {
    AgentConfig config = load("fleet: {url: 'http://127.0.0.1:9/', enrolmentTokenFile: enrol.token}");

    assertThatThrownBy(() -> RunningAgent.start(config)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("fleet.enrolmentTokenFile");
    assertThat(dir.resolve("state")).doesNotExist();
    assertThat(dir.resolve("app.json")).doesNotExist();
  }

  @Test
  void anUnreachableFleetServerIsAnEnrolmentErrorThatSaysWhyAndWritesNothing() throws Exception {
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort(); // closed again: nothing listens there now
    }
    Files.writeString(dir.resolve("enrol.token"), "tqe_abc\n");
    AgentConfig config = load("fleet: {url: 'http://127.0.0.1:" + port + "/', enrolmentTokenFile: enrol.token}");

    assertThatThrownBy(() -> RunningAgent.start(config)).isInstanceOf(EnrolmentException.class)
        .hasMessageContaining("fleet.enrolmentTokenFile " + dir.resolve("enrol.token") + ": enrolling web-01 with the fleet"
            + " server http://127.0.0.1:" + port + "/ failed; no credential was written: POST http://127.0.0.1:" + port
            + "/api/v1/enrol: cannot connect (connection refused, or the host is unreachable)")
        .hasMessageNotContaining("null")
        .hasMessageNotContaining("tqe_abc");
    assertThat(dir.resolve("state/fleet.credential")).doesNotExist();
  }

  @Test
  void anInvalidTargetIsReportedBeforeEnrolling() throws Exception {
    Files.writeString(dir.resolve("enrol.token"), "tqe_abc\n");
    Path file = dir.resolve("agent.yaml");
    Files.writeString(file, BASE.replace("type: servlet", "type: iis")
        + "fleet: {url: 'http://127.0.0.1:9/', enrolmentTokenFile: enrol.token}\n");

    assertThatThrownBy(() -> RunningAgent.start(AgentConfig.load(file))).isInstanceOf(ConfigException.class)
        .hasMessageContaining("targets.app.type: expected one of");
  }
}
