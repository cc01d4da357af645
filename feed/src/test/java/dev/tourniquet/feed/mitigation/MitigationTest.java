package dev.tourniquet.feed.mitigation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.rules.RuleJson;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.RuleValidationException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The model built in code: the constructors enforce the schema's rules, the writer's form, the helpers. */
class MitigationTest {
  private static final String INBOUND = "{\"rules\":[{\"name\":\"r\",\"match\":{\"url\":\"^x\"},"
      + "\"action\":{\"type\":\"AbortRequest\"}}]}";

  private static Applicability exchange() {
    return new Applicability("microsoft-exchange-server", List.of(
        VersionRange.fixedIn(Version.parse("15.2.0"), Version.parse("15.2.986.36")),
        VersionRange.fixedIn(Version.parse("15.2.987"), Version.parse("15.2.1118.20"))));
  }

  private static Mitigation mitigation(List<Action> actions, Map<String, String> extensions) {
    return new Mitigation("TQ-2026-0001", 2, "Title", "Description.", List.of("CVE-2026-0001"),
        Mitigation.Severity.HIGH, List.of(), exchange(), actions, Mitigation.Mode.ENFORCE, Optional.empty(), extensions);
  }

  private static Action.RequestRules inbound() {
    return new Action.RequestRules(RuleJson.read(INBOUND, "test"), Optional.empty());
  }

  @Test
  void mitigationBuiltInCodeRoundTripsThroughTheCanonicalDocument() throws Exception {
    Mitigation m = mitigation(List.of(inbound(), new Action.AuthPolicy("/ews", Set.of(Action.AuthPolicy.Refusal.BASIC))),
        Map.of("org.example.b", "[1, 2]", "org.example.a", "{ \"x\" : true }"));

    Mitigation parsed = MitigationParser.parse(MitigationWriter.write(m));

    assertThat(parsed).isEqualTo(m);
    assertThat(parsed.extensions()).containsExactly(Map.entry("org.example.a", "{\"x\":true}"),
        Map.entry("org.example.b", "[1,2]"));
  }

  @Test
  void responseRulesInTheJsonFormWithoutAPreconditionRoundTripThroughTheCanonicalDocument() throws Exception {
    RuleSet outbound = RuleJson.read("{\"outboundRules\":[{\"name\":\"o\",\"match\":{\"serverVariable\":\"RESPONSE_X\","
        + "\"pattern\":\".*\"},\"action\":{\"type\":\"Rewrite\",\"value\":\"y\"}}]}", "test");
    Mitigation m = mitigation(List.of(new Action.ResponseRules(outbound, Optional.empty())), Map.of());

    byte[] written = MitigationWriter.write(m);

    assertThat(new String(written, StandardCharsets.UTF_8)).doesNotContain("\"preCondition\"").doesNotContain("null");
    assertThat(MitigationParser.parse(written)).isEqualTo(m);
  }

  @Test
  void writerWritesEveryDefaultAndTheRulesInTheirJsonFormWithTwoSpaceIndentation() {
    Mitigation m = mitigation(List.of(inbound(), new Action.DisableEndpoint("/ecp", 503, Optional.empty())), Map.of());

    String text = new String(MitigationWriter.write(m), StandardCharsets.UTF_8);

    assertThat(text).startsWith("{\n  \"schema\": \"tourniquet-mitigation/1\",\n  \"id\": \"TQ-2026-0001\",\n")
        .contains("\n  \"mode\": \"enforce\",\n")
        .contains("\"references\": [],")
        .contains("\"status\": 503")
        .contains("\"format\": \"tourniquet-rules/1\"")
        .doesNotContain("\"expires\"")
        .doesNotContain("\"extensions\"")
        .endsWith("\n}\n");
  }

  @Test
  void xmlRulesAreWrittenBackVerbatim() throws Exception {
    String xml = "<rewrite>\n <rules><rule name=\"r\"><match url=\"^x\"/><action type=\"AbortRequest\"/></rule></rules>\n</rewrite>";
    Mitigation m = mitigation(List.of(Action.RequestRules.ofXml(xml)), Map.of());

    Mitigation parsed = MitigationParser.parse(MitigationWriter.write(m));

    assertThat(((Action.RequestRules) parsed.actions().get(0)).xml()).contains(xml);
  }

  @Test
  void appliedIdJoinsIdAndRevision() {
    assertThat(mitigation(List.of(inbound()), Map.of()).appliedId()).isEqualTo("TQ-2026-0001.2");
    assertThat(mitigation(List.of(inbound()), Map.of()).targetName()).isEqualTo("mitigations/TQ-2026-0001.json");
  }

  @Test
  void mitigationWithoutExpiryNeverExpires() {
    assertThat(mitigation(List.of(inbound()), Map.of()).isExpiredAt(Instant.parse("9999-01-01T00:00:00Z"))).isFalse();
  }

