package dev.tourniquet.agent.enforce.servlet;

import dev.tourniquet.feed.mitigation.Mitigation;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * The running audit totals of one servlet target, across restarts of its application; no I/O
 * ({@link AuditTotalsFile} keeps them, {@link ServletEnforcer#auditHits} reads the filter's hits file).
 *
 * <p>The filter counts from 0 each time it starts, and says when in the hits file's {@code since}: one
 * {@code since} is one <em>run</em> of the application. Within a run its counts only grow. So the totals
 * are the counts last read of the current run plus those of the runs before it ({@code earlier}), and
 * {@link #observe} takes a reading:
 *
 * <ul>
 *   <li>of the current run: each count is the larger of the one held and the one read, so that reading the
 *       same file twice counts nothing twice and a count never goes down;
 *   <li>of a new run: the current run's counts move to {@code earlier} and the new run's become current.
 *       What the previous run counted after its last reading is lost, and so is the whole of a run that
 *       started and ended between two readings: only the filter could keep those;
 *   <li>of a run that already ended ({@link #MAX_ENDED} kept): ignored. An application redeployed side by
 *       side still runs its old filter, which may write the file after the new one; its counts are already
 *       in {@code earlier}, and taking them again would count them twice.
 * </ul>
 *
 * <p>The hits file is written by the application, often as a user the agent trusts less, so it is bounded
 * here too: at most {@link #MAX_KEYS} (mitigation, rule) pairs are kept, beyond which a new pair is added
 * only if its mitigation is one being audited, so forged names cannot crowd out real ones; counts saturate
 * at {@link Long#MAX_VALUE}.
 */
final class AuditTotals {
  /** The (mitigation, rule) pairs kept beyond which only pairs of mitigations being audited are added. */
  static final int MAX_KEYS = 4096;
  /** The longest rule name kept: rule names come from signed documents, far shorter in practice. */
  static final int MAX_RULE_CHARS = 1024;
  /** How many ended runs are remembered, to ignore their filter should it write again. */
  static final int MAX_ENDED = 32;

  /** A reading of the hits file: its run and its audit-mode counts per mitigation id and rule. */
  record Reading(Instant since, Map<String, Map<String, Long>> counts) {
    Reading {
      Objects.requireNonNull(since, "since");
      counts = copy(counts);
    }
  }

  /**
   * What is kept across agent restarts.
   *
   * @param run the run of the current counts; empty before the first reading
   * @param current its counts as last read
   * @param earlier the sum of the counts of the runs before it
   * @param ended the runs that ended, oldest first, at most {@link #MAX_ENDED}
   */
  record State(Optional<Instant> run, Map<String, Map<String, Long>> current, Map<String, Map<String, Long>> earlier,
      List<Instant> ended) {
    /**
     * Checks the state.
     *
     * @throws IllegalArgumentException if a name or count is out of range, there are current counts
     *     without a run, or too many ended runs
     */
    State {
      Objects.requireNonNull(run, "run");
      current = copy(current);
      earlier = copy(earlier);
      ended = List.copyOf(ended);
      if (run.isEmpty() && !current.isEmpty()) {
        throw new IllegalArgumentException("expected the run the current counts belong to but found counts without one");
      }
      if (ended.size() > MAX_ENDED) {
        throw new IllegalArgumentException("expected at most " + MAX_ENDED + " ended runs but found " + ended.size());
      }
    }

    static final State EMPTY = new State(Optional.empty(), Map.of(), Map.of(), List.of());
  }

  private Optional<Instant> run;
  private final Map<String, Map<String, Long>> current;
  private final Map<String, Map<String, Long>> earlier;
  private final Deque<Instant> ended;

  AuditTotals(State state) {
    run = state.run();
    current = mutable(state.current());
    earlier = mutable(state.earlier());
    ended = new ArrayDeque<>(state.ended());
  }

  /**
   * Takes a reading of the hits file.
   *
   * @param auditing tells whether a mitigation id is being audited now: its pairs are kept beyond the cap
   * @return whether the state changed (and should be saved)
   */
  boolean observe(Reading reading, Predicate<String> auditing) {
    Instant since = reading.since();
    if (ended.contains(since)) {
      return false; // an earlier run's filter, still writing: its counts are in `earlier` already
    }
    boolean changed = false;
    if (run.isPresent() && !run.get().equals(since)) {
      current.forEach((id, rules) -> rules.forEach((rule, count) -> add(earlier, id, rule, count)));
      current.clear();
      ended.addLast(run.get());
      while (ended.size() > MAX_ENDED) {
        ended.removeFirst();
      }
      changed = true;
    }
    if (run.isEmpty() || !run.get().equals(since)) {
      run = Optional.of(since);
      changed = true;
    }
    int keys = keys(); // counted once: a forged file may name many new pairs
    for (Map.Entry<String, Map<String, Long>> byId : reading.counts().entrySet()) {
      for (Map.Entry<String, Long> e : byId.getValue().entrySet()) {
        String id = byId.getKey();
        String rule = e.getKey();
        long held = current.getOrDefault(id, Map.of()).getOrDefault(rule, 0L);
        if (e.getValue() <= held) {
          continue; // within a run a count only grows: a smaller one is not a decrease to pass on
        }
        if (held == 0 && !known(id, rule)) {
          if (keys >= MAX_KEYS && !auditing.test(id)) {
            continue;
          }
          keys++;
        }
        current.computeIfAbsent(id, k -> new TreeMap<>()).put(rule, e.getValue());
        changed = true;
      }
    }
    return changed;
  }

  /** The totals: earlier runs' and the current run's, per mitigation id and rule. */
  Map<String, Map<String, Long>> totals() {
    Map<String, Map<String, Long>> out = mutable(earlier);
    current.forEach((id, rules) -> rules.forEach((rule, count) -> add(out, id, rule, count)));
    return out;
  }

  State state() {
    return new State(run, current, earlier, new ArrayList<>(ended));
  }

  /**
   * Why a mitigation id and rule name from the hits file or the saved totals cannot be kept, if so.
   */
  static Optional<String> nameProblem(String id, String rule) {
    Optional<String> idProblem = Mitigation.idProblem(id);
    if (idProblem.isPresent()) {
      return Optional.of("expected a mitigation id but found \"" + id + "\": " + idProblem.get());
    }
    if (rule.isEmpty() || rule.length() > MAX_RULE_CHARS) {
      return Optional.of("expected a rule name of 1 to " + MAX_RULE_CHARS + " characters but found one of "
          + rule.length());
    }
    return Optional.empty();
  }

  private boolean known(String id, String rule) {
    return earlier.getOrDefault(id, Map.of()).containsKey(rule);
  }

  private int keys() {
    int n = 0;
    for (Map<String, Long> rules : earlier.values()) {
      n += rules.size();
    }
    for (Map.Entry<String, Map<String, Long>> byId : current.entrySet()) {
      for (String rule : byId.getValue().keySet()) {
        if (!known(byId.getKey(), rule)) {
          n++;
        }
      }
    }
    return n;
  }

  private static void add(Map<String, Map<String, Long>> to, String id, String rule, long count) {
    to.computeIfAbsent(id, k -> new TreeMap<>()).merge(rule, count, AuditTotals::saturatingAdd);
  }

  private static long saturatingAdd(long a, long b) {
    long sum = a + b;
    return sum < 0 ? Long.MAX_VALUE : sum; // both are at least 0: an overflow is negative
  }

  private static Map<String, Map<String, Long>> mutable(Map<String, Map<String, Long>> counts) {
    Map<String, Map<String, Long>> out = new TreeMap<>();
    counts.forEach((id, rules) -> out.put(id, new TreeMap<>(rules)));
    return out;
  }

  private static Map<String, Map<String, Long>> copy(Map<String, Map<String, Long>> counts) {
    Map<String, Map<String, Long>> out = new TreeMap<>();
    counts.forEach((id, rules) -> {
      rules.forEach((rule, count) -> {
        Optional<String> problem = nameProblem(id, rule);
        if (problem.isPresent()) {
          throw new IllegalArgumentException(problem.get());
        }
        if (count == null || count < 0) {
          throw new IllegalArgumentException("expected counts of at least 0 but found " + id + " \"" + rule + "\": " + count);
        }
      });
      out.put(id, java.util.Collections.unmodifiableMap(new TreeMap<>(rules)));
    });
    return java.util.Collections.unmodifiableMap(out);
  }
}
