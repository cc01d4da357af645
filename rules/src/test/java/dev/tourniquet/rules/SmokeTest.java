package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class SmokeTest {
  @Test
  void m1() throws Exception {
    Path f = Path.of(System.getProperty("tourniquet.repo.root"), "..", "shared", "fixtures", "microsoft", "eems-m1.1-cve-2022-41040.xml");
    CompiledRules rules = RuleCompiler.compile(RuleSets.read(f, Limits.DEFAULTS));
    System.out.println(rules);
    System.out.println(RuleJson.write(rules.ruleSet()));
    Decision d = rules.evaluate(HttpRequest.of("GET", "/autodiscover/autodiscover.json?@evil.com/%50owershell", List.of()));
    assertThat(d).isInstanceOf(Decision.Abort.class);
    assertThat(rules.evaluate(HttpRequest.of("GET", "/owa/", List.of()))).isEqualTo(Decision.ALLOW);
  }
}
