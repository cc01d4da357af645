package dev.tourniquet.server;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The organisation's policy, as in Exchange's {@code Set-OrganizationConfig} and {@code Set-ExchangeServer}:
 * organisation-level and per-server {@code mitigationsEnabled}, blocked lists and per-mitigation mode
 * overrides at both levels, and rollout rings.
 *
 * <p>Rollout: when rollout is on, each new revision of a mitigation found in a hosted feed is first
 * released to ring {@code canary} only; every other server gets it in {@code held} until an operator
 * approves it, or, when an automatic delay is set, until that delay has passed with no canary server
 * reporting the revision {@code Failed}. A revision found while rollout is off is released at once.
 *
 * <p>The effective policy of a server is computed here from stored values and a time (pure of I/O other
 * than the reads): org and server blocks are joined, server modes override org modes.
 */
final class Policies {
  static final String CANARY = "canary";

  /** The organisation-wide settings. */
  record OrgSettings(boolean mitigationsEnabled, boolean rolloutEnabled, Optional<Duration> autoReleaseAfter) {}

  /** A mitigation revision's rollout. */
  record Rollout(String id, int revision, String feed, Instant firstSeen, boolean released,
      Optional<Instant> releasedAt, Optional<String> releasedBy) {}

  /** The policy an agent receives ({@code GET /api/v1/agent/policy}). */
  record Effective(boolean orgMitigationsEnabled, boolean serverMitigationsEnabled, List<String> blocked,
      Map<String, String> modes, Map<String, String> held) {

    Map<String, Object> json() {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("orgMitigationsEnabled", orgMitigationsEnabled);
      out.put("serverMitigationsEnabled", serverMitigationsEnabled);
      out.put("blocked", blocked);
      out.put("modes", modes);
      out.put("held", held);
      return out;
    }
  }

  private Policies() {}

  static OrgSettings org(Connection c) throws SQLException {
    return Database.queryOne(c, "SELECT mitigations_enabled, rollout_enabled, auto_release_seconds FROM org_settings"
        + " WHERE id = 1", rs -> {
          long seconds = rs.getLong("auto_release_seconds");
          Optional<Duration> autoRelease = rs.wasNull() ? Optional.empty() : Optional.of(Duration.ofSeconds(seconds));
          return new OrgSettings(rs.getBoolean("mitigations_enabled"), rs.getBoolean("rollout_enabled"), autoRelease);
        }).orElseThrow(() -> new SQLException("org_settings: expected the row with id 1 (created by migration V1)"));
  }

  static void setOrgEnabled(Connection c, boolean enabled) throws SQLException {
    Database.update(c, "UPDATE org_settings SET mitigations_enabled = ? WHERE id = 1", enabled);
  }

  static void setRollout(Connection c, boolean enabled, Optional<Duration> autoReleaseAfter) throws SQLException {
    Database.update(c, "UPDATE org_settings SET rollout_enabled = ?, auto_release_seconds = ? WHERE id = 1", enabled,
        autoReleaseAfter.isPresent() ? (Object) autoReleaseAfter.get().toSeconds() : Database.NullOf.BIGINT);
  }

  static Set<String> orgBlocks(Connection c) throws SQLException {
    return new TreeSet<>(Database.query(c, "SELECT mitigation_id FROM org_blocks", rs -> rs.getString(1)));
  }

  static Map<String, String> orgModes(Connection c) throws SQLException {
    Map<String, String> out = new TreeMap<>();
    for (var e : Database.query(c, "SELECT mitigation_id, mode FROM org_modes", rs -> Map.entry(rs.getString(1),
        rs.getString(2)))) {
      out.put(e.getKey(), e.getValue());
    }
    return out;
  }

  static Set<String> serverBlocks(Connection c, String agentId) throws SQLException {
    return new TreeSet<>(Database.query(c, "SELECT mitigation_id FROM server_blocks WHERE agent_id = ?",
        rs -> rs.getString(1), agentId));
  }

  static Map<String, String> serverModes(Connection c, String agentId) throws SQLException {
    Map<String, String> out = new TreeMap<>();
    for (var e : Database.query(c, "SELECT mitigation_id, mode FROM server_modes WHERE agent_id = ?",
        rs -> Map.entry(rs.getString(1), rs.getString(2)), agentId)) {
      out.put(e.getKey(), e.getValue());
    }
    return out;
  }

