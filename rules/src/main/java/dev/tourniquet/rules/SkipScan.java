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
 * window moves that far; if it ends the first {@code m} characters of some literal, the literals with that
 * block and the window's first two characters are compared in place, folded, and the window moves by one;
 * otherwise it moves to the block's last place in a literal prefix. On ordinary text (cookies, tokens,
 * user agents) most blocks occur in no literal, and the scan reads about one block per {@code m - Q + 1}
 * characters.
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
  /** The wasted work (see {@link #verify}) allowed per input character before giving up. */
  static final int WORK_PER_CHAR = 1;
  /**
   * Wasted work allowed per input on top: a window that holds a real occurrence may first compare
   * literals that share its block and start, which a short input must still afford.
   */
  static final int WORK_ALLOWANCE = 1024;
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
  /**
   * Candidate literals by their key: the hashed block that ends their window and their first two
   * characters ({@code c0 << 16 | c1}). A window with shift 0 looks up its own key, so literals that
   * share the block but not the start (several end their window in the same digits, say) cost nothing;
   * {@code bucketLiterals[bucketStart[k]..bucketStart[k+1])} for key slot {@code k}, with each entry's
   * block and start kept to tell slot collisions apart.
   */
  private final int bucketBits;
  private final int[] bucketStart;
  private final int[] bucketLiterals;
  private final int[] bucketBlocks;
  private final int[] bucketPrefixes;
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
    this.literals = new char[literals.size()][];
    bucketBits = Math.max(4, 33 - Integer.numberOfLeadingZeros(literals.size()));
    List<List<Integer>> buckets = new ArrayList<>();
    for (int k = 0; k < 1 << bucketBits; k++) {
      buckets.add(null);
    }
    int[] blockOf = new int[literals.size()];
    for (int id = 0; id < literals.size(); id++) {
      char[] lit = literals.get(id).toCharArray();
      this.literals[id] = lit;
      for (int end = Q - 1; end < m; end++) {
        int h = hash(code(lit[end - 2]), code(lit[end - 1]), code(lit[end]));
        shift[h] = (byte) Math.min(shift[h], m - 1 - end);
      }
      blockOf[id] = hash(code(lit[m - 3]), code(lit[m - 2]), code(lit[m - 1]));
      int k = bucket(blockOf[id], lit[0] << 16 | lit[1]);
      if (buckets.get(k) == null) {
        buckets.set(k, new ArrayList<>());
      }
      buckets.get(k).add(id);
    }
    bucketStart = new int[(1 << bucketBits) + 1];
    bucketLiterals = new int[literals.size()];
    bucketBlocks = new int[literals.size()];
    bucketPrefixes = new int[literals.size()];
    int total = 0;
    for (int k = 0; k < 1 << bucketBits; k++) {
      bucketStart[k] = total;
      if (buckets.get(k) != null) {
        for (int id : buckets.get(k)) {
          bucketLiterals[total] = id;
          bucketBlocks[total] = blockOf[id];
          bucketPrefixes[total] = this.literals[id][0] << 16 | this.literals[id][1];
          total++;
        }
      }
    }
    bucketStart[1 << bucketBits] = total;
  }

  /** The key slot of a block hash and a start of two characters. */
  private int bucket(int block, int prefix) {
    return (block * 0x9E3779B1 ^ prefix * 0x85EBCA6B) >>> (32 - bucketBits);
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
   * per occurrence (the order is unspecified), unless comparing candidate windows in vain costs more than
   * {@value #WORK_PER_CHAR} units per input character (plus {@value #WORK_ALLOWANCE}): then it gives up
   * and returns false, and the caller must discard the hits and scan with an {@link AhoCorasick} automaton
   * instead. Ordinary text costs a few units per request; an input made to repeat a window start and a
   * block that many literals share would otherwise cost their number at every such window. Giving up
   * keeps the whole search linear in the input, whatever it holds.
   *
   * <p>Each step waits for the previous one (the shift decides where to read next), so a long input is
   * scanned as two halves at once, which keeps two independent chains of loads in flight: the first
   * half's windows start before the middle, the second half's at or after it, so each occurrence is
   * reported once.
   *
   * @return true when the scan completed, false when it gave up
   */
  boolean scan(String input, IntBuffer hits) {
    int n = input.length();
    int budget = WORK_PER_CHAR * n + WORK_ALLOWANCE;
    if (n < INTERLEAVE_FROM) {
      return scan(input, m - 1, n, hits, budget) >= 0;
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
        budget -= verify(input, endA, hA, hits);
        sA = 1;
      }
      if (sB == 0) {
        budget -= verify(input, endB, hB, hits);
        sB = 1;
      }
      if (budget < 0) {
        return false;
      }
      endA += sA;
      endB += sB;
    }
    budget = scan(input, endA, limitA, hits, budget);
    return budget >= 0 && scan(input, endB, n, hits, budget) >= 0;
  }

  /**
   * Scans the windows ending from {@code end} on and before {@code limit}.
   *
   * @return the budget left, negative when it ran out (the scan stopped)
   */
  private int scan(String input, int end, int limit, IntBuffer hits, int budget) {
    while (end < limit) {
      int h = hash(code(input.charAt(end - 2)), code(input.charAt(end - 1)), code(input.charAt(end)));
      int s = shift[h];
      if (s == 0) {
        budget -= verify(input, end, h, hits);
        if (budget < 0) {
          return budget;
        }
        s = 1;
      }
      end += s;
    }
    return budget;
  }

  /**
   * Reports the literals whose window ends in block {@code h} and that occur in the window ending at
   * {@code end}.
   *
   * @return the work wasted: one unit per entry of the key slot that does not occur there, plus the
   *     characters compared to find that out (an occurrence is reported, as the automaton would, and costs
   *     nothing)
   */
  private int verify(String input, int end, int h, IntBuffer hits) {
    int start = end - m + 1;
    int prefix = fold(input.charAt(start)) << 16 | fold(input.charAt(start + 1));
    int k = bucket(h, prefix);
    int work = 0;
    for (int b = bucketStart[k], to = bucketStart[k + 1]; b < to; b++) {
      if (bucketBlocks[b] != h || bucketPrefixes[b] != prefix) {
        work++;
        continue;
      }
      int compared = mismatch(input, start, literals[bucketLiterals[b]]);
      if (compared < 0) {
        hits.add(bucketLiterals[b]);
      } else {
        work += 1 + compared;
      }
    }
    return work;
  }

  private static char fold(char c) {
    return c < 128 ? (c >= 'A' && c <= 'Z' ? (char) (c + 32) : c) : Folding.fold(c);
  }

  /**
   * Compares the literal, whose first two characters are known to match, with the input at {@code start}.
   *
   * @return -1 when it occurs there, otherwise the number of characters compared
   */
  private static int mismatch(String input, int start, char[] literal) {
    if (start + literal.length > input.length()) {
      return 0;
    }
    for (int i = 2; i < literal.length; i++) {
      if (fold(input.charAt(start + i)) != literal[i]) {
        return i - 1;
      }
    }
    return -1;
  }

  /** The window length: the shortest literal's. For tests. */
  int window() {
    return m;
  }
}
