package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Mitigation;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The organisation's policy for this server, as a {@link PolicySource} returns it (Exchange's
 * organisation-level settings, plus rings and mode overrides).
 *
 * @param enabled whether mitigations are enabled in the organisation; false: every server only detects
 * @param serverEnabled whether the organisation lets this server apply mitigations; false: it only detects
 * @param blocked mitigation ids blocked in the organisation; a blocked mitigation is never applied and an
 *     applied one is removed
 * @param modes per-mitigation mode overrides by id (e.g. {@code audit}: match and count, never block)
 * @param held ids held back for this server's rollout ring, each with the fleet server's reason (e.g. {@code
 *     rollout of M1.2: ring canary first, waiting for approval}): not applied yet (an applied revision is kept)
 */
public record OrgPolicy(boolean enabled, boolean serverEnabled, Set<String> blocked,
    Map<String, Mitigation.Mode> modes, Map<String, String> held) {

  /** The policy with no fleet server: enabled, nothing blocked, no overrides, nothing held. */
  public static final OrgPolicy DEFAULT = new OrgPolicy(true, true, Set.of(), Map.of(), Map.of());

  /**
   * Copies the collections.
   *
   * @throws NullPointerException if a field is null
   */
  public OrgPolicy {
    blocked = java.util.Collections.unmodifiableSet(new TreeSet<>(blocked));
    modes = java.util.Collections.unmodifiableMap(new TreeMap<>(modes));
    held = java.util.Collections.unmodifiableMap(new TreeMap<>(held));
  }
}