  /** Every server's own blocks, by agent id (servers with none are absent). */
  static Map<String, Set<String>> serverBlocks(Connection c) throws SQLException {
    Map<String, Set<String>> out = new TreeMap<>();
    for (var e : Database.query(c, "SELECT agent_id, mitigation_id FROM server_blocks", rs -> Map.entry(rs.getString(1),
        rs.getString(2)))) {
      out.computeIfAbsent(e.getKey(), k -> new TreeSet<>()).add(e.getValue());
    }
    return out;
  }

  /** Every server's own mode overrides, by agent id (servers with none are absent). */
  static Map<String, Map<String, String>> serverModes(Connection c) throws SQLException {
    Map<String, Map<String, String>> out = new TreeMap<>();
    for (var row : Database.query(c, "SELECT agent_id, mitigation_id, mode FROM server_modes",
        rs -> List.of(rs.getString(1), rs.getString(2), rs.getString(3)))) {
      out.computeIfAbsent(row.get(0), k -> new TreeMap<>()).put(row.get(1), row.get(2));
    }
    return out;
  }

  /** Blocks at org level (agentId empty) or for one server; false if it already was. */
  static boolean block(Connection c, Optional<String> agentId, String id) throws SQLException {
    if (agentId.isEmpty()) {
      return Database.update(c, "INSERT INTO org_blocks (mitigation_id) SELECT CAST(? AS VARCHAR(128)) WHERE NOT EXISTS"
          + " (SELECT 1 FROM org_blocks WHERE mitigation_id = ?)", id, id) == 1;
    }
    return Database.update(c, "INSERT INTO server_blocks (agent_id, mitigation_id) SELECT CAST(? AS VARCHAR(64)),"
        + " CAST(? AS VARCHAR(128)) WHERE NOT EXISTS (SELECT 1 FROM server_blocks WHERE agent_id = ? AND mitigation_id = ?)",
        agentId.get(), id, agentId.get(), id) == 1;
  }

  /** Unblocks; false if it was not blocked there. */
  static boolean unblock(Connection c, Optional<String> agentId, String id) throws SQLException {
    return agentId.isEmpty()
        ? Database.update(c, "DELETE FROM org_blocks WHERE mitigation_id = ?", id) == 1
        : Database.update(c, "DELETE FROM server_blocks WHERE agent_id = ? AND mitigation_id = ?", agentId.get(), id) == 1;
  }

  /** Sets (mode present) or clears a mode override. */
  static void setMode(Connection c, Optional<String> agentId, String id, Optional<String> mode) throws SQLException {
    if (agentId.isEmpty()) {
      Database.update(c, "DELETE FROM org_modes WHERE mitigation_id = ?", id);
      if (mode.isPresent()) {
        Database.update(c, "INSERT INTO org_modes (mitigation_id, mode) VALUES (?, ?)", id, mode.get());
      }
    } else {
      Database.update(c, "DELETE FROM server_modes WHERE agent_id = ? AND mitigation_id = ?", agentId.get(), id);
      if (mode.isPresent()) {
        Database.update(c, "INSERT INTO server_modes (agent_id, mitigation_id, mode) VALUES (?, ?, ?)", agentId.get(),
            id, mode.get());
      }
    }
  }

  static List<Rollout> rollouts(Connection c) throws SQLException {
    return Database.query(c, "SELECT mitigation_id, revision, feed, first_seen, state, released_at, released_by"
        + " FROM rollouts ORDER BY first_seen DESC, mitigation_id, revision DESC", rs -> new Rollout(
            rs.getString("mitigation_id"), rs.getInt("revision"), rs.getString("feed"),
            Database.instant(rs, "first_seen"), "released".equals(rs.getString("state")),
            Optional.ofNullable(Database.instant(rs, "released_at")), Optional.ofNullable(rs.getString("released_by"))));
  }

  /**
   * Records a revision seen in a hosted feed, once. Returns true if it was new. While rollout is off it is
   * released at once.
   */
  static boolean discover(Connection c, String feed, String id, int revision, Instant now) throws SQLException {
    boolean rollout = org(c).rolloutEnabled();
    return Database.update(c, "INSERT INTO rollouts (mitigation_id, revision, feed, first_seen, state, released_at,"
            + " released_by) SELECT CAST(? AS VARCHAR(128)), CAST(? AS INTEGER), CAST(? AS VARCHAR(64)), ?,"
            + " CAST(? AS VARCHAR(16)), ?, CAST(? AS VARCHAR(200)) WHERE NOT EXISTS"
            + " (SELECT 1 FROM rollouts WHERE mitigation_id = ? AND revision = ?)",
        id, revision, feed, now, rollout ? CANARY : "released", rollout ? Database.NullOf.TIMESTAMP : now,
        rollout ? Database.NullOf.VARCHAR : "system: rollout off", id, revision) == 1;
  }

