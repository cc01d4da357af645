package dev.tourniquet.rules;

import dev.tourniquet.rules.json.Json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Replays {@code vectors/invalid.jsonl}: each rule text must be refused with problems naming what is wrong. */
class RuleValidationTest {

  record Invalid(int line, String name, String rules, List<String> problems) {
    @Override
    public String toString() {
      return "invalid.jsonl:" + line + " " + name;
    }
  }

  @SuppressWarnings("unchecked")
  static Stream<Invalid> invalid() throws Exception {
    List<String> lines = Files.readAllLines(Vectors.resource("vectors/invalid.jsonl"), StandardCharsets.UTF_8);
    List<Invalid> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      Map<String, Object> m = (Map<String, Object>) Json.parse(lines.get(i));
      out.add(new Invalid(i + 1, (String) m.get("name"), (String) m.get("rules"),
          ((List<Object>) m.get("problems")).stream().map(String.class::cast).toList()));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalid")
  void readAndCompileInvalidRulesThenEveryExpectedProblemIsNamed(Invalid vector) {
    assertThatThrownBy(() -> RuleCompiler.compile(RuleSets.read(vector.rules(), "t.xml")))
        .isInstanceOfSatisfying(RuleValidationException.class, e -> {
          String all = e.problems().stream().map(Problem::toString).collect(Collectors.joining("\n"));
          for (String fragment : vector.problems()) {
            assertThat(all).contains(fragment);
          }
          assertThat(e.problems()).allSatisfy(p -> assertThat(p.message()).contains("expected"));
        });
  }

  @Test
  void readJsonNullAsTheWholeRuleSetThenRefusedNotReadAsNoRules() {
    assertThatThrownBy(() -> RuleJson.read("null", "t.json"))
        .isInstanceOf(RuleValidationException.class)
        .hasMessageContaining("t.json: $: null; expected an object");
  }

  @Test
  @SuppressWarnings("unchecked")
  void readTreeHoldingNumbersTheTextFormRefusesThenEachIsRefusedAtItsPath() throws Exception {
    Map<String, Object> tree = (Map<String, Object>) Json.parse("{\"rules\": [{\"name\": \"n\", \"match\": {\"url\": \"x\"},"
        + " \"action\": {\"type\": \"CustomResponse\", \"statusCode\": 0, \"subStatusCode\": 0}}]}");
    Map<String, Object> action = (Map<String, Object>) ((Map<String, Object>) ((List<Object>) tree.get("rules")).get(0)).get("action");
    action.put("statusCode", new BigDecimal("403.0"));
    action.put("subStatusCode", new BigInteger("10000000000000000000"));

    assertThatThrownBy(() -> RuleJson.readTree(tree, "actions[0].rules"))
        .isInstanceOf(RuleValidationException.class)
        .hasMessageContaining("actions[0].rules: rules[0].action.statusCode: the number 403.0, written with a fraction or "
            + "exponent; expected a whole number")
        .hasMessageContaining("rules[0].action.subStatusCode: the number 10000000000000000000, of more than 18 digits; "
            + "expected a whole number");
  }

  @Test
  void readMisspeltMatchTypeThenNotExplainedAsNeedingTheFileSystem() {
    String xml = "<rewrite><rules><rule name=\"MT\"><match url=\".*\"/><conditions>"
        + "<add input=\"{URL}\" pattern=\"x\" matchType=\"Patern\"/></conditions><action type=\"None\"/></rule></rules></rewrite>";
    assertThatThrownBy(() -> RuleXmlReader.read(xml, "t.xml"))
        .isInstanceOf(RuleValidationException.class)
        .hasMessageContaining("t.xml:1: matchType=\"Patern\" is unknown; expected one of Pattern (0), IsFile (1), IsDirectory (2)")
        .hasMessageNotContaining("needs the server's file system");
  }

  @Test
  void readIsFileInAnyCaseOrAsItsNumberThenRefusedAsNeedingTheFileSystem() {
    for (String type : List.of("isfile", "1", " IsDirectory ")) {
      String xml = "<rewrite><rules><rule name=\"MT\"><match url=\".*\"/><conditions>"
          + "<add input=\"{URL}\" pattern=\"x\" matchType=\"" + type + "\"/></conditions><action type=\"None\"/></rule></rules></rewrite>";
      assertThatThrownBy(() -> RuleXmlReader.read(xml, "t.xml"))
          .isInstanceOf(RuleValidationException.class)
          .hasMessageContaining("needs the server's file system");
    }
  }

  @Test
  void compileMoreRulesThanTheLimitThenRefusedWithTheCount() {
    Limits limits = new Limits(1 << 20, 2, 4, 100, 100, 100, 100, 10);
    List<InboundRule> rules = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      rules.add(new InboundRule("r" + i, true, PatternSyntax.ECMA_SCRIPT, false, new UrlMatch("a", true, false),
          Conditions.NONE, new InboundAction.None()));
    }
    assertThatThrownBy(() -> RuleCompiler.compile(new RuleSet(List.of(), rules, List.of(), List.of()), limits))
        .isInstanceOf(RuleValidationException.class)
        .hasMessageContaining("3 rules exceed the limit of 2");
  }

  @Test
  void compileTooLongPatternThenRefusedWithItsLength() {
    Limits limits = new Limits(1 << 20, 10, 4, 5, 100, 100, 100, 10);
    RuleSet set = new RuleSet(List.of(), List.of(new InboundRule("long", true, PatternSyntax.ECMA_SCRIPT, false,
        new UrlMatch("abcdefgh", true, false), Conditions.NONE, new InboundAction.None())), List.of(), List.of());
    assertThatThrownBy(() -> RuleCompiler.compile(set, limits))
        .isInstanceOf(RuleValidationException.class)
        .hasMessageContaining("rule \"long\" <match url>: pattern of 8 characters exceeds the limit of 5");
  }

  @Test
  void readFileLargerThanTheLimitThenRefusedBeforeParsing() throws Exception {
    java.nio.file.Path file = Files.createTempFile("big", ".xml");
    try {
      Files.writeString(file, "<rewrite>" + " ".repeat(2000) + "</rewrite>");
      Limits limits = new Limits(1000, 10, 4, 5, 100, 100, 100, 10);
      assertThatThrownBy(() -> RuleSets.read(file, limits))
          .isInstanceOf(RuleValidationException.class)
          .hasMessageContaining("larger than the limit of 1000 bytes");
    } finally {
      Files.delete(file);
    }
  }

  @Test
  void readFileThatIsNotUtf8ThenRefused() throws Exception {
    java.nio.file.Path file = Files.createTempFile("latin1", ".xml");
    try {
      Files.write(file, new byte[] {'<', 'r', (byte) 0xE9, '>'});
      assertThatThrownBy(() -> RuleSets.read(file, Limits.DEFAULTS))
          .isInstanceOf(RuleValidationException.class)
          .hasMessageContaining("not valid UTF-8");
    } finally {
      Files.delete(file);
    }
  }
}
