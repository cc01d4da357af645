package dev.tourniquet.agent.enforce.nginx;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Text that looks like nginx configuration, in a rule's name, pattern and description, reaches a real
 * nginx only as data: nginx accepts the include, answers with the description byte for byte when the
 * pattern matches, and lets everything else through.
 */
class NginxInjectionTest {
  private static final String HOSTILE = "x\"; return 200 \"pwned\"; } server { listen 1; # } if (1) { \\";

  @TempDir Path dir;

  @Test
  void convergeWithConfigurationSyntaxInEveryFieldThenNginxTreatsItAsData() throws Exception {
    String xml = HOSTILE.replace("&", "&amp;").replace("\"", "&quot;").replace("<", "&lt;");
    String pattern = xml.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}").replace("(", "\\(").replace(")", "\\)");
    String body = xml.replace("{", "(").replace("}", ")");
    ActiveMitigation m = TestMitigations.rulesXml("TQ-7", "<rewrite><rules><rule name=\"" + xml + "\">"
        + "<match url=\".*\" /><conditions><add input=\"{HTTP_COOKIE}\" pattern=\"" + pattern + "\" ignoreCase=\"false\" />"
        + "</conditions><action type=\"CustomResponse\" statusCode=\"403\" statusReason=\"\" statusDescription=\""
        + body + "\" /></rule></rules></rewrite>");

    try (RealNginx nginx = new RealNginx(dir.resolve("nginx"), "")) {
      NginxEnforcer enforcer = new NginxEnforcer("web-nginx", nginx.settings(false));
      enforcer.converge(List.of(m));

      RealNginx.Outcome hit = nginx.send("GET", "/", RealNginx.headers("Cookie", "a=" + HOSTILE));
      assertThat(hit.status()).as("%s", hit).isEqualTo(403);
      assertThat(hit.body()).isEqualTo(HOSTILE.replace("{", "(").replace("}", ")"));
      RealNginx.Outcome miss = nginx.send("GET", "/", RealNginx.headers("Cookie", "a=x\"; return 200"));
      assertThat(miss.fromBackend()).as("%s", miss).isTrue();
      assertThat(nginx.get("/pwned").fromBackend()).isTrue();
      enforcer.converge(List.of());
    }
  }
}