  @Test
  void constructorRefusesAnUnsafeIdNamingTheField() {
    assertThatThrownBy(() -> new Mitigation("a/b", 1, "t", "d", List.of(), Mitigation.Severity.LOW, List.of(), exchange(),
        List.of(inbound()), Mitigation.Mode.AUDIT, Optional.empty(), Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("id: expected 1 to 64 letters")
        .hasMessageContaining("but found \"a/b\"");
  }

  @Test
  void constructorKeepsReferencesThatDifferOnlyInTheCaseOfTheirPath() {
    List<String> references = List.of("https://example.com/KB5019758", "https://example.com/kb5019758");

    Mitigation m = new Mitigation("TQ-2026-0001", 2, "Title", "Description.", List.of(), Mitigation.Severity.HIGH,
        references, exchange(), List.of(inbound()), Mitigation.Mode.ENFORCE, Optional.empty(), Map.of());

    assertThat(m.references()).isEqualTo(references);
  }

  @Test
  void constructorRefusesAReferenceRepeatedWithItsHostInAnotherCase() {
    assertThatThrownBy(() -> new Mitigation("TQ-2026-0001", 2, "Title", "Description.", List.of(),
        Mitigation.Severity.HIGH, List.of("https://EXAMPLE.com/a", "https://example.com/a"), exchange(), List.of(inbound()),
        Mitigation.Mode.ENFORCE, Optional.empty(), Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("references[1]: expected each URL once (the host ignoring case) but found \"https://example.com/a\"");
  }

  @Test
  void constructorRefusesTwoRequestRuleActions() {
    assertThatThrownBy(() -> mitigation(List.of(inbound(), inbound()), Map.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("actions[1]: expected at most one request-rules action (put every inbound rule in one rule set)"
            + " but found another like actions[0]");
  }

  @Test
  void constructorRefusesAnExtensionThatIsNotJson() {
    assertThatThrownBy(() -> mitigation(List.of(inbound()), Map.of("org.example.x", "{oops")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("extensions.org.example.x: expected a JSON value but found a syntax error");
  }

  @Test
  void requestRulesRefuseARuleSetThatDoesNotCompile() {
    RuleSet lookbehind = RuleJson.read("{\"rules\":[{\"name\":\"r\",\"match\":{\"url\":\"(?<=a)b\"},"
        + "\"action\":{\"type\":\"AbortRequest\"}}]}", "test");

    assertThatThrownBy(() -> new Action.RequestRules(lookbehind, Optional.empty()))
        .isInstanceOf(RuleValidationException.class)
        .hasMessageContaining("lookbehind");
  }

  @Test
  void requestRulesRefuseXmlTextOfOtherRules() {
    String other = "<rewrite><rules><rule name=\"other\"><match url=\"y\"/><action type=\"AbortRequest\"/></rule></rules></rewrite>";

    assertThatThrownBy(() -> new Action.RequestRules(RuleJson.read(INBOUND, "test"), Optional.of(other)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("xml: expected the text of these rules but found text of other rules");
  }

  @Test
  void responseRulesRefuseInboundRules() {
    assertThatThrownBy(() -> new Action.ResponseRules(RuleJson.read(INBOUND, "test"), Optional.empty()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("rules: expected outbound rules only but found 1 inbound rule; put them in a request-rules action");
  }

  @Test
  void disableServiceRefusesAnEmptyManagerSet() {
    assertThatThrownBy(() -> new Action.DisableService("MSExchangeUM", Set.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("managers: expected at least one service manager but found none");
  }

  @Test
  void versionRangeRefusesBothUpperBounds() {
    assertThatThrownBy(() -> new VersionRange(Optional.empty(), Optional.of(Version.parse("2")), Optional.of(Version.parse("3"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("expected at most one of before and fixed but found both");
  }

  @Test
  void rangeWithoutBoundsCoversEveryVersion() {
    VersionRange all = new VersionRange(Optional.empty(), Optional.empty(), Optional.empty());

    assertThat(all.contains(Version.parse("0"))).isTrue();
    assertThat(all.contains(Version.parse("999999.1"))).isTrue();
    assertThat(all).hasToString("(any, any)");
  }

  @Test
  void documentOverOneMebibyteIsRefusedBeforeParsing() {
    byte[] big = new byte[MitigationParser.MAX_BYTES + 1];
    java.util.Arrays.fill(big, (byte) ' ');

    assertThatThrownBy(() -> MitigationParser.parse(big))
        .isInstanceOf(MitigationException.class)
        .hasMessage("document: expected at most 1048576 bytes but found 1048577");
  }

  @Test
  void byteOrderMarkIsIgnored() throws Exception {
    byte[] doc = Files.readAllBytes(MitigationVectorsTest.EXAMPLES.resolve("M1.json"));
    byte[] withBom = new byte[doc.length + 3];
    withBom[0] = (byte) 0xEF;
    withBom[1] = (byte) 0xBB;
    withBom[2] = (byte) 0xBF;
    System.arraycopy(doc, 0, withBom, 3, doc.length);

    assertThat(MitigationParser.parse(withBom)).isEqualTo(MitigationParser.parse(doc));
  }

  @Test
  void writerRefusesAMitigationWhoseDocumentWouldExceedTheCap() {
    // The XML text is kept verbatim, comment and all: a one-rule set can still make a document too large.
    String xml = "<rewrite><!-- " + "x".repeat(MitigationParser.MAX_BYTES) + " --><rules><rule name=\"r\">"
        + "<match url=\"^x\"/><action type=\"AbortRequest\"/></rule></rules></rewrite>";
    Action big = Action.RequestRules.ofXml(xml);
    Mitigation m = mitigation(List.of(big), Map.of());

    assertThatThrownBy(() -> MitigationWriter.write(m))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("expected a document of at most 1048576 bytes but found ");
  }
}
