package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every rule file, from Microsoft's fixtures and the test resources, converts to JSON and back without loss. */
class RoundTripTest {

  static Stream<Path> ruleFiles() throws IOException {
    List<Path> files = new ArrayList<>();
    try (Stream<Path> s = Files.list(Vectors.sharedFixture("."))) {
      s.filter(p -> p.toString().endsWith(".xml")).forEach(files::add);
    }
    try (Stream<Path> s = Files.list(Vectors.resource("rules"))) {
      s.forEach(files::add);
    }
    return files.stream().sorted();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("ruleFiles")
  void writeJsonThenReadItBackThenTheModelIsEqual(Path file) throws IOException {
    RuleSet original = RuleSets.read(file, Limits.DEFAULTS);
    String json = RuleJson.write(original);
    RuleSet back = RuleJson.read(json, "round-trip");
    assertThat(back).isEqualTo(original);
    assertThat(RuleJson.write(back)).isEqualTo(json);
    RuleCompiler.compile(back);
  }

  @Test
  void writeOutboundRuleWithoutPreconditionThenThePreConditionKeyIsLeftOutNotNull() {
    RuleSet set = RuleXmlReader.read("<rewrite><outboundRules><rule name=\"o\"><match serverVariable=\"RESPONSE_X\" "
        + "pattern=\".*\"/><action type=\"Rewrite\" value=\"y\"/></rule></outboundRules></rewrite>", "o.xml");

    String json = RuleJson.write(set);

    assertThat(json).doesNotContain("preCondition\"").doesNotContain("null");
    assertThat(RuleJson.read(json, "o.json")).isEqualTo(set);
  }
}
