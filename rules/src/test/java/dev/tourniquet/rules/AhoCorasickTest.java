package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The automaton reports exactly the literals that occur in the folded input, compared with a plain
 * {@code indexOf} on every literal: small sets (all states in dense rows) and a set large enough that
 * most states use the sparse fallback.
 */
class AhoCorasickTest {
  private static final String ALPHABET = "abcks/.-=0123";
  private static final String INPUT_ALPHABET = "abcksABCKS/.-=0123\u212A\u017F\u0130\u0131é\n";

  @Test
  void smallRandomSetsThenReportsExactlyTheLiteralsThatOccur() {
    Random random = new Random(7L);
    for (int round = 0; round < 300; round++) {
      List<String> literals = randomLiterals(random, 1 + random.nextInt(20), 1, 6);
      checkAgainstIndexOf(new AhoCorasick(literals), literals, random, 40);
    }
  }

  @Test
  void largeSetThenDeepStatesUseTheSparseFallbackAndStillAgree() {
    Random random = new Random(8L);
    List<String> literals = randomLiterals(random, 3000, 4, 24);
    AhoCorasick automaton = new AhoCorasick(literals);
    assertThat(automaton.nodeCount()).isGreaterThan(20_000);
    checkAgainstIndexOf(automaton, literals, random, 400);
    // Inputs built from the literals themselves, so that long prefixes match and deep states are visited.
    for (int i = 0; i < 200; i++) {
      StringBuilder input = new StringBuilder();
      for (int k = 0; k < 4; k++) {
        String lit = literals.get(random.nextInt(literals.size()));
        input.append(random.nextBoolean() ? lit : lit.substring(0, lit.length() - 1).toUpperCase(java.util.Locale.ROOT));
      }
      assertThat(found(automaton, literals, input.toString())).as("input %s", input).isEqualTo(expected(literals, input.toString()));
    }
  }

  @Test
  void nonAsciiCharactersThatFoldToAsciiThenMatchTheirLetter() {
    List<String> literals = List.of("kelvin", "boss", "bit");
    AhoCorasick automaton = new AhoCorasick(literals);
    assertThat(found(automaton, literals, "\u212Aelvin bo\u017Fs B\u0130T")).containsExactly("bit", "boss", "kelvin");
  }

  private static void checkAgainstIndexOf(AhoCorasick automaton, List<String> literals, Random random, int inputs) {
    for (int i = 0; i < inputs; i++) {
      StringBuilder input = new StringBuilder();
      for (int k = random.nextInt(60); k > 0; k--) {
        input.append(INPUT_ALPHABET.charAt(random.nextInt(INPUT_ALPHABET.length())));
      }
      assertThat(found(automaton, literals, input.toString())).as("literals %s input %s", literals, input)
          .isEqualTo(expected(literals, input.toString()));
    }
  }

  private static List<String> randomLiterals(Random random, int count, int minLength, int maxLength) {
    TreeSet<String> out = new TreeSet<>();
    while (out.size() < count) {
      StringBuilder lit = new StringBuilder();
      for (int k = minLength + random.nextInt(maxLength - minLength + 1); k > 0; k--) {
        lit.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
      }
      out.add(lit.toString());
    }
    return new ArrayList<>(out);
  }

  private static TreeSet<String> found(AhoCorasick automaton, List<String> literals, String input) {
    IntBuffer hits = new IntBuffer(4);
    automaton.scan(input, hits);
    TreeSet<String> out = new TreeSet<>();
    for (int h = 0; h < hits.size(); h++) {
      for (int literal : automaton.outputs(hits.get(h))) {
        out.add(literals.get(literal));
      }
    }
    return out;
  }

  private static TreeSet<String> expected(List<String> literals, String input) {
    StringBuilder folded = new StringBuilder();
    for (int i = 0; i < input.length(); i++) {
      folded.append(Folding.fold(input.charAt(i)));
    }
    TreeSet<String> out = new TreeSet<>();
    for (String lit : literals) {
      if (folded.indexOf(lit) >= 0) {
        out.add(lit);
      }
    }
    return out;
  }
}
