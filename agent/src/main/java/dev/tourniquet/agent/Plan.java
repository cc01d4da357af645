package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Mitigation;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What the planner decided: one step per mitigation, sorted by id.
 *
 * @param steps the steps
 */
record Plan(List<Step> steps) {
  Plan {
    steps = List.copyOf(steps);
  }

  /** What to do with a mitigation. */
  enum Decision {
    /** Apply a mitigation that is not applied. */
    APPLY,
    /** Replace the applied revision (or mode) with the feed's. */
    UPDATE,
    /** Take an applied mitigation off every target. */
    REMOVE,
    /** Leave the applied revision as it is. */
    KEEP,
    /** Do nothing: it is not applied and will not be. */
    SKIP
  }

  /**
   * One decision.
   *
   * @param id the mitigation id
   * @param decision what to do
   * @param status the status it leads to (before enforcement outcomes)
   * @param reason why, in words
   * @param desired the mitigation that should be active after the step (APPLY, UPDATE, KEEP), else empty; also
   *     empty for a KEEP of a revision whose stored document this agent version cannot read (its targets hold
   *     it as it is)
   * @param audit whether the desired mitigation runs in audit mode
   * @param shown the document the status row describes: the feed's for the id, or for one withdrawn from the
   *     feed the revision it removes; empty if neither
   */
  record Step(String id, Decision decision, Status status, String reason, Optional<Mitigation> desired,
      boolean audit, Optional<Mitigation> shown) {
    Step {
      Objects.requireNonNull(id, "id");
      Objects.requireNonNull(decision, "decision");
      Objects.requireNonNull(status, "status");
      Objects.requireNonNull(reason, "reason");
      Objects.requireNonNull(desired, "desired");
      Objects.requireNonNull(shown, "shown");
    }
  }
}
