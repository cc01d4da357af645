package dev.tourniquet.rules;

import java.util.Arrays;

/** Builds sorted, disjoint code point ranges for {@link RegexNode.CharClass}. */
final class CharRanges {
  static final int MAX_CODE_POINT = Character.MAX_CODE_POINT;

  private int[] pairs = new int[8];
  private int size;

  void add(int lo, int hi) {
    if (size == pairs.length) {
      pairs = Arrays.copyOf(pairs, size * 2);
    }
    pairs[size++] = lo;
    pairs[size++] = hi;
  }

  void addAll(int[] ranges) {
    for (int i = 0; i < ranges.length; i += 2) {
      add(ranges[i], ranges[i + 1]);
    }
  }

  /** Sorted and merged. */
  int[] toArray() {
    int n = size / 2;
    long[] packed = new long[n];
    for (int i = 0; i < n; i++) {
      packed[i] = ((long) pairs[2 * i] << 32) | (pairs[2 * i + 1] & 0xFFFFFFFFL);
    }
    Arrays.sort(packed);
    int[] out = new int[size];
    int o = 0;
    for (long p : packed) {
      int lo = (int) (p >>> 32);
      int hi = (int) p;
      if (o > 0 && lo <= out[o - 1] + 1) {
        out[o - 1] = Math.max(out[o - 1], hi);
      } else {
        out[o++] = lo;
        out[o++] = hi;
      }
    }
    return Arrays.copyOf(out, o);
  }

  /** The complement of sorted, disjoint ranges within [0, MAX_CODE_POINT]. */
  static int[] negate(int[] ranges) {
    CharRanges out = new CharRanges();
    int next = 0;
    for (int i = 0; i < ranges.length; i += 2) {
      if (ranges[i] > next) {
        out.add(next, ranges[i] - 1);
      }
      next = ranges[i + 1] + 1;
    }
    if (next <= MAX_CODE_POINT) {
      out.add(next, MAX_CODE_POINT);
    }
    return out.toArray();
  }
}
