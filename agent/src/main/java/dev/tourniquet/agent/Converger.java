package dev.tourniquet.agent;

import dev.tourniquet.agent.AgentState.AppliedRef;
import dev.tourniquet.agent.AgentState.ProbeDue;
import dev.tourniquet.agent.AgentState.TargetFailure;
import dev.tourniquet.agent.Plan.Decision;
import dev.tourniquet.agent.Plan.Step;
import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.EnforcementException;
import dev.tourniquet.agent.enforce.Enforcer;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Mitigation;
import java.io.IOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries a {@link Plan} out on the targets, one mitigation at a time per target: an intent line in the
 * audit log (forced to disk) before every change, the new state in {@code state.json} after it, then the
 * outcome line.
 *
 * <p>Crash safety: {@link #recover} converges every target on the recorded state, so a change that was
 * interrupted before its completion was recorded is undone (enforcers are idempotent, so targets that were
 * not touched stay as they are); the next plan then makes it again, once. The intent line lets the audit
 * log say so.
 *
 * <p>Held targets: an applied revision whose document in {@code state.json} this agent version cannot read
 * (an earlier version applied it, most likely validating less strictly) cannot be rendered, and an enforcer
 * is always given a target's whole set. So a target that has one is never converged on a set that keeps it:
 * not at recovery, and not for a change of another mitigation there (that change waits, with its reason in
 * the status, and is made once the revision is gone). The target keeps enforcing it exactly as the earlier
 * version left it. Changes that drop it need no document and go ahead: a newer revision replacing it, or its
 * removal (blocked, removed by an operator, withdrawn, fixed). A rollback that would need it cannot be made,
 * and the failure says so. Every other target converges as usual. The log says each hold and each waiting
 * change once, and again when it changes, not at every check.
 */
final class Converger {
  private static final Logger LOG = LoggerFactory.getLogger(Converger.class);
  /** What the audit log adds to a change its target has not confirmed live when the target has a probe. */
  private static final String PROBE_DEFERRED = "health probe deferred until the target confirms it live";

  private final List<Target> targets;
  private final StateStore store;
  private final AuditLog audit;
  private final Clock clock;
  private final Hook hook;
  /** Removal failures of the last run, by id: "target: message". */
  private final Map<String, List<String>> removalProblems = new TreeMap<>();
  /** Changes of the last run that wait because their target holds a revision it cannot render, by id: "target: why". */
  private final Map<String, List<String>> waiting = new TreeMap<>();
  /** What the last run logged about holds and waiting changes, by subject: logged again only when it changes. */
  private Map<String, String> logged = Map.of();
  /** What this run has logged so far, by subject. */
  private Map<String, String> logging = new HashMap<>();
  /** The state the last {@link #execute} saved last, or started from: what {@code state.json} holds. */
  private AgentState recorded;
  /**
   * Per target, what it runs since a change whose state could not be saved ({@code state.json} on a full or
   * failing disk): the next {@link #execute} records it before anything else, so that what follows (a
   * removal, say) is planned, made and audited from what the target runs, not from the state before.
   */
  private final Map<String, Unrecorded> unrecorded = new TreeMap<>();

  /** What a target runs that {@code state.json} does not record, with the documents of those revisions. */
  private record Unrecorded(Map<String, AppliedRef> applied, Map<String, byte[]> documents) {}

  Converger(List<Target> targets, StateStore store, AuditLog audit, Clock clock, Hook hook) {
    this.targets = List.copyOf(targets);
    this.store = store;
    this.audit = audit;
    this.clock = clock;
    this.hook = hook;
  }

  /**
   * Named points between the steps of a change, for the crash tests: {@code intent} (intent recorded, the
   * target not yet touched) and {@code converged} (the target changed, completion not yet recorded).
   */
  @FunctionalInterface
  interface Hook {
    Hook NONE = (point, target, appliedId) -> {};

    void at(String point, String target, String appliedId);
  }

  List<Target> targets() {
    return targets;
  }

  Map<String, List<String>> removalProblems() {
    return removalProblems;
  }

  /** Changes the last run could not make because their target is held, by id: "target: why". */
  Map<String, List<String>> waiting() {
    return waiting;
  }

  /**
   * Converges every target on the recorded state. If the audit log ends with an intent, the agent stopped
   * before that change's outcome: an {@code interrupted} line says so, and whether the change was recorded
   * (then it stays) or not (then converging undoes whatever part of it was made, and the next plan makes
   * it again). A held target is not converged: it stays exactly as it is.
   */
  AgentState recover(AgentState state) throws IOException {
    StateStore.Documents docs = store.parseDocuments(state);
    Optional<AuditLog.Entry> last = audit.lastEntry();
    if (last.isPresent() && last.get().outcome().equals("intent")) {
      AuditLog.Entry i = last.get();
      audit.append(clock.instant(), i.mitigation(), i.action(), i.target(), "interrupted", recorded(state, i)
          ? "the agent stopped after the change was made and recorded, before its outcome was logged"
          : unreadableIn(state.on(i.target()), docs.unreadable()).isPresent()
              ? "the agent stopped between intent and completion; the target holds a revision this agent version"
                  + " cannot read, so it is left as it is, and the next check makes the change again"
              : "the agent stopped between intent and completion; the target is converged on the recorded state");
    }
    logging = new HashMap<>();
    try {
      for (Target t : targets) {
        if (logHolds(t.name(), state.on(t.name()), docs.unreadable())) {
          continue;
        }
        try {
          t.enforcer().converge(active(state.on(t.name()), docs.readable()));
        } catch (EnforcementException e) {
          LOG.error("target {}: could not converge on the recorded state at start: {}", t.name(), e.getMessage());
          audit.append(clock.instant(), "-", "recover", t.name(), "failed", e.getMessage());
        }
      }
    } finally {
      logged = logging;
    }
    return state;
  }

  /** Whether the state records the outcome the intent was for. */
  private static boolean recorded(AgentState state, AuditLog.Entry intent) {
    int dot = intent.mitigation().lastIndexOf('.');
    if (dot < 0) {
      return false;
    }
    AppliedRef ref = state.on(intent.target()).get(intent.mitigation().substring(0, dot));
    boolean applied = ref != null && intent.mitigation().substring(dot + 1).equals(String.valueOf(ref.revision()));
    return intent.action().equals("remove") ? ref == null : applied;
  }

  /**
   * The state the last {@link #execute} recorded, for a caller whose {@code execute} threw: the changes made
   * and saved before the failure are in {@code state.json} and on the targets, so the agent must plan (and
   * save its next command) from this state, not from the one before the check.
   */
  AgentState recorded() {
    return recorded;
  }

  /** Carries out the plan on every target; returns the new state (saved after every change). */
  AgentState execute(Plan plan, AgentState state) throws IOException {
    removalProblems.clear();
    waiting.clear();
    recorded = state;
    state = recordUnrecorded(state);
    StateStore.Documents stored = store.parseDocuments(state);
    Map<String, Mitigation> docs = new HashMap<>(stored.readable());
    Map<String, Step> desired = new TreeMap<>();
    for (Step s : plan.steps()) {
      if (s.desired().isPresent()) {
        desired.put(s.id(), s);
        docs.put(s.desired().get().appliedId(), s.desired().get());
      }
    }
    logging = new HashMap<>();
    try {
      for (Target t : targets) {
        state = convergeTarget(t, desired, plan, state, docs, stored.unreadable());
      }
    } finally {
      logged = logging;
    }
    return state;
  }

  /**
   * Converges one target on the plan: removals first, then applies and updates, one at a time.
   *
   * @param unreadable the applied revisions whose documents this version cannot read, with why: a set that
   *     keeps one of them is never rendered, whatever {@code docs} holds under its applied id (the feed's
   *     document of that revision would be this version's reading, not what the target enforces)
   */
  private AgentState convergeTarget(Target t, Map<String, Step> desired, Plan plan, AgentState state,
      Map<String, Mitigation> docs, Map<String, String> unreadable) throws IOException {
    String name = t.name();
    Map<String, Step> steps = new HashMap<>();
    plan.steps().forEach(s -> steps.put(s.id(), s));
    logHolds(name, state.on(name), unreadable);
    // Removals first: an id applied here that should no longer be, or no longer here.
    for (String id : new ArrayList<>(state.on(name).keySet())) {
      Step want = desired.get(id);
      if (want != null && handles(t, want.desired().get())) {
        continue;
      }
      Step step = steps.get(id);
      if (want == null && step != null && step.decision() == Decision.KEEP) {
        continue; // kept without a document (this version cannot read the one kept): it stays as it is here
      }
      AppliedRef ref = state.on(name).get(id);
      Map<String, AppliedRef> next = new TreeMap<>(state.on(name));
      next.remove(id);
      String appliedId = id + "." + ref.revision();
      String reason = step == null ? "no target handles it any more" : step.reason();
      if (waits(name, id, "remove " + appliedId, next, unreadable)) {
        continue;
      }
      intent(name, appliedId, "remove", reason);
      hook.at("intent", name, appliedId);
      try {
        t.enforcer().converge(active(next, docs));
        hook.at("converged", name, appliedId);
        state = state.withTarget(name, next, Map.of());
        saveChange(name, state);
        audit.append(clock.instant(), appliedId, "remove", name, "removed", reason);
      } catch (EnforcementException | RuntimeException e) {
        // Nothing recorded changes: the mitigation stays recorded as applied, and removal is tried again.
        String message = describe(e);
        audit.append(clock.instant(), appliedId, "remove", name, "failed", message);
        removalProblems.computeIfAbsent(id, k -> new ArrayList<>()).add(name + ": " + message);
        if (e instanceof RuntimeException) {
          LOG.error("target {}: removing {} failed: {}", name, appliedId, message, e);
        } else {
          LOG.error("target {}: removing {} failed: {}", name, appliedId, message);
        }
      }
    }
    // Then applies and updates, one at a time.
    for (Step step : desired.values()) {
      Mitigation m = step.desired().get();
      if (!handles(t, m)) {
        continue;
      }
      AppliedRef current = state.on(name).get(step.id());
      AppliedRef wanted = new AppliedRef(m.revision(), step.audit());
      if (wanted.equals(current)) {
        continue;
      }
      if (state.failure(name, step.id(), m.revision()).isPresent()) {
        continue; // not retried until an operator unblocks it or a new revision comes
      }
      ActiveMitigation candidate = new ActiveMitigation(m, step.audit());
      Optional<String> refusal = t.enforcer().refusal(candidate);
      if (refusal.isPresent()) {
        state = state.withFailure(new TargetFailure(name, step.id(), m.revision(), refusal.get(), true));
        saveChange(name, state);
        audit.append(clock.instant(), m.appliedId(), "apply", name, "refused", refusal.get());
        continue;
      }
      String action = current == null ? "apply" : "update";
      Map<String, AppliedRef> before = state.on(name);
      Map<String, AppliedRef> next = new TreeMap<>(before);
      next.put(step.id(), wanted);
      if (waits(name, step.id(), action + " " + m.appliedId(), next, unreadable)) {
        continue;
      }
      intent(name, m.appliedId(), action, step.reason());
      hook.at("intent", name, m.appliedId());
      Optional<String> problem;
      Optional<String> unverified = Optional.empty();
      // A probe that fails after the target took the change, when what ran before cannot be written again.
      boolean changeStays = false;
      try {
        t.enforcer().converge(active(next, docs));
        unverified = t.enforcer().notLive().filter(n -> !n.rejected()).map(Enforcer.NotLive::reason);
        // Not confirmed live: a probe would see the old configuration (or nothing) and decide wrongly.
        problem = unverified.isPresent() ? Optional.empty() : t.probe().flatMap(HealthProbe::check);
        if (problem.isPresent()) {
          changeStays = unreadableIn(before, unreadable).isPresent();
          problem = Optional.of(rollBack(t, before, docs, unreadable, problem.get()));
        }
        hook.at("converged", name, m.appliedId());
      } catch (EnforcementException e) {
        problem = Optional.of(e.restored() ? e.getMessage() : e.getMessage() + " (the target could not be restored: check it)");
      } catch (RuntimeException e) {
        // An enforcer (or probe) that breaks its contract, a bug or a custom target's, fails this mitigation on
        // this target like an enforcer error, instead of ending the check before every mitigation and target
        // after it (a new emergency mitigation never applied, a block never removing); what ran is put back.
        LOG.error("target {}: {} {} failed unexpectedly", name, action, m.appliedId(), e);
        problem = Optional.of(rollBack(t, before, docs, unreadable, describe(e)));
      }
      if (changeStays) {
        // The target runs the change (the revision it replaced cannot be written again): the state says so, and
        // the failure keeps it from being made again until unblocked or revised.
        state = state.withTarget(name, next, Map.of(m.appliedId(), store.document(m))).withoutProbeDue(name, step.id())
            .withFailure(new TargetFailure(name, step.id(), m.revision(), problem.get(), false));
        saveChange(name, state);
        audit.append(clock.instant(), m.appliedId(), action, name, "failed", problem.get());
        LOG.error("target {}: {} {} failed: {}", name, action, m.appliedId(), problem.get());
      } else if (problem.isEmpty()) {
        boolean probeDue = unverified.isPresent() && t.probe().isPresent();
        state = probeDue ? state.withProbeDue(new ProbeDue(name, step.id(), m.revision(), Optional.ofNullable(current)))
            : state.withoutProbeDue(name, step.id());
        state = state.withTarget(name, next, Map.of(m.appliedId(), store.document(m)))
            .withoutFailure(name, step.id());
        saveChange(name, state);
        audit.append(clock.instant(), m.appliedId(), action, name, step.audit() ? "audit" : "applied",
            step.reason() + unverified.map(n -> "; " + n + (probeDue ? "; " + PROBE_DEFERRED : "")).orElse(""));
      } else {
        state = state.withFailure(new TargetFailure(name, step.id(), m.revision(), problem.get(), false));
        saveChange(name, state);
        audit.append(clock.instant(), m.appliedId(), action, name, "failed", problem.get());
        LOG.error("target {}: {} {} failed: {}", name, action, m.appliedId(), problem.get());
      }
    }
    return probeWhenLive(t, state, docs, unreadable);
  }

  /**
   * Runs the health probe owed to the changes made while the target had not confirmed them live, at the
   * first check that finds them live. Healthy: nothing more is owed. Not healthy: those changes are undone
   * (an update back to the revision it replaced, an apply removed) and each is marked Failed with the
   * probe's answer, not retried until unblocked or revised, as if the probe had failed when they were made.
   */
  private AgentState probeWhenLive(Target t, AgentState state, Map<String, Mitigation> docs,
      Map<String, String> unreadable) throws IOException {
    String name = t.name();
    List<ProbeDue> due = state.probesDue(name);
    if (due.isEmpty() || t.enforcer().notLive().isPresent()) {
      return state; // nothing owed, or still not live (a rejection is the enforcer's to report and undo)
    }
    if (t.probe().isEmpty()) { // the probe was taken out of the configuration since
      state = state.withoutProbesDue(name);
      saveChange(name, state);
      return state;
    }
    Optional<String> problem = t.probe().get().check();
    String changes = due.stream().map(ProbeDue::appliedId).collect(Collectors.joining(", "));
    if (problem.isEmpty()) {
      state = state.withoutProbesDue(name);
      saveChange(name, state);
      for (ProbeDue d : due) {
        audit.append(clock.instant(), d.appliedId(), "probe", name, "healthy",
            "health probe passed once the target confirmed " + changes + " live");
      }
      return state;
    }
    Map<String, AppliedRef> undone = new TreeMap<>(state.on(name));
    for (ProbeDue d : due) {
      undone.remove(d.id());
      d.previous().filter(r -> docs.containsKey(d.id() + "." + r.revision()) || unreadable.containsKey(d.id() + "." + r.revision()))
          .ifPresent(r -> undone.put(d.id(), r));
    }
    String found = problem.get() + " once the target confirmed " + changes + " live";
    boolean undoable = unreadableIn(undone, unreadable).isEmpty();
    // If what to go back to cannot be written, nothing is undone, and the state records what the target runs.
    String reason = undoable ? rollBack(t, undone, docs, unreadable, found) : notRolledBack(found, undone, unreadable);
    state = state.withTarget(name, undoable ? undone : state.on(name), Map.of()).withoutProbesDue(name);
    for (ProbeDue d : due) {
      state = state.withFailure(new TargetFailure(name, d.id(), d.revision(), reason, false));
    }
    saveChange(name, state);
    for (ProbeDue d : due) {
      audit.append(clock.instant(), d.appliedId(), "probe", name, "failed", reason);
    }
    LOG.error("target {}: {} failed: {}", name, changes, reason);
    return state;
  }

  private void save(AgentState state) throws IOException {
    store.save(state);
    recorded = state;
  }

  /**
   * Saves the state after a step on a target. If it cannot be saved and the target changed, what the target
   * now runs is remembered (and the audit log says so) for the next {@link #execute} to record first: else
   * the next plan would start from the state before, and a change made on that target later would drop the
   * unrecorded revision without a word, or the target would keep running one that is no longer wanted.
   */
  private void saveChange(String target, AgentState state) throws IOException {
    try {
      save(state);
    } catch (IOException e) {
      Map<String, AppliedRef> runs = state.on(target);
      if (!runs.equals(recorded.on(target))) {
        Map<String, byte[]> documents = new TreeMap<>();
        runs.forEach((id, ref) -> Optional.ofNullable(state.documents().get(id + "." + ref.revision()))
            .ifPresent(bytes -> documents.put(id + "." + ref.revision(), bytes)));
        unrecorded.put(target, new Unrecorded(runs, documents));
        try {
          audit.append(clock.instant(), "-", "record", target, "failed", target + " runs " + describe(runs)
              + " but that could not be recorded in " + store.stateFile() + " (" + e.getMessage() + "); the next check"
              + " records it first");
        } catch (IOException also) {
          e.addSuppressed(also);
        }
      }
      throw e;
    }
  }

  /** Records first what targets run since a change whose state could not be saved (see {@link #saveChange}). */
  private AgentState recordUnrecorded(AgentState state) throws IOException {
    if (unrecorded.isEmpty()) {
      return state;
    }
    AgentState next = state;
    for (Map.Entry<String, Unrecorded> u : unrecorded.entrySet()) {
      next = next.withTarget(u.getKey(), u.getValue().applied(), u.getValue().documents());
    }
    save(next);
    for (Map.Entry<String, Unrecorded> u : unrecorded.entrySet()) {
      audit.append(clock.instant(), "-", "record", u.getKey(), "recorded", u.getKey() + " runs "
          + describe(u.getValue().applied()) + " since the last check, which could not record it then");
    }
    unrecorded.clear();
    return next;
  }

  private static String describe(Map<String, AppliedRef> applied) {
    return applied.isEmpty() ? "no mitigation" : applied.entrySet().stream()
        .map(e -> e.getKey() + "." + e.getValue().revision() + (e.getValue().audit() ? " (audit)" : ""))
        .collect(Collectors.joining(", "));
  }

  private String rollBack(Target t, Map<String, AppliedRef> before, Map<String, Mitigation> docs,
      Map<String, String> unreadable, String problem) throws IOException {
    if (unreadableIn(before, unreadable).isPresent()) {
      return notRolledBack(problem, before, unreadable);
    }
    try {
      t.enforcer().converge(active(before, docs));
      return problem + "; rolled back";
    } catch (EnforcementException | RuntimeException e) {
      return problem + "; rolling back failed too: " + describe(e);
    }
  }

  /** A problem that would be rolled back but cannot be: what ran before keeps a revision this version cannot read. */
  private static String notRolledBack(String problem, Map<String, AppliedRef> before, Map<String, String> unreadable) {
    String appliedId = unreadableIn(before, unreadable).orElseThrow();
    return problem + "; not rolled back: what ran before includes " + appliedId + ", whose document this agent"
        + " version cannot read (" + unreadable.get(appliedId) + "), so it cannot be written again: check the target";
  }

  /** The first applied revision of a set whose document this version cannot read, if any. */
  private static Optional<String> unreadableIn(Map<String, AppliedRef> applied, Map<String, String> unreadable) {
    return new TreeMap<>(applied).entrySet().stream().map(e -> e.getKey() + "." + e.getValue().revision())
        .filter(unreadable::containsKey).findFirst();
  }

  /**
   * Logs (once, see {@link #logged}) every revision a target holds because this version cannot read it.
   *
   * @return whether the target holds any
   */
  private boolean logHolds(String target, Map<String, AppliedRef> applied, Map<String, String> unreadable) {
    boolean any = false;
    for (Map.Entry<String, AppliedRef> e : new TreeMap<>(applied).entrySet()) {
      String appliedId = e.getKey() + "." + e.getValue().revision();
      if (unreadable.containsKey(appliedId)) {
        log("hold " + target + " " + appliedId, "target " + target + ": " + held(target, appliedId, unreadable.get(appliedId)));
        any = true;
      }
    }
    return any;
  }

  /**
   * Whether a change must wait because the set it would render keeps a revision this version cannot read;
   * if so, says why in {@link #waiting} and (once) in the log.
   */
  private boolean waits(String target, String id, String change, Map<String, AppliedRef> next,
      Map<String, String> unreadable) {
    Optional<String> kept = unreadableIn(next, unreadable);
    if (kept.isEmpty()) {
      return false;
    }
    String keptId = kept.get().substring(0, kept.get().lastIndexOf('.'));
    String why = target + ": the set it would run keeps " + kept.get() + ", whose document this agent version cannot"
        + " read, so it cannot be written; " + change + " waits until the feed publishes a revision of " + keptId
        + " this version accepts, or " + keptId + " is blocked or removed";
    waiting.computeIfAbsent(id, k -> new ArrayList<>()).add(why);
    log("wait " + target + " " + change, "target " + why);
    return true;
  }

  /** Logs a message about a subject at WARN unless the last run logged the same one. */
  private void log(String subject, String message) {
    logging.put(subject, message);
    if (!message.equals(logged.get(subject))) {
      LOG.warn("{}", message);
    }
  }

  /**
   * What the status and the log say of a revision held on a target.
   *
   * @param target the target
   * @param appliedId the revision, e.g. {@code M1.1}
   * @param why the parse error, naming {@code state.json}, the document and the field
   */
  static String held(String target, String appliedId, String why) {
    String id = appliedId.substring(0, appliedId.lastIndexOf('.'));
    return "held on " + target + ": " + why + "; " + target + " keeps enforcing " + appliedId + " as the agent version"
        + " that applied it left it, and no change there that would keep it is made until the feed publishes a"
        + " revision of " + id + " this version accepts, or " + id + " is blocked or removed";
  }

  /** An enforcer's message; for what an enforcer must not throw, the exception's type too. */
  private static String describe(Exception e) {
    return e instanceof EnforcementException ? e.getMessage() : "failed unexpectedly: " + e;
  }

  /**
   * Records a change about to be made: its audit line, forced to disk before the target is touched, is
   * what {@link #recover} finds last if the agent stops before the outcome.
   */
  private void intent(String target, String appliedId, String action, String reason) throws IOException {
    audit.append(clock.instant(), appliedId, action, target, "intent", reason);
  }

  static boolean handles(Target t, Mitigation m) {
    for (Action a : m.actions()) {
      if (t.enforcer().handles(a.kind())) {
        return true;
      }
    }
    return false;
  }

  static List<ActiveMitigation> active(Map<String, AppliedRef> applied, Map<String, Mitigation> docs) throws IOException {
    List<ActiveMitigation> list = new ArrayList<>();
    for (Map.Entry<String, AppliedRef> e : new TreeMap<>(applied).entrySet()) {
      Mitigation m = docs.get(e.getKey() + "." + e.getValue().revision());
      if (m == null) {
        throw new IOException("state.json: " + e.getKey() + "." + e.getValue().revision()
            + " is applied but its document is missing");
      }
      list.add(new ActiveMitigation(m, e.getValue().audit()));
    }
    return list;
  }
}
