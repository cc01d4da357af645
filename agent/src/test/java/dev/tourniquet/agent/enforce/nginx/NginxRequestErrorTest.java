package dev.tourniquet.agent.enforce.nginx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.rules.HttpRequest;
import dev.tourniquet.rules.RequestException;
import dev.tourniquet.rules.RuleCompiler;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.feed.mitigation.Action;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests the rule engine refuses to evaluate (the {@code error} vectors of {@code features.jsonl}: a
 * target not in origin form, malformed percent-encoding, invalid UTF-8 in the path) must never reach the
 * application while request rules are enforced at nginx, in njs mode (M1) and in core mode (ProxyLogon,
 * whose rules need no njs). The rules format promises it: "an enforcer answers it with the status the
 * error suggests rather than let it through unchecked".
 */
class NginxRequestErrorTest {
  @TempDir static Path dir;
  static RealNginx nginx;

  @BeforeAll
  static void startNginx() throws Exception {
    nginx = new RealNginx(dir.resolve("nginx"), "");
  }

  @AfterAll
  static void stopNginx() throws Exception {
    try {
      new NginxEnforcer("errors", nginx.settings(false)).converge(List.of());
    } finally {
      nginx.close();
    }
  }

  static Stream<Arguments> cases() {
    List<String> targets = List.of("/bad%zz", "/bad%C3%28", "http://example.com/", "http://example.com/owa/");
    return Stream.of(true, false).flatMap(njs -> targets.stream().map(t -> Arguments.of(njs, t)));
  }

  @ParameterizedTest(name = "njs={0} target={1}")
  @MethodSource("cases")
  void sendRequestTheRuleEngineCannotEvaluateThenItDoesNotReachTheBackend(boolean njs, String target) throws Exception {
    String rules = njs ? "eems-m1.1-cve-2022-41040.xml" : "eomt-cve-2021-26855-proxylogon.xml";
    ActiveMitigation mitigation = TestMitigations.rules(njs ? "M1" : "PROXYLOGON",
        TestMitigations.read(TestMitigations.sharedFixture(rules)));
    NginxEnforcer enforcer = new NginxEnforcer("errors", nginx.settings(njs));
    enforcer.converge(List.of(mitigation));
    RuleSet ruleSet = ((Action.RequestRules) mitigation.mitigation().actions().get(0)).rules();
    assertThatThrownBy(() -> RuleCompiler.compile(ruleSet).evaluate(HttpRequest.of("GET", target, List.of())))
        .as("the rule engine refuses %s", target)
        .isInstanceOf(RequestException.class);

    RealNginx.Outcome outcome = nginx.get(target);

    assertThat(outcome.fromBackend()).as("the backend must not see %s; got %s", target, outcome).isFalse();
    assertThat(outcome.aborted() || outcome.status() >= 400 && outcome.status() < 500)
        .as("an abort or a 4xx; got %s", outcome).isTrue();
  }
}
