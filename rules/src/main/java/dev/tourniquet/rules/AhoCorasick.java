package dev.tourniquet.rules;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An Aho-Corasick automaton over folded ASCII literals: one pass over an input reports every literal
 * that occurs in it, in time linear in the input plus the number of reports, however many literals there
 * are. Inputs are folded on the fly with {@link Folding}; a character outside ASCII after folding can be
 * part of no literal and sends the automaton back to its root.
 */
final class AhoCorasick {
  /** Callback for each literal found. */
  interface Hits {
    void hit(int literal);
  }

  private final int[] rootNext = new int[128];
  private final char[][] keys;
  private final int[][] next;
  private final int[] fail;
  /** Literals that end at a node. */
  private final int[][] outputs;
  /** The nearest node along the fail chain (excluding this one) that has outputs, or -1. */
  private final int[] outputLink;

  AhoCorasick(List<String> literals) {
    List<Map<Character, Integer>> children = new ArrayList<>();
    List<List<Integer>> out = new ArrayList<>();
    children.add(new HashMap<>());
    out.add(new ArrayList<>());
    for (int id = 0; id < literals.size(); id++) {
      String lit = literals.get(id);
      int node = 0;
      for (int i = 0; i < lit.length(); i++) {
        char c = lit.charAt(i);
        if (c >= 128) {
          throw new IllegalArgumentException("literal outside folded ASCII: " + lit);
        }
        Integer child = children.get(node).get(c);
        if (child == null) {
          child = children.size();
          children.add(new HashMap<>());
          out.add(new ArrayList<>());
          children.get(node).put(c, child);
        }
        node = child;
      }
      out.get(node).add(id);
    }
    int n = children.size();
    keys = new char[n][];
    next = new int[n][];
    outputs = new int[n][];
    fail = new int[n];
    outputLink = new int[n];
    for (int node = 0; node < n; node++) {
      Character[] ks = children.get(node).keySet().toArray(new Character[0]);
      Arrays.sort(ks);
      keys[node] = new char[ks.length];
      next[node] = new int[ks.length];
      for (int i = 0; i < ks.length; i++) {
        keys[node][i] = ks[i];
        next[node][i] = children.get(node).get(ks[i]);
      }
      outputs[node] = out.get(node).stream().mapToInt(Integer::intValue).toArray();
    }
    // Breadth-first: a node's fail link is the longest proper suffix of its string that is in the trie.
    ArrayDeque<Integer> queue = new ArrayDeque<>();
    outputLink[0] = -1;
    for (int i = 0; i < keys[0].length; i++) {
      int child = next[0][i];
      fail[child] = 0;
      outputLink[child] = -1;
      queue.add(child);
    }
    while (!queue.isEmpty()) {
      int node = queue.poll();
      for (int i = 0; i < keys[node].length; i++) {
        char c = keys[node][i];
        int child = next[node][i];
        int f = fail[node];
        int target;
        while ((target = child(f, c)) < 0 && f != 0) {
          f = fail[f];
        }
        fail[child] = target < 0 || target == child ? 0 : target;
        int fc = fail[child];
        outputLink[child] = outputs[fc].length > 0 ? fc : outputLink[fc];
        queue.add(child);
      }
    }
    Arrays.fill(rootNext, 0);
    for (int i = 0; i < keys[0].length; i++) {
      rootNext[keys[0][i]] = next[0][i];
    }
  }

  private int child(int node, char c) {
    char[] k = keys[node];
    int lo = 0;
    int hi = k.length - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      if (k[mid] < c) {
        lo = mid + 1;
      } else if (k[mid] > c) {
        hi = mid - 1;
      } else {
        return next[node][mid];
      }
    }
    return -1;
  }

  /** Reports every occurrence of every literal in the folded input. */
  void scan(String input, Hits hits) {
    int state = 0;
    for (int i = 0; i < input.length(); i++) {
      char c = Folding.fold(input.charAt(i));
      if (c >= 128) {
        state = 0;
        continue;
      }
      while (true) {
        if (state == 0) {
          state = rootNext[c];
          break;
        }
        int t = child(state, c);
        if (t >= 0) {
          state = t;
          break;
        }
        state = fail[state];
      }
      for (int s = outputs[state].length > 0 ? state : outputLink[state]; s > 0; s = outputLink[s]) {
        for (int literal : outputs[s]) {
          hits.hit(literal);
        }
      }
    }
  }

  int nodeCount() {
    return keys.length;
  }
}
