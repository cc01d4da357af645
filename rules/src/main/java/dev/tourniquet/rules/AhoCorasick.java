package dev.tourniquet.rules;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An Aho-Corasick automaton over folded ASCII literals: one pass over an input reports every literal
 * that occurs in it, in time linear in the input plus the number of reports, however many literals there
 * are. Inputs are folded with {@link Folding}; a character outside ASCII after folding can be part of no
 * literal and sends the automaton back to its root.
 *
 * <h2>Layout</h2>
 *
 * <p>The scan is the per-request cost every rule set pays, so its inner loop is one table load per
 * character. Characters are first mapped to a small alphabet: one class per folded character that occurs
 * in some literal, and class 0 for all others (from any state, a class-0 character leads to the root).
 * The states nearest the root, where a scan of ordinary text spends nearly all its time, get a dense row
 * of complete transitions ({@code delta[state * classes + class]}, failure links already followed); the
 * deep states, reached only while a long prefix of some literal matches, keep sorted child lists and
 * their failure link, which bounds the table's size for large rule sets.
 *
 * <p>The loop is bound by its carried dependency (state, then the load of the next state), so table
 * entries are not state numbers but <em>codes</em>: a dense state's row offset ({@code state * classes}),
 * ready to add the class to, or, for a sparse state, a number past the last row. A transition into a
 * state at which some literal ends is stored as the complement of its code, so the loop tests one sign.
 */
final class AhoCorasick {
  /** Most states with a dense row; about 0.2 MB per 1,000 states at 50 classes. */
  private static final int MAX_DENSE_STATES = 4096;

  /** Folded ASCII character to its class; 0 when no literal contains it. */
  private final byte[] classOf = new byte[128];
  private final int classes;
  private final int denseStates;
  /** Dense rows: for state s below {@code denseStates}, the next state's code per class (complemented if it has outputs). */
  private final int[] delta;
  /** The first code past the dense rows: codes from here on are sparse states. */
  private final int sparseBase;
  /** Sparse states: sorted child classes and targets (complemented if they have outputs), and the failure link. */
  private final byte[][] childClasses;
  private final int[][] childTargets;
  private final int[] fail;
  /** Every literal that ends at a state, its suffixes' included. */
  private final int[][] outputs;

  AhoCorasick(List<String> literals) {
    // The alphabet: every folded character used by a literal.
    TreeMap<Character, Integer> alphabet = new TreeMap<>();
    for (String lit : literals) {
      for (int i = 0; i < lit.length(); i++) {
        char c = lit.charAt(i);
        if (c >= 128 || Folding.fold(c) != c) {
          throw new IllegalArgumentException("literal outside folded ASCII: " + lit);
        }
        alphabet.putIfAbsent(c, 0);
      }
    }
    if (alphabet.size() > 126) {
      throw new IllegalArgumentException("alphabet of " + alphabet.size() + " classes; expected at most 126");
    }
    int nextClass = 1;
    for (Map.Entry<Character, Integer> e : alphabet.entrySet()) {
      e.setValue(nextClass++);
    }
    classes = nextClass;
    for (int c = 0; c < 128; c++) {
      Integer cls = alphabet.get(Folding.fold((char) c));
      classOf[c] = cls == null ? 0 : (byte) (int) cls;
    }

    // The trie.
    List<Map<Integer, Integer>> children = new ArrayList<>();
    List<List<Integer>> own = new ArrayList<>();
    children.add(new HashMap<>());
    own.add(new ArrayList<>());
    for (int id = 0; id < literals.size(); id++) {
      String lit = literals.get(id);
      int node = 0;
      for (int i = 0; i < lit.length(); i++) {
        int cls = classOf[lit.charAt(i)];
        Integer child = children.get(node).get(cls);
        if (child == null) {
          child = children.size();
          children.add(new HashMap<>());
          own.add(new ArrayList<>());
          children.get(node).put(cls, child);
        }
        node = child;
      }
      own.get(node).add(id);
    }
    int n = children.size();

    // Breadth-first renumbering, so that the states nearest the root come first and get the dense rows.
    int[] order = new int[n];
    int[] rank = new int[n];
    int[] failOld = new int[n];
    int head = 0;
    int tail = 0;
    order[tail++] = 0;
    while (head < tail) {
      int node = order[head++];
      for (int child : new TreeMap<>(children.get(node)).values()) {
        order[tail++] = child;
      }
    }
    for (int i = 0; i < n; i++) {
      rank[order[i]] = i;
    }

    // Failure links and output sets, in breadth-first order (a node's fail link is the longest proper
    // suffix of its string that is in the trie; its outputs are its own plus its fail link's).
    int[][] out = new int[n][];
    out[0] = new int[0];
    ArrayDeque<Integer> queue = new ArrayDeque<>();
    for (int child : children.get(0).values()) {
      failOld[child] = 0;
      queue.add(child);
    }
    while (!queue.isEmpty()) {
      int node = queue.poll();
      out[node] = concat(own.get(node), out[failOld[node]]);
      for (Map.Entry<Integer, Integer> e : children.get(node).entrySet()) {
        int cls = e.getKey();
        int child = e.getValue();
        int f = failOld[node];
        Integer target = children.get(f).get(cls);
        while (target == null && f != 0) {
          f = failOld[f];
          target = children.get(f).get(cls);
        }
        failOld[child] = target == null || target == child ? 0 : target;
        queue.add(child);
      }
    }

    outputs = new int[n][];
    fail = new int[n];
    childClasses = new byte[n][];
    childTargets = new int[n][];
    for (int old = 0; old < n; old++) {
      outputs[rank[old]] = out[old];
      fail[rank[old]] = rank[failOld[old]];
    }
    int dense = Math.min(n, MAX_DENSE_STATES);
    for (int old = 0; old < n; old++) {
      int s = rank[old];
      TreeMap<Integer, Integer> sorted = new TreeMap<>(children.get(old));
      childClasses[s] = new byte[sorted.size()];
      childTargets[s] = new int[sorted.size()];
      int k = 0;
      for (Map.Entry<Integer, Integer> e : sorted.entrySet()) {
        childClasses[s][k] = (byte) (int) e.getKey();
        childTargets[s][k] = encode(rank[e.getValue()], dense, classes);
        k++;
      }
    }
    denseStates = Math.min(n, MAX_DENSE_STATES);
    sparseBase = denseStates * classes;
    delta = new int[denseStates * classes];
    // Rows in breadth-first order: a state's fail link is shallower, so its row is already complete.
    for (int s = 0; s < denseStates; s++) {
      for (int cls = 1; cls < classes; cls++) {
        int child = child(s, cls);
        if (child != Integer.MIN_VALUE) {
          delta[s * classes + cls] = child;
        } else {
          delta[s * classes + cls] = s == 0 ? 0 : delta[fail[s] * classes + cls];
        }
      }
    }
  }

