package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Mitigation;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * The agent's durable state: the server's local policy, what is applied on each target (with the
 * verified document of every applied revision, so protection survives a feed outage and a restart), the
 * revisions that failed on a target, and the health probes owed to changes no target had confirmed live
 * yet. A change in progress is not part of it: its intent is the audit log's line ({@link AuditLog}).
 *
 * @param local the server-level policy
 * @param targets per target, the applied mitigations by id
 * @param documents the verified document of every applied revision, by applied id ({@code M1.2})
 * @param failures revisions that failed or were refused on a target
 * @param probesDue changes made while their target had not confirmed them live, whose health probe runs
 *     once it does
 * @param highestApplied the highest revision of each id that a target of this server has run, kept after it is
 *     removed (withdrawn, fixed, blocked, removed by the operator): a revision never goes back, so the feed's
 *     document of an id below it is refused ({@link Planner}). Always at least every revision in {@code targets}
 */
record AgentState(LocalPolicy local, Map<String, Map<String, AppliedRef>> targets, Map<String, byte[]> documents,
    List<TargetFailure> failures, List<ProbeDue> probesDue, Map<String, Integer> highestApplied) {

  static final AgentState EMPTY = new AgentState(LocalPolicy.DEFAULT, Map.of(), Map.of(), List.of(), List.of(),
      Map.of());

  AgentState {
    Objects.requireNonNull(local, "local");
    Map<String, Map<String, AppliedRef>> t = new TreeMap<>();
    targets.forEach((k, v) -> t.put(k, Collections.unmodifiableMap(new TreeMap<>(v))));
    targets = Collections.unmodifiableMap(t);
    documents = Collections.unmodifiableMap(new TreeMap<>(documents));
    failures = List.copyOf(failures);
    probesDue = List.copyOf(probesDue);
    // What a target runs is applied: a state written before this memory existed starts it from what is applied.
    Map<String, Integer> h = new TreeMap<>(highestApplied);
    t.values().forEach(onTarget -> onTarget.forEach((id, ref) -> h.merge(id, ref.revision(), Math::max)));
    highestApplied = Collections.unmodifiableMap(h);
  }

  /**
   * One mitigation applied on a target.
   *
   * @param revision the applied revision
   * @param audit whether it runs in audit mode
   */
  record AppliedRef(int revision, boolean audit) {}

  /**
   * A revision that failed (or was refused) on a target; not retried until unblocked or revised.
   *
   * @param target the target
   * @param id the mitigation id
   * @param revision the revision
   * @param reason the message
   * @param refused whether the target refused it rather than failed
   */
  record TargetFailure(String target, String id, int revision, String reason, boolean refused) {}

  /**
   * A change whose health probe was skipped because its target had not confirmed it live: the probe runs
   * at the first check that finds it live, and a failure undoes the change then.
   *
   * @param target the target
   * @param id the mitigation id
   * @param revision the revision applied
   * @param previous what the target ran of this id before (an update), whose document is kept meanwhile so
   *     that undoing the change restores it
   */
  record ProbeDue(String target, String id, int revision, Optional<AppliedRef> previous) {
    ProbeDue {
      Objects.requireNonNull(previous, "previous");
    }

    String appliedId() {
      return id + "." + revision;
    }
  }

  Map<String, AppliedRef> on(String target) {
    return targets.getOrDefault(target, Map.of());
  }

  AgentState withLocal(LocalPolicy value) {
    return new AgentState(value, targets, documents, failures, probesDue, highestApplied);
  }

  /**
   * Records what a target now runs, keeping the documents of every revision still applied somewhere (or
   * to be restored if a probe due fails) and the probes due of changes still in place.
   */
  AgentState withTarget(String target, Map<String, AppliedRef> applied, Map<String, byte[]> newDocuments) {
    Map<String, Map<String, AppliedRef>> t = new TreeMap<>(targets);
    t.put(target, applied);
    return withTargets(t, newDocuments, probesDue);
  }

  /**
   * Owes a health probe to a change on a target. A change made on top of one of that id still owed a probe
   * replaces it but keeps what it replaced: if the probe fails, what goes back is what ran before the first
   * unprobed change (the last revision known to be healthy, or nothing), not an unprobed one in between.
   * Call it before the {@link #withTarget} that records the change: that keeps the document of the
   * revision to go back to, and drops the probe if the target does not run the change.
   */
  AgentState withProbeDue(ProbeDue due) {
    Predicate<ProbeDue> same = x -> x.target().equals(due.target()) && x.id().equals(due.id());
    Optional<ProbeDue> earlier = probesDue.stream().filter(same).findFirst();
    List<ProbeDue> p = new ArrayList<>(probesDue);
    p.removeIf(same);
    p.add(earlier.map(e -> new ProbeDue(due.target(), due.id(), due.revision(), e.previous())).orElse(due));
    return new AgentState(local, targets, documents, failures, p, highestApplied);
  }

  /** Forgets the probe owed to an id on a target (its probe ran, or a newer change of it was probed). */
  AgentState withoutProbeDue(String target, String id) {
    List<ProbeDue> p = new ArrayList<>(probesDue);
    p.removeIf(x -> x.target().equals(target) && x.id().equals(id));
    return withTargets(targets, Map.of(), p);
  }

  /** Forgets every probe owed on a target. */
  AgentState withoutProbesDue(String target) {
    List<ProbeDue> p = new ArrayList<>(probesDue);
    p.removeIf(x -> x.target().equals(target));
    return withTargets(targets, Map.of(), p);
  }

  /** The probes owed on a target. */
  List<ProbeDue> probesDue(String target) {
    return probesDue.stream().filter(p -> p.target().equals(target)).toList();
  }

  private AgentState withTargets(Map<String, Map<String, AppliedRef>> t, Map<String, byte[]> newDocuments,
      List<ProbeDue> due) {
    List<ProbeDue> still = due.stream().filter(p -> {
      AppliedRef now = t.getOrDefault(p.target(), Map.of()).get(p.id());
      return now != null && now.revision() == p.revision();
    }).toList();
    Map<String, byte[]> docs = new TreeMap<>(documents);
    docs.putAll(newDocuments);
    docs.keySet().retainAll(Stream.concat(
        t.values().stream().flatMap(m -> m.entrySet().stream().map(e -> e.getKey() + "." + e.getValue().revision())),
        still.stream().flatMap(p -> p.previous().stream().map(r -> p.id() + "." + r.revision()))).toList());
    return new AgentState(local, t, docs, failures, still, highestApplied);
  }

  AgentState withFailure(TargetFailure failure) {
    List<TargetFailure> f = new ArrayList<>(failures);
    f.removeIf(x -> x.target().equals(failure.target()) && x.id().equals(failure.id()));
    f.add(failure);
    return new AgentState(local, targets, documents, f, probesDue, highestApplied);
  }

  /** Forgets the failures of an id, so that the operator's unblock retries it. */
  AgentState withoutFailures(String id) {
    List<TargetFailure> f = new ArrayList<>(failures);
    f.removeIf(x -> x.id().equals(id));
    return new AgentState(local, targets, documents, f, probesDue, highestApplied);
  }

  /** Forgets the failure of an id on one target, once a revision of it applied there. */
  AgentState withoutFailure(String target, String id) {
    List<TargetFailure> f = new ArrayList<>(failures);
    f.removeIf(x -> x.target().equals(target) && x.id().equals(id));
    return new AgentState(local, targets, documents, f, probesDue, highestApplied);
  }

  Optional<TargetFailure> failure(String target, String id, int revision) {
    return failures.stream()
        .filter(f -> f.target().equals(target) && f.id().equals(id) && f.revision() == revision)
        .findFirst();
  }

  /** The highest revision of an id applied on any target. */
  Optional<Integer> appliedRevision(String id) {
    return targets.values().stream().map(m -> m.get(id)).filter(Objects::nonNull)
        .map(AppliedRef::revision).max(Integer::compare);
  }

  /** Whether the id at that revision runs in audit mode on the targets that have it. */
  boolean appliedAudit(String id, int revision) {
    return targets.values().stream().map(m -> m.get(id))
        .anyMatch(r -> r != null && r.revision() == revision && r.audit());
  }

  static String appliedId(Mitigation m) {
    return m.appliedId();
  }
}
