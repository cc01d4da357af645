package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Mitigation;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The server-level policy the operator sets with the command line, kept in the state directory.
 *
 * @param enabled whether this server applies mitigations (false: detect only; applied ones stay)
 * @param blocked ids the operator blocked: never applied, removed if applied
 * @param modes per-mitigation mode overrides, which win over the organisation's
 * @param removed ids the operator removed, with the revision that was removed: kept off until unblocked or
 *     a higher revision is published
 */
record LocalPolicy(boolean enabled, Set<String> blocked, Map<String, Mitigation.Mode> modes,
    Map<String, Integer> removed) {

  static final LocalPolicy DEFAULT = new LocalPolicy(true, Set.of(), Map.of(), Map.of());

  LocalPolicy {
    blocked = Collections.unmodifiableSet(new TreeSet<>(blocked));
    modes = Collections.unmodifiableMap(new TreeMap<>(modes));
    removed = Collections.unmodifiableMap(new TreeMap<>(removed));
  }

  LocalPolicy withEnabled(boolean value) {
    return new LocalPolicy(value, blocked, modes, removed);
  }

  LocalPolicy withBlocked(String id) {
    Set<String> b = new TreeSet<>(blocked);
    b.add(id);
    return new LocalPolicy(enabled, b, modes, removed);
  }

  /** Unblocking also lifts an operator's removal. */
  LocalPolicy withUnblocked(String id) {
    Set<String> b = new TreeSet<>(blocked);
    b.remove(id);
    Map<String, Integer> r = new TreeMap<>(removed);
    r.remove(id);
    return new LocalPolicy(enabled, b, modes, r);
  }

  LocalPolicy withRemoved(String id, int revision) {
    Map<String, Integer> r = new TreeMap<>(removed);
    r.put(id, revision);
    return new LocalPolicy(enabled, blocked, modes, r);
  }
}
