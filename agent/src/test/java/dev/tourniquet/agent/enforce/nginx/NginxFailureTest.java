package dev.tourniquet.agent.enforce.nginx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.agent.enforce.EnforcementException;
import dev.tourniquet.feed.mitigation.Action;
import java.nio.file.Files;
import java.nio.file.Path;
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
