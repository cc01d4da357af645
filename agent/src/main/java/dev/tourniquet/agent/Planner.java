package dev.tourniquet.agent;

import dev.tourniquet.agent.Plan.Decision;
import dev.tourniquet.agent.Plan.Step;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.Version;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Decides, as a pure function of (verified feed, policy, host facts, applied state, now), what to do with
 * every mitigation, with one reason each. No I/O, no clock: the loop gathers the inputs and the
 * {@link Converger} carries the plan out.
 *
 * <p>The order of the checks is the order of precedence, and it encodes the rules of the issue:
 *
 * <ol>
 *   <li>An id whose document in the feed is invalid keeps its applied revision (a broken target never
 *       removes protection) unless an administrator blocked or removed it, and is otherwise Failed. So does
 *       one whose revision is below the highest this server ever applied (removed since or not): a revision
 *       never goes back.
 *   <li>Withdrawn from the feed, expired, another product, or not applicable to the installed version:
 *       removed if applied (automatically after patching), otherwise NotApplicable.
 *   <li>Blocked (organisation, then server): removed if applied.
 *   <li>Removed by an operator: stays off until unblocked or a higher revision is published.
 *   <li>A revision that failed: not retried until unblocked or revised; an older applied revision stays.
 *   <li>Already applied in the wanted revision and mode: kept, even when mitigations are disabled
 *       (Exchange semantics: disabling does not remove what is applied).
 *   <li>Held for the server's rollout ring, or mitigations disabled: nothing new (Detected).
 *   <li>Otherwise apply, or update to the new revision or mode.
 * </ol>
 */
final class Planner {
  private Planner() {}

  /**
   * The policy in effect: the organisation's and the server's.
   *
   * @param org the organisation's policy
   * @param local the server's policy
   */
  record Policy(OrgPolicy org, LocalPolicy local) {}

  /**
   * The applied state as the planner sees it.
   *
   * @param applied applied mitigations by id (the revision on at least one target) with their mode
   * @param failed revisions that failed, by id: revision and reason
   * @param highest the highest revision of each id this server ever applied, removed since or not
   */
  record Applied(Map<String, AppliedMitigation> applied, Map<String, Failure> failed, Map<String, Integer> highest) {}

  /**
   * A mitigation applied on at least one target.
   *
   * @param revision the applied revision
   * @param audit whether it runs in audit mode
   * @param mitigation its document; empty if this agent version cannot read the one {@code state.json} keeps
   *     (an earlier version applied it): then it is kept, with no document, unless a step replaces or
   *     removes it, which needs none
   */
  record AppliedMitigation(int revision, boolean audit, Optional<Mitigation> mitigation) {
    AppliedMitigation {
      Objects.requireNonNull(mitigation, "mitigation");
    }

    AppliedMitigation(Mitigation mitigation, boolean audit) {
      this(mitigation.revision(), audit, Optional.of(mitigation));
    }
  }

  /**
   * A revision that failed on every target that handles it.
   *
   * @param revision the revision
   * @param reason the enforcer's or the probe's message
   * @param refused true if the target refused it ({@code Enforcer.refusal}) rather than failed to apply it
   */
  record Failure(int revision, String reason, boolean refused) {}

  static Plan plan(FeedView feed, Policy policy, HostFacts host, Applied state, Instant now) {
    Set<String> ids = new TreeSet<>();
    ids.addAll(feed.mitigations().keySet());
    ids.addAll(feed.rejected().keySet());
    ids.addAll(state.applied().keySet());
    List<Step> steps = new ArrayList<>();
    for (String id : ids) {
      steps.add(step(id, feed, policy, host, state, now));
    }
    return new Plan(steps);
  }

