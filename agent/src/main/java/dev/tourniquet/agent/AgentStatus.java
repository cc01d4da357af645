package dev.tourniquet.agent;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A snapshot of the agent after a check: what {@code tourniquet status} prints and what a
 * {@link Reporter} receives.
 *
 * @param server the server's name from the configuration
 * @param labels the server's labels from the configuration
 * @param product the product the agent protects, e.g. {@code Exchange Server}
 * @param version the product version the agent found, or empty if it could not learn it
 * @param enabled whether mitigations are enabled on this server (the local setting)
 * @param lastCheck when the last check finished, if any
 * @param nextCheck when the next check is due
 * @param feedHealth {@code ok}, or what is wrong with the feed (the last verified feed is still used)
 * @param policyHealth {@code ok}, or why the organisation's policy could not be obtained (the last one
 *     obtained is still used)
 * @param feedVersion the trusted targets metadata version in use, 0 if none yet
 * @param mitigations one row per mitigation known to this server, sorted by id
 * @param auditHits audit counters by target, mitigation id and rule name
 */
public record AgentStatus(String server, Map<String, String> labels, String product, Optional<String> version,
    boolean enabled, Optional<Instant> lastCheck, Instant nextCheck, String feedHealth, String policyHealth, long feedVersion,
    List<MitigationStatus> mitigations, Map<String, Map<String, Map<String, Long>>> auditHits) {

  /**
   * Copies the collections.
   *
   * @throws NullPointerException if a field is null
   */
  public AgentStatus {
    Objects.requireNonNull(server, "server");
    labels = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(labels));
    Objects.requireNonNull(product, "product");
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(lastCheck, "lastCheck");
    Objects.requireNonNull(nextCheck, "nextCheck");
    Objects.requireNonNull(feedHealth, "feedHealth");
    Objects.requireNonNull(policyHealth, "policyHealth");
    mitigations = List.copyOf(mitigations);
    Map<String, Map<String, Map<String, Long>>> hits = new java.util.TreeMap<>();
    auditHits.forEach((target, byId) -> {
      Map<String, Map<String, Long>> copy = new java.util.TreeMap<>();
      byId.forEach((id, byRule) -> copy.put(id, java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(byRule))));
      hits.put(target, java.util.Collections.unmodifiableMap(copy));
    });
    auditHits = java.util.Collections.unmodifiableMap(hits);
  }
}
