package dev.tourniquet.feed.tuf;

import java.io.Serializable;
import java.time.Instant;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A mitigation that has expired would be signed. Agents skip an expired mitigation and remove it where they applied
 * it, so signing one cuts off nothing: when it is being added, it is almost always an old document added by mistake,
 * or a copy whose {@code expires} was never moved forward, and nothing was staged; when staged targets metadata lists
 * it (it expired after it was added, before it was published), nothing was signed, merged or published.
 * {@link #refusals()} lists every document refused.
 */
public final class ExpiredMitigationException extends PublisherException {
  private static final long serialVersionUID = 1L;

  /**
   * One document that has expired.
   *
   * @param target the target path, e.g. {@code mitigations/M1.json}
   * @param expires when the document says it stops applying
   * @param now the instant it was checked at
   * @param problem what was expected, e.g. {@code expected an instant after now (2026-03-01T12:00:00Z) but found
   *     2020-01-01T00:00:00Z}, and for a document that staged targets list, which revision it is, e.g.
   *     {@code (M3.1 was staged since the last publish and expired before it was published)}
   */
  public record Refusal(String target, Instant expires, Instant now, String problem) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  private final List<Refusal> refusals;

  ExpiredMitigationException(List<Refusal> refusals) {
    this(refusals, "nothing staged: give each an expiry in the future (or none) and add again");
  }

  /** With what the refusal means for the operation and the way out, e.g. for staged targets that list it. */
  ExpiredMitigationException(List<Refusal> refusals, String consequence) {
    super(refusals.stream().map(r -> r.target() + ": expires: " + r.problem()).collect(Collectors.joining("; "))
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
