package dev.tourniquet.agent.enforce;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One enforcement target: a servlet enforcement file, an nginx include file, a service manager. The agent
 * configures each target by name and hands it the whole set of mitigations that should be active on it;
 * the enforcer converges the target on exactly that set.
 *
 * <p>Every implementation keeps these promises, which the agent relies on:
 *
 * <ul>
 *   <li><b>Idempotent</b>: converging twice on the same set changes nothing the second time (no reload, no
 *       restart) and succeeds.
 *   <li><b>Snapshot, verify, restore</b>: before changing anything it records what it is about to change;
 *       after changing it verifies the result (a syntax check, a reload, a service's state); if any step
 *       fails it restores the snapshot and throws {@link EnforcementException}, so the target is left as it
 *       was before the call.
 *   <li><b>Exact or refused</b>: an action the target cannot enforce exactly is refused by {@link #refusal}
 *       before anything is applied, never approximated.
 *   <li><b>Crash safe</b>: anything an enforcer must remember across restarts (e.g. a service's state
 *       before it was disabled) it keeps in its own directory, written atomically, so that an agent killed
 *       at any moment converges on restart.
 * </ul>
 *
 * <p>Implementations are called from the agent's single worker thread; they need not be thread-safe.
 */
public interface Enforcer {

  /**
   * Returns the target's name from the agent's configuration, e.g. {@code web-nginx}.
   *
   * @return the name, used in status, audit log and errors
   */
  String target();

  /**
   * Tells whether this target has anything to do for an action kind ({@code request-rules},
   * {@code response-rules}, {@code disable-service}, {@code disable-endpoint}, {@code auth-policy}).
   *
   * @param kind the action's kind
   * @return true if the target enforces actions of that kind
   */
  boolean handles(String kind);

  /**
   * Tells why this target cannot enforce a mitigation exactly, if it cannot.
   *
   * @param mitigation the mitigation, with the mode it would run in
   * @return a reason naming the action and the construct, or empty if the target can enforce every action
   *     of the mitigation that it {@link #handles}
   */
  Optional<String> refusal(ActiveMitigation mitigation);

  /**
   * Converges the target on exactly these mitigations (those it does not handle any action of are
   * ignored). Mitigations in {@link ActiveMitigation#audit() audit} mode are matched and counted but never
   * block, where the target can count; where it cannot, audit mode applies nothing.
   *
   * @param active every mitigation that should be active on this target, sorted by id
   * @throws EnforcementException if the target could not be converged; it has then been restored to the
   *     state it was in before the call (the exception says if even that failed)
   */
  void converge(List<ActiveMitigation> active) throws EnforcementException;

  /**
   * Says whether what the target holds now is not live, and why, asking the target now: not confirmed (e.g.
   * the servlet filter has not acknowledged the current enforcement file because the application is not
   * running) or rejected after {@link #converge} returned (e.g. a servlet filter that started later refused
   * the file: it keeps enforcing what it loaded before, if anything, so the mitigations in it do not
   * protect). Nothing is changed or removed by asking, and the answer goes away by itself once the target
   * confirms. Right after a {@link #converge} that changed the target, an unconfirmed answer means the
   * change stays in place unverified: the agent skips the health probe, which would probe the old
   * configuration or nothing. Cheap enough to call for every status.
   *
   * @return why it is not live, or empty if the target confirmed what it holds or cannot tell
   */
  default Optional<NotLive> notLive() {
    return Optional.empty();
  }

  /**
   * Why what a target holds is not live.
   *
   * @param reason in words: a note starting {@code not confirmed live: }, or the target's error naming what
   *     it rejected
   * @param rejected whether the target refused it (rather than not having confirmed it yet)
   */
  record NotLive(String reason, boolean rejected) {
    /**
     * Checks the reason.
     *
     * @throws NullPointerException if the reason is null
     */
    public NotLive {
      java.util.Objects.requireNonNull(reason, "reason");
    }
  }

  /**
   * Returns the audit-mode hit counters the target has recorded since it started counting.
   *
   * @return mitigation id to rule name to number of matches; empty if the target does not count
   */
  default Map<String, Map<String, Long>> auditHits() {
    return Map.of();
  }
}
