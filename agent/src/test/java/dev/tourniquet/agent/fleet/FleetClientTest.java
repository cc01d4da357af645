package dev.tourniquet.agent.fleet;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FleetClientTest {
  @TempDir
  Path dir;

  @Test
  void unreachableServerIsNamedWithWhatWentWrongNotNull() throws Exception {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort(); // closed again: nothing listens there now
    }
    Path credential = dir.resolve("fleet.credential");
    CredentialFile.write(credential, "tqa_" + "A".repeat(43));
    FleetClient client = FleetClient.open(URI.create("http://127.0.0.1:" + port + "/"), credential, true);

    // What the agent's status shows as "organisation policy unavailable, keeping the last one obtained: …".
    assertThatThrownBy(client::orgPolicy).isInstanceOf(IOException.class)
        .hasMessage("GET http://127.0.0.1:" + port + "/api/v1/agent/policy: cannot connect (connection refused, or the"
            + " host is unreachable)");
  }
}
