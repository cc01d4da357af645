package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The skip scan reports exactly the literals that occur in the folded input, each occurrence once,
 * compared with a plain {@code indexOf} on every literal and with {@link AhoCorasick}: small sets, a set
 * large enough to fill the shift table, inputs short enough for one scan and long enough for two
 * interleaved halves, and occurrences at every offset, across the middle included. On an input built to
 * make it compare at every position, it gives up (the caller then uses the automaton).
 */
class SkipScanTest {
  private static final String ALPHABET = "abcks/.-=0123";
  private static final String INPUT_ALPHABET = "abcksABCKS/.-=0123\u212A\u017F\u0130\u0131é\n";

  @Test
  void smallRandomSetsThenReportsExactlyTheLiteralsThatOccurAsTheAutomatonDoes() {
    Random random = new Random(17L);
    for (int round = 0; round < 300; round++) {
      List<String> literals = randomLiterals(random, 1 + random.nextInt(20), SkipScan.MIN_LENGTH, 9);
      SkipScan scan = new SkipScan(literals);
      AhoCorasick automaton = new AhoCorasick(literals);
      for (int i = 0; i < 40; i++) {
        String input = randomInput(random, random.nextInt(2 * SkipScan.INTERLEAVE_FROM + 40), literals);
        TreeSet<String> expected = expected(literals, input);
        assertThat(found(scan, literals, input)).as("literals %s input %s", literals, input).isEqualTo(expected);
        assertThat(foundByAutomaton(automaton, literals, input)).isEqualTo(expected);
      }
    }
  }

  @Test
  void largeSetThenTheShiftTableIsCrowdedAndStillAgrees() {
    Random random = new Random(18L);
    List<String> literals = randomLiterals(random, 3000, 5, 24);
    SkipScan scan = new SkipScan(literals);
    for (int i = 0; i < 400; i++) {
      String input = randomInput(random, random.nextInt(400), literals);
      assertThat(found(scan, literals, input)).as("input %s", input).isEqualTo(expected(literals, input));
    }
  }

  @Test
  void literalAtEveryOffsetThenReportedExactlyOnceWhicheverHalfHoldsIt() {
    List<String> literals = List.of("x-beresource=", "autodiscover", "powershell");
    SkipScan scan = new SkipScan(literals);
    for (int length : new int[] {SkipScan.INTERLEAVE_FROM - 1, SkipScan.INTERLEAVE_FROM, 101, 400}) {
      for (String literal : literals) {
        for (int at = 0; at + literal.length() <= length; at++) {
          StringBuilder input = new StringBuilder("q".repeat(length));
          input.replace(at, at + literal.length(), at % 2 == 0 ? literal : literal.toUpperCase(Locale.ROOT));
          IntBuffer hits = new IntBuffer(4);
          assertThat(scan.scan(input.toString(), hits)).isTrue();
          assertThat(hits.size()).as("%s at %d of %d", literal, at, length).isEqualTo(1);
          assertThat(literals.get(hits.get(0))).isEqualTo(literal);
        }
      }
    }
  }

  @Test
  void repeatedAndOverlappingOccurrencesThenEachReported() {
    List<String> literals = List.of("abab", "babab");
    SkipScan scan = new SkipScan(literals);
    String input = "ab".repeat(60);
    IntBuffer hits = new IntBuffer(4);
    assertThat(scan.scan(input, hits)).isTrue();
    int abab = 0;
    int babab = 0;
    for (int i = 0; i < hits.size(); i++) {
      if (hits.get(i) == 0) {
        abab++;
      } else {
        babab++;
      }
    }
    assertThat(abab).isEqualTo(59);
    assertThat(babab).isEqualTo(58);
  }

  @Test
  void inputRepeatingAWindowThatManyLiteralsShareThenGivesUpInsteadOfComparingThemAll() {
    List<String> literals = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      literals.add(String.format(Locale.ROOT, "x-%03d-zzqj", i));
    }
    SkipScan scan = new SkipScan(literals);
    assertThat(scan.window()).isEqualTo(10);
    // Every literal's window starts with "x-" and ends in "zqj": a window like that compares all 300, once
    // every 10 characters here.
    assertThat(scan.scan("x-abc-zzqj".repeat(2_000), new IntBuffer(4))).isFalse();
    // The same block after another start compares none (windows end in "zqj" every 9 characters here).
    assertThat(scan.scan("abcdefzqj".repeat(3_000), new IntBuffer(4))).isTrue();
    // Ordinary text, and a real occurrence after the walk of its bucket, stay within the budget.
    IntBuffer hits = new IntBuffer(4);
    assertThat(scan.scan("ClientId=8F2A1C0D4B5E; x-042-zzqj=1; cadata=AbCdEf0123456789", hits)).isTrue();
    assertThat(hits.size()).isEqualTo(1);
    assertThat(literals.get(hits.get(0))).isEqualTo("x-042-zzqj");
  }

  @Test
  void nonAsciiCharactersThatFoldToAsciiThenMatchTheirLetter() {
    List<String> literals = List.of("kelvin", "bossy", "bitten");
    SkipScan scan = new SkipScan(literals);
    assertThat(found(scan, literals, "\u212Aelvin bo\u017Fsy B\u0130TTEN")).containsExactly("bitten", "bossy", "kelvin");
    assertThat(found(scan, literals, "kelvi\u00f1 bo\u00dfy")).isEmpty();
  }

  @Test
  void literalShorterThanTheBlockThenRefusedNamingIt() {
    assertThatThrownBy(() -> new SkipScan(List.of("abcdef", "abc")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("literal 'abc' of 3 characters; expected at least 4");
  }

  /** Random characters, with some literals spliced in (some upper-cased) so that hits happen. */
  private static String randomInput(Random random, int length, List<String> literals) {
    StringBuilder input = new StringBuilder();
    while (input.length() < length) {
      if (random.nextInt(12) == 0) {
        String lit = literals.get(random.nextInt(literals.size()));
        input.append(random.nextBoolean() ? lit : lit.toUpperCase(Locale.ROOT));
      } else {
        input.append(INPUT_ALPHABET.charAt(random.nextInt(INPUT_ALPHABET.length())));
      }
    }
    return input.toString();
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

  private static TreeSet<String> found(SkipScan scan, List<String> literals, String input) {
    IntBuffer hits = new IntBuffer(4);
    assertThat(scan.scan(input, hits)).as("scan of %s completed", input).isTrue();
    TreeSet<String> out = new TreeSet<>();
    for (int h = 0; h < hits.size(); h++) {
      out.add(literals.get(hits.get(h)));
    }
    return out;
  }

  private static TreeSet<String> foundByAutomaton(AhoCorasick automaton, List<String> literals, String input) {
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
