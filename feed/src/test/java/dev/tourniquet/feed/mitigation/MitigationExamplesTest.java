package dev.tourniquet.feed.mitigation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.RuleSets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every example under {@code examples/mitigations/} (which {@code docs/mitigation-format.md} shows) parses,
 * survives the canonical round trip, and carries what its description claims, so the docs cannot rot.
 */
class MitigationExamplesTest {
  private static final Path FIXTURES = MitigationVectorsTest.REPO.resolve("../shared/fixtures/microsoft").normalize();

  static Stream<Path> examples() throws IOException {
    try (Stream<Path> files = Files.list(MitigationVectorsTest.EXAMPLES)) {
      List<Path> list = files.filter(p -> p.toString().endsWith(".json")).sorted().toList();
      assertThat(list).hasSizeGreaterThanOrEqualTo(6);
      return list.stream();
    }
  }

  private static Mitigation example(String name) throws Exception {
    return MitigationParser.parse(Files.readAllBytes(MitigationVectorsTest.EXAMPLES.resolve(name)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("examples")
  void exampleParsesAndItsFileIsNamedAfterItsId(Path file) throws Exception {
    Mitigation m = MitigationParser.parse(Files.readAllBytes(file));

    assertThat(file.getFileName().toString()).isEqualTo(m.id() + ".json");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("examples")
  void exampleSurvivesTheCanonicalRoundTripByteForByte(Path file) throws Exception {
    Mitigation m = MitigationParser.parse(Files.readAllBytes(file));

    byte[] canonical = MitigationWriter.write(m);
    Mitigation again = MitigationParser.parse(canonical);

    assertThat(again).isEqualTo(m);
    assertThat(MitigationWriter.write(again)).isEqualTo(canonical);
  }

  @Test
  void everyExampleAppearsInTheFormatDocumentExactlyAsItsFile() throws Exception {
    String doc = Files.readString(MitigationVectorsTest.REPO.resolve("docs/mitigation-format.md"));
    java.util.regex.Matcher block = java.util.regex.Pattern
        .compile("<!-- example: (\\S+) -->\n```json\n(.*?)```\n", java.util.regex.Pattern.DOTALL).matcher(doc);
    java.util.Set<String> shown = new java.util.TreeSet<>();
    while (block.find()) {
      assertThat(block.group(2)).as(block.group(1))
          .isEqualTo(Files.readString(MitigationVectorsTest.REPO.resolve(block.group(1))));
      shown.add(block.group(1));
    }

    assertThat(shown).containsExactlyElementsOf(examples()
        .map(p -> "examples/mitigations/" + p.getFileName()).sorted().toList());
  }

  @Test
  void m1ExampleCarriesExactlyTheRuleOfTheEemsFixture() throws Exception {
    Mitigation m1 = example("M1.json");
    RuleSet fixture = RuleSets.read(Files.readString(FIXTURES.resolve("eems-m1.1-cve-2022-41040.xml")), "fixture");

    assertThat(m1.appliedId()).isEqualTo("M1.1");
    assertThat(m1.cves()).containsExactly("CVE-2022-41040");
    assertThat(m1.mode()).isEqualTo(Mitigation.Mode.ENFORCE);
    assertThat(m1.actions()).singleElement().isInstanceOfSatisfying(Action.RequestRules.class,
        r -> assertThat(r.rules()).isEqualTo(fixture));
  }

  @Test
  void proxyLogonExampleInTheJsonFormEqualsTheEomtXmlFixture() throws Exception {
    Mitigation m = example("TQ-2021-0001.json");
    RuleSet fixture = RuleSets.read(Files.readString(FIXTURES.resolve("eomt-cve-2021-26855-proxylogon.xml")), "fixture");

    assertThat(m.actions()).singleElement().isInstanceOfSatisfying(Action.RequestRules.class, r -> {
      assertThat(r.xml()).isEmpty();
      assertThat(r.rules()).isEqualTo(fixture);
    });
  }

  @Test
  void owaCspExampleCarriesTheOutboundFixtureAndAnExpiry() throws Exception {
    Mitigation m = example("TQ-2026-0001.json");
    RuleSet fixture = RuleSets.read(Files.readString(FIXTURES.resolve("eomt-cve-2026-42897-owa-csp-outbound.xml")),
        "fixture");

    assertThat(m.actions()).singleElement().isInstanceOfSatisfying(Action.ResponseRules.class,
        r -> assertThat(r.rules()).isEqualTo(fixture));
    assertThat(m.expires()).hasValueSatisfying(e -> assertThat(e).hasToString("2036-06-01T00:00:00Z"));
    assertThat(m.isExpiredAt(java.time.Instant.parse("2036-05-31T23:59:59Z"))).isFalse();
    assertThat(m.isExpiredAt(java.time.Instant.parse("2036-06-01T00:00:00Z"))).isTrue();
  }

  @Test
  void unifiedMessagingExampleDisablesBothServicesOnWindows() throws Exception {
    Mitigation m = example("TQ-2021-0002.json");

    assertThat(m.actions()).containsExactly(
        new Action.DisableService("MSExchangeUM", Set.of(Action.DisableService.Manager.WINDOWS)),
        new Action.DisableService("MSExchangeUMCR", Set.of(Action.DisableService.Manager.WINDOWS)));
  }

  @Test
  void appPoolExampleDefaultsTheStatusTo503() throws Exception {
    Mitigation m = example("TQ-2021-0003.json");

    assertThat(m.actions()).containsExactly(
        new Action.DisableEndpoint("/ecp", 503, Optional.of("MSExchangeECPAppPool")),
        new Action.DisableEndpoint("/OAB", 503, Optional.of("MSExchangeOABAppPool")));
  }

  @Test
  void authPolicyExampleIsInAuditModeWithItsExtensionKept() throws Exception {
    Mitigation m = example("TQ-2026-0002.json");

    assertThat(m.mode()).isEqualTo(Mitigation.Mode.AUDIT);
    assertThat(m.cves()).isEmpty();
    assertThat(m.actions()).containsExactly(new Action.AuthPolicy("/manager",
        Set.of(Action.AuthPolicy.Refusal.BASIC, Action.AuthPolicy.Refusal.ANONYMOUS)));
    assertThat(m.extensions()).isEqualTo(Map.of("com.example.ticket", "{\"system\":\"jira\",\"key\":\"SEC-1234\"}"));
  }
}
