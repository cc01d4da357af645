package dev.tourniquet.agent.enforce.nginx;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Applicability;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.Version;
import dev.tourniquet.feed.mitigation.VersionRange;
import dev.tourniquet.rules.Limits;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.RuleSets;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Mitigations built in code for the tests, and the paths of the shared rule files. */
public final class TestMitigations {
  private TestMitigations() {}

  /** The repository root: the agent module's parent directory. */
  public static Path repoRoot() {
    return Path.of(System.getProperty("tourniquet.repo.root", "..")).toAbsolutePath().normalize();
  }

  /** One of Microsoft's published rules, from {@code ../shared/fixtures/microsoft} beside the repository. */
  public static Path sharedFixture(String name) {
    return repoRoot().resolve("../shared/fixtures/microsoft").resolve(name).normalize();
  }

  static Path rulesResource(String name) {
    return repoRoot().resolve("rules/src/test/resources/rules").resolve(name);
  }

  /** The rule file a vector names: {@code shared:NAME} or a file of the rules module's test resources. */
  static Path ruleFile(String name) {
    return name.startsWith("shared:") ? sharedFixture(name.substring(7)) : rulesResource(name);
  }

  static RuleSet read(Path file) {
    try {
      return RuleSets.read(file, Limits.DEFAULTS);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static ActiveMitigation enforce(String id, Action... actions) {
    return new ActiveMitigation(mitigation(id, actions), false);
  }

  static ActiveMitigation audit(String id, Action... actions) {
    return new ActiveMitigation(mitigation(id, actions), true);
  }

  static ActiveMitigation rules(String id, RuleSet rules) {
    return enforce(id, new Action.RequestRules(rules, Optional.empty()));
  }

  static ActiveMitigation rulesXml(String id, String xml) {
    return enforce(id, Action.RequestRules.ofXml(xml));
  }

  static Mitigation mitigation(String id, Action... actions) {
    return new Mitigation(id, 1, "Test mitigation " + id, "A mitigation built by the nginx enforcer's tests.",
        List.of(), Mitigation.Severity.HIGH, List.of(),
        new Applicability("test-product", List.of(VersionRange.fixedIn(Version.parse("1.0"), Version.parse("2.0")))),
        List.of(actions), Mitigation.Mode.ENFORCE, Optional.empty(), Map.of());
  }
}