  private static Step step(String id, FeedView feed, Policy policy, HostFacts host, Applied state, Instant now) {
    AppliedMitigation applied = state.applied().get(id);
    Mitigation m = feed.mitigations().get(id);
    Optional<Mitigation> inFeed = Optional.ofNullable(m);

    String invalid = feed.rejected().get(id);
    if (invalid != null) {
      if (applied == null) {
        return skip(id, Status.FAILED, "failed: invalid document in the feed: " + invalid, inFeed);
      }
      // An administrator's block or removal needs no document: it removes, whatever the feed holds.
      return keepUnlessRemovedByAdmin(id, applied, policy, inFeed, "the feed's document is invalid: " + invalid);
    }
    Integer highest = state.highest().get(id);
    if (m != null && highest != null && m.revision() < highest) {
      // A revision never goes back: revision 3 replaced 1 for a reason (a bypass, a false positive), so the feed
      // handing out 1 again (an old file published by mistake, after a withdrawal or not) is refused like an
      // invalid document: what is applied stays, and its applicability (the fixed version) is not trusted either.
      String why = "revision " + m.revision() + " is below revision " + highest + ", which this server applied before:"
          + " a revision never goes back; the publisher must publish it as revision " + (highest + 1) + " or above";
      if (applied != null) {
        Step kept = keepUnlessRemovedByAdmin(id, applied, policy, inFeed, why);
        return kept.decision() != Decision.KEEP ? kept
            : new Step(id, Decision.KEEP, Status.FAILED, kept.reason(), kept.desired(), kept.audit(), inFeed);
      }
      return skip(id, Status.FAILED, "failed: " + why, inFeed);
    }
    if (m == null && feed.targetsVersion() == 0) {
      // No feed has ever verified here (or the TUF store lost it): absence proves nothing, keep protection,
      // unless an administrator blocked or removed it, which needs no feed.
      return keepUnlessRemovedByAdmin(id, applied, policy, inFeed, "no verified feed yet");
    }
    if (m == null) {
      // The row still names what was applied (M1.2, its kind and title), not a bare id at revision 0.
      return remove(id, Status.REMOVED, "withdrawn from the feed",
          Optional.ofNullable(applied).flatMap(AppliedMitigation::mitigation));
    }
    String product = m.applicability().product();
    if (!product.toLowerCase(Locale.ROOT).equals(host.product().toLowerCase(Locale.ROOT))) {
      String why = "not applicable to product " + host.product() + " (the mitigation is for " + product + ")";
      return applied != null ? remove(id, Status.REMOVED, "no longer applicable: " + why, inFeed)
          : skip(id, Status.NOT_APPLICABLE, why, inFeed);
    }
    if (m.isExpiredAt(now)) {
      String why = "expired at " + m.expires().orElseThrow();
      return applied != null ? remove(id, Status.REMOVED, why, inFeed) : skip(id, Status.NOT_APPLICABLE, why, inFeed);
    }
    if (host.version().isEmpty()) {
      String why = "product version unknown: " + host.versionProblem();
      return applied != null ? keepUnlessRemovedByAdmin(id, applied, policy, inFeed, why)
          : skip(id, Status.NOT_APPLICABLE, "not applicable: " + why, inFeed);
    }
    Version version = host.version().get();
    if (!m.applies(version)) {
      boolean fixed = m.isFixedIn(version);
      if (applied != null) {
        return remove(id, Status.REMOVED, fixed ? "no longer applicable: version " + version + " is fixed"
            : "no longer applicable to version " + version, inFeed);
      }
      return skip(id, Status.NOT_APPLICABLE, "not applicable to version " + version + (fixed ? " (fixed)" : ""), inFeed);
    }
    if (policy.org().blocked().contains(id)) {
      return applied != null ? remove(id, Status.BLOCKED, "blocked by admin in the organisation", inFeed)
          : skip(id, Status.BLOCKED, "blocked by admin in the organisation", inFeed);
    }
    if (policy.local().blocked().contains(id)) {
      return applied != null ? remove(id, Status.BLOCKED, "blocked by admin", inFeed)
          : skip(id, Status.BLOCKED, "blocked by admin", inFeed);
    }
    Integer removedRevision = policy.local().removed().get(id);
    if (removedRevision != null && m.revision() <= removedRevision) {
      String why = "removed by admin: revision " + removedRevision + " stays off until unblocked or revised";
      return applied != null ? remove(id, Status.REMOVED, why, inFeed) : skip(id, Status.REMOVED, why, inFeed);
    }
    boolean audit = mode(id, m, policy) == Mitigation.Mode.AUDIT;
    String disabled = disabled(policy);
    if (applied != null && applied.revision() == m.revision() && applied.audit() == audit) {
      String why = audit ? "audit mode: matched and counted, never blocks" : "applied";
      if (disabled != null) {
        why += "; " + disabled + ", so nothing new is applied (remove it with tourniquet remove " + id + " or block " + id + ")";
      }
      return new Step(id, Decision.KEEP, audit ? Status.AUDIT : Status.APPLIED, why, Optional.of(m), audit, inFeed);
    }
    Failure failure = state.failed().get(id);
    if (failure != null && failure.revision() == m.revision()) {
      String why = failure.refused() ? "not applicable: " + failure.reason() : "failed: " + failure.reason();
      if (applied != null) {
        // The new revision failed; the older one stays, but the row says the feed's revision failed.
        Step kept = keep(id, applied, "revision " + m.revision() + " " + why + "; kept revision " + revision(id, applied), inFeed);
        return failure.refused() ? kept : new Step(id, Decision.KEEP, Status.FAILED, kept.reason(), kept.desired(), kept.audit(), inFeed);
      }
      return skip(id, failure.refused() ? Status.NOT_APPLICABLE : Status.FAILED, why, inFeed);
    }
    String heldBecause = policy.org().held().get(id);
    if (heldBecause != null) {
      String why = "held by the fleet server: " + heldBecause;
      return applied != null ? keep(id, applied, "kept revision " + revision(id, applied) + "; revision " + m.revision() + " " + why, inFeed)
          : skip(id, Status.NOT_APPLICABLE, why, inFeed);
    }
    if (disabled != null) {
      String why = disabled + ": detected only";
      return applied != null ? keep(id, applied, "kept revision " + revision(id, applied) + "; revision " + m.revision() + " " + why, inFeed)
          : skip(id, Status.DETECTED, why, inFeed);
    }
    Status status = audit ? Status.AUDIT : Status.APPLIED;
    if (applied != null) {
      String why = applied.revision() != m.revision()
          ? "new revision " + m.revision() + " replaces " + revision(id, applied)
          : "mode changed to " + (audit ? "audit" : "enforce");
      return new Step(id, Decision.UPDATE, status, why, Optional.of(m), audit, inFeed);
    }
    return new Step(id, Decision.APPLY, status, "applies to version " + version + (audit ? " (audit mode)" : ""),
        Optional.of(m), audit, inFeed);
  }

