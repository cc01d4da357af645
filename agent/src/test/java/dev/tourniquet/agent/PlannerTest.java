package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.agent.Plan.Decision;
import dev.tourniquet.agent.Plan.Step;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.Version;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PlannerTest {
  static final Instant NOW = Instant.parse("2026-11-28T12:00:00Z");

  /** One row: inputs, then the decision, status and reason expected for M1. */
  record Case(String name, UnaryOperator<Inputs> setup, Decision decision, Status status, String reason) {
    @Override
    public String toString() {
      return name;
    }
  }

  /** The planner's inputs, built up by each case from a default: M1.1 in the feed, nothing applied. */
  static final class Inputs {
    Map<String, Mitigation> feed = new HashMap<>(Map.of("M1", Docs.mitigation("M1", 1)));
    Map<String, String> rejected = new HashMap<>();
    OrgPolicy org = OrgPolicy.DEFAULT;
    LocalPolicy local = LocalPolicy.DEFAULT;
    HostFacts host = HostFacts.of(Docs.PRODUCT, Version.parse("1.5"));
    Map<String, Planner.AppliedMitigation> applied = new HashMap<>();
    Map<String, Planner.Failure> failed = new HashMap<>();
    Map<String, Integer> highest = new HashMap<>();
    /** The verified feed's targets version: 0 when no feed has verified on this state directory yet. */
    long targetsVersion = 1;

    Inputs applied(int revision) {
      applied.put("M1", new Planner.AppliedMitigation(Docs.mitigation("M1", revision), false));
      highest.merge("M1", revision, Math::max);
      return this;
    }

    Inputs feed(Mitigation m) {
      feed.put(m.id(), m);
      return this;
    }

    Step plan() {
      Plan plan = Planner.plan(new FeedView(targetsVersion, feed, rejected), new Planner.Policy(org, local), host,
          new Planner.Applied(applied, failed, highest), NOW);
      return plan.steps().stream().filter(s -> s.id().equals("M1")).findFirst().orElseThrow();
    }
  }

  static final String HELD = "rollout of M1.2: ring canary first, waiting for approval";

  static OrgPolicy org(boolean enabled, boolean serverEnabled, Set<String> blocked, Set<String> held) {
    Map<String, String> reasons = new java.util.TreeMap<>();
    held.forEach(id -> reasons.put(id, HELD));
    return new OrgPolicy(enabled, serverEnabled, blocked, Map.of(), reasons);
  }

  static Stream<Case> cases() {
    return Stream.of(
        new Case("new and applicable: apply", i -> i, Decision.APPLY, Status.APPLIED, "applies to version 1.5"),
        new Case("product name compared case-insensitively", i -> {
          i.host = HostFacts.of("ACME-Portal", Version.parse("1.5"));
          return i;
        }, Decision.APPLY, Status.APPLIED, "applies to version 1.5"),
        new Case("same revision applied: keep", i -> i.applied(1), Decision.KEEP, Status.APPLIED, "applied"),
        new Case("new revision: update", i -> i.applied(1).feed(Docs.mitigation("M1", 2)), Decision.UPDATE,
            Status.APPLIED, "new revision 2 replaces M1.1"),
        new Case("publisher's audit mode", i -> i.feed(Docs.parse(Docs.json("M1", 1, Docs.PRODUCT, "audit", null))),
            Decision.APPLY, Status.AUDIT, "applies to version 1.5 (audit mode)"),
        new Case("organisation's audit override changes the mode of an applied one: update", i -> {
          i.applied(1).org = new OrgPolicy(true, true, Set.of(), Map.of("M1", Mitigation.Mode.AUDIT), Map.of());
          return i;
        }, Decision.UPDATE, Status.AUDIT, "mode changed to audit"),
        new Case("server's enforce override wins over the organisation's audit", i -> {
          i.org = new OrgPolicy(true, true, Set.of(), Map.of("M1", Mitigation.Mode.AUDIT), Map.of());
          i.local = new LocalPolicy(true, Set.of(), Map.of("M1", Mitigation.Mode.ENFORCE), Map.of());
          return i;
        }, Decision.APPLY, Status.APPLIED, "applies to version 1.5"),
        new Case("withdrawn from the feed: remove", i -> {
          i.applied(1).feed.clear();
          return i;
        }, Decision.REMOVE, Status.REMOVED, "withdrawn from the feed"),
        new Case("expired, applied: remove", i -> i.applied(1).feed(Docs.parse(Docs.json("M1", 1, Docs.PRODUCT, "enforce",
            "2026-11-01T00:00:00Z"))), Decision.REMOVE, Status.REMOVED, "expired at 2026-11-01T00:00:00Z"),
        new Case("expired, not applied: skip", i -> i.feed(Docs.parse(Docs.json("M1", 1, Docs.PRODUCT, "enforce",
            "2026-11-01T00:00:00Z"))), Decision.SKIP, Status.NOT_APPLICABLE, "expired at 2026-11-01T00:00:00Z"),
        new Case("fixed version installed, applied: remove automatically", i -> {
          i.applied(1).host = HostFacts.of(Docs.PRODUCT, Version.parse("2.0.1"));
          return i;
        }, Decision.REMOVE, Status.REMOVED, "no longer applicable: version 2.0.1 is fixed"),
        new Case("older than every range: not applicable", i -> {
          i.host = HostFacts.of(Docs.PRODUCT, Version.parse("0.9"));
          return i;
        }, Decision.SKIP, Status.NOT_APPLICABLE, "not applicable to version 0.9"),
        new Case("fixed version, never applied", i -> {
          i.host = HostFacts.of(Docs.PRODUCT, Version.parse("2.0"));
          return i;
        }, Decision.SKIP, Status.NOT_APPLICABLE, "not applicable to version 2.0 (fixed)"),
        new Case("another product", i -> {
          i.host = HostFacts.of("other-product", Version.parse("1.5"));
          return i;
        }, Decision.SKIP, Status.NOT_APPLICABLE, "not applicable to product other-product (the mitigation is for acme-portal)"),
        new Case("version unknown, not applied: skip", i -> {
          i.host = new HostFacts(Docs.PRODUCT, Optional.empty(), "versionFile /x: no such file");
          return i;
        }, Decision.SKIP, Status.NOT_APPLICABLE, "not applicable: product version unknown: versionFile /x: no such file"),
        new Case("version unknown, applied: keep", i -> {
          i.applied(1).host = new HostFacts(Docs.PRODUCT, Optional.empty(), "command failed");
          return i;
        }, Decision.KEEP, Status.APPLIED, "kept revision M1.1: product version unknown: command failed"),
        new Case("version unknown, applied, blocked by admin: remove", i -> {
          i.applied(1).host = new HostFacts(Docs.PRODUCT, Optional.empty(), "command failed");
          i.local = LocalPolicy.DEFAULT.withBlocked("M1");
          return i;
        }, Decision.REMOVE, Status.BLOCKED, "blocked by admin"),
        new Case("no verified feed yet, applied: keep", i -> {
          i.applied(1).feed.clear();
          i.targetsVersion = 0;
          return i;
        }, Decision.KEEP, Status.APPLIED, "kept revision M1.1: no verified feed yet"),
        new Case("no verified feed yet, applied, removed by admin: remove", i -> {
          i.applied(1).feed.clear();
          i.targetsVersion = 0;
          i.local = LocalPolicy.DEFAULT.withRemoved("M1", 1);
          return i;
        }, Decision.REMOVE, Status.REMOVED, "removed by admin: revision 1 stays off until unblocked or revised"),
        new Case("blocked by admin", i -> {
          i.local = LocalPolicy.DEFAULT.withBlocked("M1");
          return i;
        }, Decision.SKIP, Status.BLOCKED, "blocked by admin"),
        new Case("blocking an applied mitigation removes it", i -> {
          i.applied(1).local = LocalPolicy.DEFAULT.withBlocked("M1");
          return i;
        }, Decision.REMOVE, Status.BLOCKED, "blocked by admin"),
        new Case("blocked in the organisation, applied: remove", i -> {
          i.applied(1).org = org(true, true, Set.of("M1"), Set.of());
          return i;
        }, Decision.REMOVE, Status.BLOCKED, "blocked by admin in the organisation"),
        new Case("disabled on this server: detected only", i -> {
          i.local = LocalPolicy.DEFAULT.withEnabled(false);
          return i;
        }, Decision.SKIP, Status.DETECTED, "mitigations disabled on this server: detected only"),
        new Case("disabled in the organisation: detected only", i -> {
          i.org = org(false, true, Set.of(), Set.of());
          return i;
        }, Decision.SKIP, Status.DETECTED, "mitigations disabled in the organisation: detected only"),
        new Case("disabled for this server by the organisation: detected only", i -> {
          i.org = org(true, false, Set.of(), Set.of());
          return i;
        }, Decision.SKIP, Status.DETECTED, "mitigations disabled on this server by the organisation: detected only"),
        new Case("disabling keeps what is applied (Exchange semantics)", i -> {
          i.applied(1).local = LocalPolicy.DEFAULT.withEnabled(false);
          return i;
        }, Decision.KEEP, Status.APPLIED, "applied; mitigations disabled on this server, so nothing new is applied "
            + "(remove it with tourniquet remove M1 or block M1)"),
        new Case("disabled: a new revision is only detected, the old one kept", i -> {
          i.applied(1).feed(Docs.mitigation("M1", 2)).local = LocalPolicy.DEFAULT.withEnabled(false);
          return i;
        }, Decision.KEEP, Status.APPLIED, "kept revision M1.1; revision 2 mitigations disabled on this server: detected only"),
        new Case("held for the rollout ring", i -> {
          i.org = org(true, true, Set.of(), Set.of("M1"));
          return i;
        }, Decision.SKIP, Status.NOT_APPLICABLE, "held by the fleet server: " + HELD),
        new Case("held: an applied older revision stays", i -> {
          i.applied(1).feed(Docs.mitigation("M1", 2)).org = org(true, true, Set.of(), Set.of("M1"));
          return i;
        }, Decision.KEEP, Status.APPLIED, "kept revision M1.1; revision 2 held by the fleet server: " + HELD),
        new Case("failed revision is not retried", i -> {
          i.failed.put("M1", new Planner.Failure(1, "health probe http://x/ answered 503, expected 200", false));
          return i;
        }, Decision.SKIP, Status.FAILED, "failed: health probe http://x/ answered 503, expected 200"),
        new Case("a new revision that failed: Failed, the older applied revision stays", i -> {
          i.applied(1).feed(Docs.mitigation("M1", 2)).failed.put("M1", new Planner.Failure(2, "nginx -t failed", false));
          return i;
        }, Decision.KEEP, Status.FAILED, "revision 2 failed: nginx -t failed; kept revision M1.1"),
        new Case("a new revision after a failure is tried", i -> {
          i.feed(Docs.mitigation("M1", 2)).failed.put("M1", new Planner.Failure(1, "boom", false));
          return i;
        }, Decision.APPLY, Status.APPLIED, "applies to version 1.5"),
        new Case("refused by every target: not applicable", i -> {
          i.failed.put("M1", new Planner.Failure(1, "refused by web: no exact equivalent", true));
          return i;
        }, Decision.SKIP, Status.NOT_APPLICABLE, "not applicable: refused by web: no exact equivalent"),
        new Case("removed by admin stays off", i -> {
          i.local = LocalPolicy.DEFAULT.withRemoved("M1", 1);
          return i;
        }, Decision.SKIP, Status.REMOVED, "removed by admin: revision 1 stays off until unblocked or revised"),
        new Case("removed by admin, applied: remove", i -> {
          i.applied(1).local = LocalPolicy.DEFAULT.withRemoved("M1", 1);
          return i;
        }, Decision.REMOVE, Status.REMOVED, "removed by admin: revision 1 stays off until unblocked or revised"),
        new Case("removed by admin, then revised: apply the new revision", i -> {
          i.feed(Docs.mitigation("M1", 2)).local = LocalPolicy.DEFAULT.withRemoved("M1", 1);
          return i;
        }, Decision.APPLY, Status.APPLIED, "applies to version 1.5"),
        new Case("invalid document in the feed, applied: keep the applied revision", i -> {
          i.applied(1).feed.remove("M1");
          i.rejected.put("M1", "target mitigations/M1.json: revision: expected 1 or more");
          return i;
        }, Decision.KEEP, Status.APPLIED, "kept revision M1.1: the feed's document is invalid: target mitigations/M1.json: revision: expected 1 or more"),
        new Case("invalid document in the feed, applied, blocked by admin: remove", i -> {
          i.applied(1).feed.remove("M1");
          i.rejected.put("M1", "target mitigations/M1.json: revision: expected 1 or more");
          i.local = LocalPolicy.DEFAULT.withBlocked("M1");
          return i;
        }, Decision.REMOVE, Status.BLOCKED, "blocked by admin"),
        new Case("invalid document in the feed, applied, removed by admin: remove", i -> {
          i.applied(1).feed.remove("M1");
          i.rejected.put("M1", "target mitigations/M1.json: revision: expected 1 or more");
          i.local = LocalPolicy.DEFAULT.withRemoved("M1", 1);
          return i;
        }, Decision.REMOVE, Status.REMOVED, "removed by admin: revision 1 stays off until unblocked or revised"),
        new Case("a lower revision than the applied one: keep the applied one, failed", i -> i.applied(3),
            Decision.KEEP, Status.FAILED, "kept revision M1.3: revision 1 is below revision 3, which this server"
                + " applied before: a revision never goes back; the publisher must publish it as revision 4 or above"),
        new Case("a lower revision than one applied before and removed since: failed", i -> {
          i.highest.put("M1", 3);
          return i;
        }, Decision.SKIP, Status.FAILED, "failed: revision 1 is below revision 3, which this server applied before: a"
            + " revision never goes back; the publisher must publish it as revision 4 or above"),
        new Case("the revision applied before and removed since (a fixed version, then a downgrade): apply", i -> {
          i.highest.put("M1", 1);
          return i;
        }, Decision.APPLY, Status.APPLIED, "applies to version 1.5"),
        new Case("a revision above one applied before and removed since: apply", i -> {
          i.highest.put("M1", 1);
          return i.feed(Docs.mitigation("M1", 2));
        }, Decision.APPLY, Status.APPLIED, "applies to version 1.5"),
        new Case("a lower revision than the applied one, blocked by admin: remove", i -> {
          i.applied(3).local = LocalPolicy.DEFAULT.withBlocked("M1");
          return i;
        }, Decision.REMOVE, Status.BLOCKED, "blocked by admin"),
        new Case("a lower revision that says the installed version is fixed does not remove the applied one", i -> {
          i.applied(3).host = HostFacts.of(Docs.PRODUCT, Version.parse("2.0.1"));
          return i;
        }, Decision.KEEP, Status.FAILED, "kept revision M1.3: revision 1 is below revision 3, which this server"
            + " applied before: a revision never goes back; the publisher must publish it as revision 4 or above"),
        new Case("invalid document in the feed, not applied: failed", i -> {
          i.feed.remove("M1");
          i.rejected.put("M1", "target mitigations/M1.json: expected the document of M1 but found the document of M2");
          return i;
        }, Decision.SKIP, Status.FAILED, "failed: invalid document in the feed: target mitigations/M1.json: expected the document of M1 but found the document of M2"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void planGivesOneDecisionAndReasonPerCase(Case c) {
    Step step = c.setup().apply(new Inputs()).plan();

    assertThat(step.decision()).as("decision").isEqualTo(c.decision());
    assertThat(step.status()).as("status").isEqualTo(c.status());
    assertThat(step.reason()).as("reason").isEqualTo(c.reason());
  }

  @Test
  void planIsPureSameInputsGiveEqualPlans() {
    Inputs a = new Inputs().applied(1);
    a.feed(Docs.mitigation("M2", 3));
    Plan first = Planner.plan(new FeedView(1, a.feed, a.rejected), new Planner.Policy(a.org, a.local), a.host,
        new Planner.Applied(a.applied, a.failed, a.highest), NOW);
    Plan second = Planner.plan(new FeedView(1, a.feed, a.rejected), new Planner.Policy(a.org, a.local), a.host,
        new Planner.Applied(a.applied, a.failed, a.highest), NOW);

    assertThat(first).isEqualTo(second);
    assertThat(first.steps()).extracting(Step::id).containsExactly("M1", "M2");
  }

  @Test
  void desiredMitigationIsTheFeedsRevisionOnApplyAndTheAppliedOneOnKeep() {
    Step update = new Inputs().applied(1).feed(Docs.mitigation("M1", 2)).plan();
    Inputs held = new Inputs().applied(1).feed(Docs.mitigation("M1", 2));
    held.org = org(true, true, Set.of(), Set.of("M1"));

    Inputs failed = new Inputs().applied(1).feed(Docs.mitigation("M1", 2));
    failed.failed.put("M1", new Planner.Failure(2, "boom", false));

    assertThat(failed.plan().desired().orElseThrow().revision()).as("the failed revision keeps the old one").isEqualTo(1);
    assertThat(update.desired().orElseThrow().revision()).isEqualTo(2);
    assertThat(held.plan().desired().orElseThrow().revision()).isEqualTo(1);
  }
}
