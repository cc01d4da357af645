package dev.tourniquet.bench;

import dev.tourniquet.rules.InboundRule;
import dev.tourniquet.rules.Limits;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.RuleSets;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Microsoft's mitigation rules, read in place from {@code ../shared/fixtures/microsoft} beside the
 * repository (never copied into the jar, so the benchmark always runs the rules as Microsoft ships them).
 */
final class Fixtures {
  /** Overrides where the fixtures are looked for. */
  static final String DIRECTORY_PROPERTY = "tourniquet.fixtures";

  private Fixtures() {}

  /**
   * Every inbound rule of every fixture file, global rules first, files in name order.
   *
   * @throws IllegalStateException if the directory cannot be found
   */
  static List<InboundRule> inboundRules() {
    Path dir = directory();
    List<InboundRule> rules = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : files.filter(f -> f.getFileName().toString().endsWith(".xml")).sorted().toList()) {
        RuleSet set = RuleSets.read(file, Limits.DEFAULTS);
        rules.addAll(set.globalRules());
        rules.addAll(set.rules());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the Microsoft fixtures in " + dir, e);
    }
    if (rules.isEmpty()) {
      throw new IllegalStateException("no inbound rule in " + dir + "; expected the Microsoft fixtures");
    }
    return rules;
  }

  private static Path directory() {
    String configured = System.getProperty(DIRECTORY_PROPERTY);
    if (configured != null) {
      return Path.of(configured);
    }
    // JMH forks inherit the working directory; walk up so that the jar runs from the repository root or below.
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      Path candidate = p.resolveSibling("shared").resolve("fixtures").resolve("microsoft");
      if (p.getParent() != null && Files.isDirectory(candidate)) {
        return candidate;
      }
    }
    throw new IllegalStateException("cannot find ../shared/fixtures/microsoft above " + Path.of("").toAbsolutePath()
        + "; expected to run from the repository root, or -D" + DIRECTORY_PROPERTY + "=DIR");
  }
}