  private static int[] concat(List<Integer> own, int[] inherited) {
    int[] all = Arrays.copyOf(own.stream().mapToInt(Integer::intValue).toArray(), own.size() + inherited.length);
    System.arraycopy(inherited, 0, all, own.size(), inherited.length);
    return all;
  }

  /** A transition target's code, complemented when literals end there. */
  private int encode(int state, int dense, int classes) {
    int code = state < dense ? state * classes : dense * classes + (state - dense);
    return outputs[state].length > 0 ? ~code : code;
  }

  /** The state a (non-complemented) code stands for. */
  private int state(int code) {
    return code < sparseBase ? code / classes : denseStates + (code - sparseBase);
  }

  /** The encoded child of a state on a class, or {@link Integer#MIN_VALUE} when there is none. */
  private int child(int state, int cls) {
    byte[] k = childClasses[state];
    int lo = 0;
    int hi = k.length - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      if (k[mid] < cls) {
        lo = mid + 1;
      } else if (k[mid] > cls) {
        hi = mid - 1;
      } else {
        return childTargets[state][mid];
      }
    }
    return Integer.MIN_VALUE;
  }

  /** The encoded next code from a sparse state's code. */
  private int sparseStep(int code, int cls) {
    int s = state(code);
    while (s >= denseStates) {
      int t = child(s, cls);
      if (t != Integer.MIN_VALUE) {
        return t;
      }
      s = fail[s];
    }
    return delta[s * classes + cls];
  }

  /**
   * Scans the folded input and appends to {@code hits} every state reached at which some literal ends,
   * once per occurrence; {@link #outputs(int)} names the literals.
   */
  void scan(String input, IntBuffer hits) {
    int code = 0;
    for (int i = 0, n = input.length(); i < n; i++) {
      code = step(code, input.charAt(i), hits);
    }
  }

  /** One character: the next code, with a hit recorded when literals end there. */
  private int step(int code, char c, IntBuffer hits) {
    int cls;
    if (c < 128) {
      cls = classOf[c];
    } else {
      char f = Folding.fold(c);
      cls = f < 128 ? classOf[f] : 0;
    }
    int next = code < sparseBase ? delta[code + cls] : sparseStep(code, cls);
    if (next < 0) {
      next = ~next;
      hits.add(state(next));
    }
    return next;
  }

  /** The literals that end at a state reported by {@link #scan}. */
  int[] outputs(int state) {
    return outputs[state];
  }

  int nodeCount() {
    return outputs.length;
  }
}
