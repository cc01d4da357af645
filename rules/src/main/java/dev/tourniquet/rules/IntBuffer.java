package dev.tourniquet.rules;

import java.util.Arrays;

/** A growable list of ints, reused across requests by one thread so that a scan allocates nothing. */
final class IntBuffer {
  private int[] items;
  private int size;

  IntBuffer(int capacity) {
    items = new int[Math.max(4, capacity)];
  }

  void add(int value) {
    if (size == items.length) {
      items = Arrays.copyOf(items, size * 2);
    }
    items[size++] = value;
  }

  int get(int index) {
    return items[index];
  }

  int size() {
    return size;
  }

  void clear() {
    size = 0;
  }

  /** A copy of the items. */
  int[] toArray() {
    return Arrays.copyOf(items, size);
  }

  /** Sorts the items in ascending order. */
  void sort() {
    Arrays.sort(items, 0, size);
  }
}
