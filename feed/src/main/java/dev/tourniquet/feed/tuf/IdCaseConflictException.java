package dev.tourniquet.feed.tuf;

import java.io.Serializable;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A mitigation's id differs from another id of the feed only in case ({@code m1} where the feed has or had
 * {@code M1}). A feed holds each mitigation as {@code mitigations/<id>.json}, and on a file system that ignores case
 * (Windows, macOS) two such files are one: an agent's cache, a mirror or an unpacked bundle would keep one and lose
 * the other. The feed treats the two ids as the same one, so the second is refused, even after the first was
 * withdrawn (ids are never freed). {@link #refusals()} lists every target refused.
 */
public final class IdCaseConflictException extends PublisherException {
  private static final long serialVersionUID = 1L;

  /**
   * One target whose id differs from another only in case.
   *
   * @param target the target path, e.g. {@code mitigations/m1.json}
   * @param id its id, e.g. {@code m1}
   * @param otherId the id it collides with, e.g. {@code M1}
   * @param problem what was expected and where the other id is, e.g. {@code expected an id that differs from every
   *     other in the feed, ignoring case, but found "m1" where the feed has "M1"}
   */
  public record Refusal(String target, String id, String otherId, String problem) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  private final List<Refusal> refusals;

  IdCaseConflictException(List<Refusal> refusals, String consequence) {
    super(refusals.stream().map(r -> r.target() + ": id: " + r.problem()).collect(Collectors.joining("; "))
        + "; " + consequence);
    this.refusals = List.copyOf(refusals);
  }

  /**
   * Returns the targets refused, in target order.
   *
   * @return one refusal per target and colliding id, at least one
   */
  public List<Refusal> refusals() {
    return refusals;
  }
}
