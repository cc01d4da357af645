package dev.tourniquet.agent;

import java.util.Objects;
import java.util.Optional;

/**
 * What the agent did with one mitigation, as {@code tourniquet status} shows it.
 *
 * @param id the mitigation id, e.g. {@code M1}
 * @param revision the revision the row is about (the applied one, or the one in the feed); 0 if unknown
 * @param kinds the action kinds, comma-separated, e.g. {@code request-rules}
 * @param description the mitigation's title
 * @param status what state it is in
 * @param reason why, in words
 * @param appliedRevision the revision applied on at least one target, if any
 * @param live whether what is applied of it is live: true when every target that has it confirmed it (or
 *     verifies each change as it makes it), false while one has not confirmed it (the reason ends with
 *     {@code not confirmed live: …}) or rejected it (the status is then Failed); empty when nothing of it
 *     is applied
 */
public record MitigationStatus(String id, int revision, String kinds, String description, Status status,
    String reason, Optional<Integer> appliedRevision, Optional<Boolean> live) {

  /**
   * Validates the fields.
   *
   * @throws NullPointerException if a field is null
   */
  public MitigationStatus {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(kinds, "kinds");
    Objects.requireNonNull(description, "description");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(appliedRevision, "appliedRevision");
    Objects.requireNonNull(live, "live");
  }

  /**
   * Returns id and revision as Exchange shows applied mitigations.
   *
   * @return e.g. {@code M1.2}
   */
  public String appliedId() {
    return id + "." + revision;
  }
}