  /**
   * Removes an applied mitigation that an administrator blocked, or removed at its revision or a later one,
   * when the feed gives no document to plan with.
   */
  /**
   * Keeps an applied revision that the feed cannot decide about (its document invalid or below one applied
   * before, no feed verified yet, the version unknown), unless an administrator blocked or removed it: that
   * needs neither a document nor a version.
   */
  private static Step keepUnlessRemovedByAdmin(String id, AppliedMitigation applied, Policy policy,
      Optional<Mitigation> shown, String why) {
    return removedByAdmin(id, applied, policy, shown).orElseGet(() ->
        keep(id, applied, "kept revision " + revision(id, applied) + ": " + why, shown));
  }

  private static Optional<Step> removedByAdmin(String id, AppliedMitigation applied, Policy policy,
      Optional<Mitigation> shown) {
    if (policy.org().blocked().contains(id)) {
      return Optional.of(remove(id, Status.BLOCKED, "blocked by admin in the organisation", shown));
    }
    if (policy.local().blocked().contains(id)) {
      return Optional.of(remove(id, Status.BLOCKED, "blocked by admin", shown));
    }
    Integer removedRevision = policy.local().removed().get(id);
    if (removedRevision != null && applied.revision() <= removedRevision) {
      return Optional.of(remove(id, Status.REMOVED, "removed by admin: revision " + removedRevision
          + " stays off until unblocked or revised", shown));
    }
    return Optional.empty();
  }

  /** Server-level override first, then the organisation's, then the publisher's default. */
  static Mitigation.Mode mode(String id, Mitigation m, Policy policy) {
    Mitigation.Mode local = policy.local().modes().get(id);
    if (local != null) {
      return local;
    }
    return policy.org().modes().getOrDefault(id, m.mode());
  }

  private static String disabled(Policy policy) {
    if (!policy.org().enabled()) {
      return "mitigations disabled in the organisation";
    }
    if (!policy.org().serverEnabled()) {
      return "mitigations disabled on this server by the organisation";
    }
    if (!policy.local().enabled()) {
      return "mitigations disabled on this server";
    }
    return null;
  }

  private static String revision(String id, AppliedMitigation applied) {
    return id + "." + applied.revision();
  }

  /** Keeps the applied revision; one whose document cannot be read is kept with none (nothing to render). */
  private static Step keep(String id, AppliedMitigation applied, String reason, Optional<Mitigation> shown) {
    return new Step(id, Decision.KEEP, applied.audit() ? Status.AUDIT : Status.APPLIED, reason,
        applied.mitigation(), applied.audit(), shown);
  }

  private static Step remove(String id, Status status, String reason, Optional<Mitigation> shown) {
    return new Step(id, Decision.REMOVE, status, reason, Optional.empty(), false, shown);
  }

  private static Step skip(String id, Status status, String reason, Optional<Mitigation> shown) {
    return new Step(id, Decision.SKIP, status, reason, Optional.empty(), false, shown);
  }
}
