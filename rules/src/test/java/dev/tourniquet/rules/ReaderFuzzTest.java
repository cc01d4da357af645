package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Mutated rule files (characters deleted, duplicated, replaced; pieces of other files spliced in) are
 * either read and compiled, or refused with {@link RuleValidationException}: never another exception.
 */
class ReaderFuzzTest {
  private static final String NOISE = "<>/\"'=&;{}[]()*+?.^$\\|:\n \u0000\u212A\uD800é%!-#";

  @Test
  void mutatedRuleFilesThenOnlyTheValidationErrorIsThrown() throws Exception {
    List<String> seeds = new ArrayList<>();
    try (Stream<Path> files = Stream.concat(Files.list(Vectors.sharedFixture(".")).filter(p -> p.toString().endsWith(".xml")),
        Files.list(Vectors.resource("rules")))) {
      for (Path p : files.toList()) {
        String text = Files.readString(p, StandardCharsets.UTF_8);
        seeds.add(text);
        // The same rules in the JSON form, so the JSON reader is fuzzed too.
        seeds.add(RuleJson.write(RuleSets.read(text, p.toString())));
      }
    }
    Random random = new Random(2026L);
    int refused = 0;
    int accepted = 0;
    for (int round = 0; round < 4000; round++) {
      String text = mutate(seeds.get(random.nextInt(seeds.size())), seeds, random);
      try {
        RuleCompiler.compile(RuleSets.read(text, "fuzz"));
        accepted++;
      } catch (RuleValidationException e) {
        assertThat(e.problems()).isNotEmpty();
        refused++;
      }
    }
    assertThat(refused).isGreaterThan(500);
    assertThat(accepted).isGreaterThan(100);
  }

  private static String mutate(String seed, List<String> seeds, Random random) {
    StringBuilder s = new StringBuilder(seed);
    int edits = 1 + random.nextInt(4);
    for (int e = 0; e < edits && s.length() > 0; e++) {
      int at = random.nextInt(s.length());
      switch (random.nextInt(4)) {
        case 0 -> s.deleteCharAt(at);
        case 1 -> s.insert(at, NOISE.charAt(random.nextInt(NOISE.length())));
        case 2 -> s.setCharAt(at, NOISE.charAt(random.nextInt(NOISE.length())));
        default -> {
          String other = seeds.get(random.nextInt(seeds.size()));
          int from = random.nextInt(other.length());
          s.insert(at, other, from, Math.min(other.length(), from + random.nextInt(40)));
        }
      }
    }
    return s.toString();
  }
}
