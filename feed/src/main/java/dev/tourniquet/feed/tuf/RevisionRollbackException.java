package dev.tourniquet.feed.tuf;

import java.io.Serializable;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Staging would take a mitigation's revision back. Agents may have applied any revision of a mitigation that
 * the feed ever published, withdrawn since or not, and never go back to a lower one: a document must go above
 * the highest published revision of its id, and may replace one staged since (never published, so never applied)
 * only with one of at least the same revision. Nothing was staged (or, for staged targets metadata that takes a
 * revision back, nothing was signed, merged or published); {@link #refusals()} lists every document refused.
 */
public final class RevisionRollbackException extends PublisherException {
  private static final long serialVersionUID = 1L;

  /**
   * One document whose revision does not go up.
   *
   * @param target the target path, e.g. {@code mitigations/M1.json}
   * @param found the revision the document carries
   * @param minimum the lowest revision that would be accepted
   * @param problem what was expected and why, e.g. {@code expected a revision above 1 (the feed publishes M1.1) but
   *     found 1}
   */
  public record Refusal(String target, int found, int minimum, String problem) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  private final List<Refusal> refusals;

  RevisionRollbackException(List<Refusal> refusals) {
    this(refusals, "nothing staged: raise each revision as expected and add again");
  }

  /** With what the refusal means for the operation and the way out, e.g. for staged targets edited by hand. */
  RevisionRollbackException(List<Refusal> refusals, String consequence) {
    super(refusals.stream().map(r -> r.target() + ": revision: " + r.problem()).collect(Collectors.joining("; "))
        + "; " + consequence);
    this.refusals = List.copyOf(refusals);
  }

  /**
   * Returns the documents refused, in target order.
   *
   * @return one refusal per document, at least one
   */
  public List<Refusal> refusals() {
    return refusals;
  }
}
