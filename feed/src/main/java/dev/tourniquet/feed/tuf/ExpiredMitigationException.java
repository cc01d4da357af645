package dev.tourniquet.feed.tuf;

import java.io.Serializable;
import java.time.Instant;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Staging would sign a mitigation that has already expired. Agents skip an expired mitigation and remove it where
 * they applied it, so signing one cuts off nothing; it is almost always an old document added by mistake, or a
 * copy whose {@code expires} was never moved forward. Nothing was staged; {@link #refusals()} lists every document
 * refused.
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
   *     2020-01-01T00:00:00Z}
   */
  public record Refusal(String target, Instant expires, Instant now, String problem) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  private final List<Refusal> refusals;

  ExpiredMitigationException(List<Refusal> refusals) {
    super(refusals.stream().map(r -> r.target() + ": expires: " + r.problem()).collect(Collectors.joining("; "))
        + "; nothing staged: give each an expiry in the future (or none) and add again");
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
