package dev.tourniquet.rules;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A multi-literal search that skips most of its input (Wu and Manber's shift table over blocks of
 * {@value #Q} characters), for literal sets whose shortest member is long. Reports exactly the literals
 * {@link AhoCorasick} reports, folded the same way ({@link Folding}), but reads only a few characters per
 * window of {@code m}, the length of the shortest literal.
 *
 * <h2>How it works</h2>
 *
 * <p>A window of {@code m} characters slides over the input. The block of {@value #Q} characters at its
 * end is looked up in a shift table: if the block occurs in no literal's first {@code m} characters, no
 * occurrence can start in the window or overlap its end by fewer than {@code m - Q + 1} characters, so the
 * window moves that far; if it ends the first {@code m} characters of some literal, those literals (a
 * bucket per block) are compared in place, folded, and the window moves by one; otherwise it moves to
 * the block's last place in a literal prefix. On ordinary text (cookies, tokens, user agents) most blocks
 * occur in no literal, and the scan reads about one block per {@code m - Q + 1} characters.
 *
 * <p>Blocks are hashed into a table sized by the number of blocks; a collision only lowers a shift (the
 * table keeps the smallest), so it costs speed, never a missed literal. A character enters the hash
 * through its fold cut to 7 bits with bit 5 set (ASCII letters differ in case only by bit 5), with no
 * table lookup: the scan is bound by its chain of dependent loads (character, then shift), and a class
 * table would add a third.
 */
final class SkipScan {
  /** The block length. */
  static final int Q = 3;
  /** The shortest literal this scan is built for; shorter ones are left to {@link AhoCorasick}. */
  static final int MIN_LENGTH = Q + 1;
  /** Inputs at least this long are scanned as two interleaved halves. */
  static final int INTERLEAVE_FROM = 64;
  private static final int MAX_TABLE_BITS = 15;
  private static final int MIN_TABLE_BITS = 8;

  private final int tableBits;
  private final int mask;
  /** The window: the length of the shortest literal. */
  private final int m;
  /** Per hashed block, how far the window may move. */
  private final byte[] shift;
  /** Per hashed block with shift 0, its literals: {@code bucketLiterals[bucketStart[h]..bucketStart[h+1])}. */
  private final int[] bucketStart;
  private final int[] bucketLiterals;
  private final char[][] literals;

  /**
   * Builds the scan.
   *
   * @param literals folded ASCII literals of at least {@link #MIN_LENGTH} characters; a literal's index
   *     is its id in reports
   */
  SkipScan(List<String> literals) {
    if (literals.isEmpty()) {
      throw new IllegalArgumentException("no literal; expected at least one");
    }
    int shortest = Integer.MAX_VALUE;
    for (String lit : literals) {
      if (lit.length() < MIN_LENGTH) {
        throw new IllegalArgumentException("literal '" + lit + "' of " + lit.length() + " characters; expected at least "
            + MIN_LENGTH);
      }
      shortest = Math.min(shortest, lit.length());
      for (int i = 0; i < lit.length(); i++) {
        char c = lit.charAt(i);
        if (c >= 128 || Folding.fold(c) != c) {
          throw new IllegalArgumentException("literal outside folded ASCII: " + lit);
        }
      }
    }
    m = Math.min(shortest, 127 + Q - 1);
    long blocks = (long) literals.size() * (m - Q + 1);
    int bits = 64 - Long.numberOfLeadingZeros(blocks * 8);
    tableBits = Math.max(MIN_TABLE_BITS, Math.min(MAX_TABLE_BITS, bits));
    mask = (1 << tableBits) - 1;

    shift = new byte[1 << tableBits];
    Arrays.fill(shift, (byte) (m - Q + 1));
    List<List<Integer>> buckets = new ArrayList<>();
    for (int h = 0; h <= mask; h++) {
      buckets.add(null);
    }
    this.literals = new char[literals.size()][];
    for (int id = 0; id < literals.size(); id++) {
      char[] lit = literals.get(id).toCharArray();
      this.literals[id] = lit;
      for (int end = Q - 1; end < m; end++) {
        int h = hash(code(lit[end - 2]), code(lit[end - 1]), code(lit[end]));
        shift[h] = (byte) Math.min(shift[h], m - 1 - end);
      }
      int h = hash(code(lit[m - 3]), code(lit[m - 2]), code(lit[m - 1]));
      if (buckets.get(h) == null) {
        buckets.set(h, new ArrayList<>());
      }
      buckets.get(h).add(id);
    }
    bucketStart = new int[mask + 2];
    int total = 0;
    for (int h = 0; h <= mask; h++) {
      bucketStart[h] = total;
      total += buckets.get(h) == null ? 0 : buckets.get(h).size();
    }
    bucketStart[mask + 1] = total;
    bucketLiterals = new int[total];
    for (int h = 0; h <= mask; h++) {
      if (buckets.get(h) != null) {
        for (int k = 0; k < buckets.get(h).size(); k++) {
          bucketLiterals[bucketStart[h] + k] = buckets.get(h).get(k);
        }
      }
    }
  }

  private int hash(int c0, int c1, int c2) {
    int code = (c0 << 14) | (c1 << 7) | c2;
    return (code ^ (code >>> tableBits)) & mask;
  }

  /**
   * A character's block code: its fold, with bit 5 set, cut to 7 bits. Only lowering shifts matters: two
   * characters that fold alike get one code (ASCII letters differ in case by bit 5), and characters that
   * fold differently may share one (a collision).
   */
  private static int code(char c) {
    return (c < 128 ? c : Folding.fold(c)) & 0x7F | 0x20;
  }

  /**
   * Scans the folded input and appends to {@code hits} the id of every literal that occurs in it, once
   * per occurrence (the order is unspecified).
   *
   * <p>Each step waits for the previous one (the shift decides where to read next), so a long input is
   * scanned as two halves at once, which keeps two independent chains of loads in flight: the first
   * half's windows start before the middle, the second half's at or after it, so each occurrence is
   * reported once.
   */
  void scan(String input, IntBuffer hits) {
    int n = input.length();
    if (n < INTERLEAVE_FROM) {
      scan(input, m - 1, n, hits);
      return;
    }
    int mid = n / 2;
    int limitA = Math.min(mid + m - 1, n);
    int endA = m - 1;
    int endB = mid + m - 1;
    while (endA < limitA && endB < n) {
      int hA = hash(code(input.charAt(endA - 2)), code(input.charAt(endA - 1)), code(input.charAt(endA)));
      int hB = hash(code(input.charAt(endB - 2)), code(input.charAt(endB - 1)), code(input.charAt(endB)));
      int sA = shift[hA];
      int sB = shift[hB];
      if (sA == 0) {
        verify(input, endA, hA, hits);
        sA = 1;
      }
      if (sB == 0) {
        verify(input, endB, hB, hits);
        sB = 1;
      }
      endA += sA;
      endB += sB;
    }
    scan(input, endA, limitA, hits);
    scan(input, endB, n, hits);
  }

  /** Scans the windows ending from {@code end} on and before {@code limit}. */
  private void scan(String input, int end, int limit, IntBuffer hits) {
    while (end < limit) {
      int h = hash(code(input.charAt(end - 2)), code(input.charAt(end - 1)), code(input.charAt(end)));
      int s = shift[h];
      if (s == 0) {
        verify(input, end, h, hits);
        s = 1;
      }
      end += s;
    }
  }

  /** Reports the literals of block {@code h}'s bucket that occur in the window ending at {@code end}. */
  private void verify(String input, int end, int h, IntBuffer hits) {
    int start = end - m + 1;
    for (int b = bucketStart[h], to = bucketStart[h + 1]; b < to; b++) {
      int id = bucketLiterals[b];
      if (occursAt(input, start, literals[id])) {
        hits.add(id);
      }
    }
  }

  private static boolean occursAt(String input, int start, char[] literal) {
    if (start + literal.length > input.length()) {
      return false;
    }
    for (int i = 0; i < literal.length; i++) {
      char c = input.charAt(start + i);
      if ((c < 128 ? (c >= 'A' && c <= 'Z' ? (char) (c + 32) : c) : Folding.fold(c)) != literal[i]) {
        return false;
      }
    }
    return true;
  }

  /** The window length: the shortest literal's. For tests. */
  int window() {
    return m;
  }
}
