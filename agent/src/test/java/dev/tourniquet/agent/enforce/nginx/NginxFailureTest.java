package dev.tourniquet.agent.enforce.nginx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.agent.enforce.EnforcementException;
import dev.tourniquet.feed.mitigation.Action;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A configuration that makes {@code nginx -T} fail: the operator has (wrongly) included the file in the
 * http block as well, where {@code if} is not allowed. The enforcer must restore the previous include and
 * leave nginx serving as before.
 */
class NginxFailureTest {
  @TempDir Path dir;

  @Test
  void convergeWhenTheMasterCannotApplyTheReloadRestoresTheFileAndSaysTheReloadDidNotTakeEffect() throws Exception {
    try (RealNginx nginx = new RealNginx(dir.resolve("nginx"), "");
        ServerSocket occupied = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      NginxSettings base = nginx.settings(false);
      NginxEnforcer enforcer = new NginxEnforcer("web-nginx", new NginxSettings(base.includeFile(), base.nginxBinary(),
          base.configFile(), base.stateDir(), Duration.ofSeconds(3), false));
      enforcer.converge(List.of());
      byte[] before = Files.readAllBytes(nginx.include);
      String config = Files.readString(nginx.config);
      // The operator's configuration now also listens on a port another process holds: nginx -t accepts it
      // (it does not bind), but the master cannot apply it on reload and keeps its old workers.
      Files.writeString(nginx.config, config.replace("  server {", "  server { listen 127.0.0.1:" + occupied.getLocalPort()
          + "; }\n  server {"));
      try {
        assertThatThrownBy(() -> enforcer.converge(List.of(TestMitigations.enforce("TQ-1",
            new Action.DisableEndpoint("/ecp", 503, Optional.empty())))))
            .isInstanceOf(EnforcementException.class)
            .hasMessageContaining("started no new worker")
            .hasMessageContaining("the previous include was restored but nginx did not reload that either")
            .satisfies(e -> assertThat(((EnforcementException) e).restored()).isFalse());
        assertThat(Files.readAllBytes(nginx.include)).as("the include is back as it was").isEqualTo(before);
        assertThat(nginx.get("/ecp/x").fromBackend()).as("nginx still serves its old configuration").isTrue();
      } finally {
        Files.writeString(nginx.config, config);
      }
    }
  }

  @Test
  void convergeWhenNginxRejectsTheIncludeRestoresThePreviousFileAndNginxKeepsServing() throws Exception {
    Path nginxDir = dir.resolve("nginx");
    Path include = nginxDir.resolve("conf.d").resolve("tourniquet.conf");
    try (RealNginx nginx = new RealNginx(nginxDir, "include " + include + ";")) {
      byte[] before = Files.readAllBytes(nginx.include);
      long master = nginx.masterPid();
      NginxEnforcer enforcer = new NginxEnforcer("web-nginx", nginx.settings(false));

      assertThatThrownBy(() -> enforcer.converge(List.of(TestMitigations.enforce("TQ-1",
          new Action.DisableEndpoint("/ecp", 503, Optional.empty())))))
          .isInstanceOf(EnforcementException.class)
          .hasMessageContaining("nginx -T failed, the previous include was restored")
          .hasMessageContaining("\"if\" directive is not allowed here")
          .satisfies(e -> assertThat(((EnforcementException) e).restored()).isTrue());

      assertThat(Files.readAllBytes(nginx.include)).isEqualTo(before);
      assertThat(nginx.masterPid()).isEqualTo(master);
      assertThat(nginx.get("/ecp/x").fromBackend()).as("nginx still serves under the previous include").isTrue();
      assertThat(Files.list(include.getParent()).map(p -> p.getFileName().toString()))
          .as("no temporary file is left beside the include").containsExactly("tourniquet.conf");
    }
  }
}