  /**
   * Whether rollout rings hold anything back now: rollout is on and a revision waits in ring canary. Only
   * then can a failure reported by a server change other servers' policies (their held reasons).
   */
  static boolean holding(Connection c) throws SQLException {
    return org(c).rolloutEnabled()
        && !Database.query(c, "SELECT 1 FROM rollouts WHERE state = 'canary' FETCH FIRST 1 ROWS ONLY", rs -> 1).isEmpty();
  }

  /** Releases a revision to every ring; false if there is no such canary rollout. */
  static boolean release(Connection c, String id, int revision, String by, Instant now) throws SQLException {
    return Database.update(c, "UPDATE rollouts SET state = 'released', released_at = ?, released_by = ?"
        + " WHERE mitigation_id = ? AND revision = ? AND state = 'canary'", now, by, id, revision) == 1;
  }

  /** Servers that reported a revision Failed. */
  static List<String> failures(Connection c, String id, int revision) throws SQLException {
    return Database.query(c, "SELECT a.server_name FROM agent_mitigations m JOIN agents a ON a.agent_id = m.agent_id"
        + " WHERE m.mitigation_id = ? AND m.revision = ? AND m.status = 'Failed' ORDER BY a.server_name",
        rs -> rs.getString(1), id, revision);
  }

  /**
   * Releases every canary revision whose automatic delay has passed with no failure reported. Returns the
   * released rollouts; each is in the audit log as released by {@code system}.
   */
  static List<Rollout> autoRelease(Connection c, Instant now) throws SQLException {
    OrgSettings org = org(c);
    List<Rollout> released = new ArrayList<>();
    if (!org.rolloutEnabled() || org.autoReleaseAfter().isEmpty()) {
      return released;
    }
    for (Rollout r : rollouts(c)) {
      if (!r.released() && autoReleaseAt(org, r).filter(at -> !at.isAfter(now)).isPresent()
          && failures(c, r.id(), r.revision()).isEmpty()
          && release(c, r.id(), r.revision(), "system: no failure in " + org.autoReleaseAfter().get(), now)) {
        AuditLog.append(c, now, "system", "rollout.release", r.id() + "." + r.revision(),
            "released to every ring: " + org.autoReleaseAfter().get() + " passed with no canary failure");
        released.add(r);
      }
    }
    return released;
  }

  /** The effective policy of one agent. */
  static Effective effective(Connection c, Agents.Agent agent) throws SQLException {
    OrgSettings org = org(c);
    Set<String> blocked = orgBlocks(c);
    blocked.addAll(serverBlocks(c, agent.agentId()));
    Map<String, String> modes = orgModes(c);
    modes.putAll(serverModes(c, agent.agentId()));
    Map<String, String> held = new TreeMap<>();
    boolean canary = agent.ring().map(CANARY::equals).orElse(false);
    if (org.rolloutEnabled() && !canary) {
      for (Rollout r : rollouts(c)) {
        if (!r.released() && !held.containsKey(r.id())) {
          held.put(r.id(), heldReason(c, org, r));
        }
      }
    }
    return new Effective(org.mitigationsEnabled(), agent.mitigationsEnabled(), List.copyOf(blocked), modes, held);
  }

  /** Why a revision is held, in words an operator and the agent's status can show. */
  static String heldReason(Connection c, OrgSettings org, Rollout r) throws SQLException {
    String head = "rollout of " + r.id() + "." + r.revision() + ": ring canary first, ";
    List<String> failed = failures(c, r.id(), r.revision());
    if (!failed.isEmpty()) {
      return head + "halted: " + String.join(", ", failed) + (failed.size() == 1 ? " reports" : " report")
          + " it Failed; waiting for approval";
    }
    Optional<Instant> at = autoReleaseAt(org, r);
    if (at.isPresent()) {
      return head + "waiting for approval or automatic release at " + at.get()
          + " if no canary server reports it Failed";
    }
    return head + "waiting for approval";
  }

  /**
   * When a revision is released by itself if no canary fails: none without a delay, or when the delay is so
   * long that the instant cannot be represented (a value stored before the API capped it at a year).
   */
  private static Optional<Instant> autoReleaseAt(OrgSettings org, Rollout r) {
    try {
      return org.autoReleaseAfter().map(after -> r.firstSeen().plus(after));
    } catch (DateTimeException | ArithmeticException e) {
      return Optional.empty();
    }
  }
}
