package dev.tourniquet.server;

import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Enrolled agents: one-time enrolment tokens, the exchange of a token for the agent's own credential,
 * authentication of agents by credential, and the reports they send. An agent is known by its server
 * name, unique in the fleet; its credential is the only thing that identifies it on the wire, so one
 * agent can never read or write another's rows.
 *
 * <p>Server names are compared ignoring case: {@code web1} and {@code WEB1} would be two rows an operator
 * takes for one server, with a policy set on one silently missing the other. Enrolment refuses a name that
 * equals an enrolled one ignoring case, and the unique {@code server_name_key} (the name in lower case)
 * refuses it too when two enrolments check at once. An admin's name for a server finds it in any case.
 * Names that differ only in case can exist only from before (schema V4 kept them): each is then found by
 * its exact name, and the first enrolled holds the key.
 */
final class Agents {
  /** The statuses an agent may report for a mitigation (the agent's {@code Status} labels). */
  static final List<String> STATUSES = List.of("Applied", "Audit", "Detected", "Blocked", "Failed", "NotApplicable",
      "Removed");

  /** An enrolled agent and what it last reported. */
  record Agent(String agentId, String server, Map<String, String> labels, Optional<String> ring,
      boolean mitigationsEnabled, Instant enrolledAt, Optional<Instant> lastSeen, Optional<Boolean> dataCollection,
      Optional<Instant> reportedAt, Optional<String> agentVersion, Optional<String> productVersion,
      Optional<Instant> lastCheck, Optional<Instant> nextCheck, Optional<String> feedHealth) {}

  /** One mitigation as one agent last reported it. */
  record MitigationReport(String id, int revision, String kind, String status, String reason,
      Map<String, Long> auditHits) {}

  /** A full report (data collection on). */
  record Report(String agentVersion, String productVersion, Optional<Instant> lastCheck, Optional<Instant> nextCheck,
      String feedHealth, List<MitigationReport> mitigations) {}

  /** An enrolment token as listed (never the token itself). */
  record EnrolmentToken(String id, String createdBy, Instant createdAt, Instant expiresAt, String note,
      Optional<Instant> usedAt, Optional<String> usedBy) {}

  /** The answer to a successful enrolment: shown to the agent once. */
  record Enrolled(String agentId, String credential) {}

  private static final String AGENT_COLUMNS = "agent_id, server_name, labels, ring, mitigations_enabled, enrolled_at,"
      + " last_seen, data_collection, reported_at, agent_version, product_version, last_check, next_check, feed_health";

  /**
   * The servers whose name in lower case is the parameter (given twice): the rows {@code LOWER(server_name) = ?}
   * finds, read through the unique index on {@code server_name_key} instead of a scan of the table. Every key is
   * its row's name in lower case (V4 wrote {@code LOWER(server_name)}; enrolment and {@link #delete} write
   * {@link #nameKey}, which agrees with it on the ASCII names a server may have). The rows without a key, names
   * kept from before V4 that differ only in case from an older one and that no enrolment adds, are read from
   * the same index under NULL and compared. A UNION ALL rather than an OR of the two conditions: H2 scans the
   * whole table for the OR.
   */
  static final String SAME_NAME = "SELECT " + AGENT_COLUMNS + " FROM agents WHERE server_name_key = ?"
      + " UNION ALL SELECT " + AGENT_COLUMNS + " FROM agents WHERE server_name_key IS NULL AND LOWER(server_name) = ?"
      + " ORDER BY enrolled_at, agent_id";
  /**
   * Locks, until the transaction ends, the rows {@link #SAME_NAME} reads (the lower-case name given twice), in
   * the order of their ids: every removal takes the rows of a group in that one order, so that two removals
   * wait for each other instead of deadlocking. {@code FOR UPDATE} cannot follow a UNION, so the UNION picks
   * the ids by the index on the key and the outer query locks the rows. A row whose key a concurrent removal
   * set (it became the holder) still matches when PostgreSQL reads it again after waiting; a row removed
   * meanwhile is not returned.
   */
  static final String LOCK_SAME_NAME = "SELECT agent_id FROM agents WHERE agent_id IN (SELECT agent_id FROM agents"
      + " WHERE server_name_key = ? UNION ALL SELECT agent_id FROM agents WHERE server_name_key IS NULL"
      + " AND LOWER(server_name) = ?) ORDER BY agent_id FOR UPDATE";
  /**
   * The servers without a key, and those whose key is the lower-case name of one of them, each group's first
   * enrolled first: by the index on the key too, for the reason {@link #SAME_NAME} gives.
   */
  static final String NAMES_DIFFERING_ONLY_IN_CASE = "SELECT server_name, enrolled_at, agent_id FROM agents"
      + " WHERE server_name_key IS NULL UNION ALL SELECT server_name, enrolled_at, agent_id FROM agents"
      + " WHERE server_name_key IN (SELECT LOWER(server_name) FROM agents WHERE server_name_key IS NULL)"
      + " ORDER BY enrolled_at, agent_id";

  private Agents() {}

  static String issueEnrolmentToken(Connection c, String createdBy, Instant now, Duration ttl, String note)
      throws SQLException {
    String token = Secrets.newSecret(Secrets.ENROLMENT);
    Database.update(c, "INSERT INTO enrolment_tokens (token_hash, created_by, created_at, expires_at, note)"
        + " VALUES (?, ?, ?, ?, ?)", Secrets.hash(token), createdBy, now, now.plus(ttl), note);
    return token;
  }

  static List<EnrolmentToken> enrolmentTokens(Connection c) throws SQLException {
    return Database.query(c, "SELECT t.token_hash, t.created_by, t.created_at, t.expires_at, t.note, t.used_at,"
            + " a.server_name FROM enrolment_tokens t LEFT JOIN agents a ON a.agent_id = t.used_by_agent"
            + " ORDER BY t.created_at DESC",
        rs -> new EnrolmentToken(rs.getString("token_hash").substring(0, 12), rs.getString("created_by"),
            Database.instant(rs, "created_at"), Database.instant(rs, "expires_at"), rs.getString("note"),
            Optional.ofNullable(Database.instant(rs, "used_at")), Optional.ofNullable(rs.getString("server_name"))));
  }

  /**
   * Exchanges a one-time token for a new agent credential. The token is consumed in the same transaction
   * as the agent is created: a refused enrolment (a server name already enrolled) leaves it usable.
   *
   * @throws HttpException 403 for a token that is wrong, used or expired; 409 for a name already enrolled
   */
  static Enrolled enrol(Connection c, String token, String server, Map<String, String> labels, Instant now)
      throws SQLException, HttpException {
    // 403, not 401: the token is in the body, and HTTP authentication cannot stand in for it, so a 401 could
    // carry no challenge that fits (RFC 9110 15.5.2 requires one); the request is understood and refused.
    String invalid = "enrolment token: expected a valid, unused, unexpired token from an administrator"
        + " (tourniquet server enrolment-token, or POST /api/v1/admin/enrolment-tokens)";
    if (!Secrets.looksLike(Secrets.ENROLMENT, token)) {
      throw HttpException.forbidden("%s", invalid);
    }
    String agentId = Secrets.newId();
    int consumed = Database.update(c, "UPDATE enrolment_tokens SET used_at = ?, used_by_agent = ?"
        + " WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?", now, agentId, Secrets.hash(token), now);
    if (consumed != 1) {
      throw HttpException.forbidden("%s", invalid);
    }
    List<Agent> same = sameName(c, server);
    if (!same.isEmpty()) {
      throw alreadyEnrolled(server, same);
    }
    String credential = Secrets.newSecret(Secrets.AGENT);
    Database.update(c, "INSERT INTO agents (agent_id, server_name, server_name_key, credential_hash, labels, ring,"
            + " mitigations_enabled, enrolled_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        agentId, server, nameKey(server), Secrets.hash(credential), labelsJson(labels),
        Database.nullable(labels.get("ring")), true, now, now);
    return new Enrolled(agentId, credential);
  }

  /** The refusal of an enrolment under a name that {@code same} (enrolled servers) already have, ignoring case. */
  static HttpException alreadyEnrolled(String server, List<Agent> same) {
    List<String> names = same.stream().map(Agent::server).toList();
    if (names.contains(server)) {
      return HttpException.conflict("server %s is already enrolled; an admin must remove it first"
          + " (DELETE /api/v1/admin/servers/%s) before it can enrol again", server, server);
    }
    if (names.size() == 1) {
      return HttpException.conflict("server %s is already enrolled as %s (server names are compared ignoring case);"
          + " an admin must remove %s first (DELETE /api/v1/admin/servers/%s) before %s can enrol", server,
          names.get(0), names.get(0), names.get(0), server);
    }
    return HttpException.conflict("server %s is already enrolled as %s (server names are compared ignoring case);"
        + " an admin must remove each of them first (DELETE /api/v1/admin/servers/NAME) before %s can enrol", server,
        and(names), server);
  }

  /** The key that makes server names unique ignoring case ({@code agents.server_name_key}). */
  static String nameKey(String server) {
    return server.toLowerCase(Locale.ROOT);
  }

  /**
   * The enrolled servers whose name equals {@code server} ignoring case, first enrolled first: none or one,
   * or several enrolled before names were compared ignoring case.
   */
  static List<Agent> sameName(Connection c, String server) throws SQLException {
    String key = nameKey(server);
    return Database.query(c, SAME_NAME, Agents::agent, key, key);
  }

  /**
   * Names enrolled before names were compared ignoring case that differ only in case, in groups, each first
   * enrolled first. A server without a key that is the only one of its name is in no group: it differs from no
   * other, and V5 gave each such server the key.
   */
  static List<List<String>> namesDifferingOnlyInCase(Connection c) throws SQLException {
    Map<String, List<String>> groups = new LinkedHashMap<>();
    for (String name : Database.query(c, NAMES_DIFFERING_ONLY_IN_CASE, rs -> rs.getString(1))) {
      groups.computeIfAbsent(nameKey(name), k -> new java.util.ArrayList<>()).add(name);
    }
    return groups.values().stream().filter(g -> g.size() > 1).map(List::copyOf).toList();
  }

  /** "a", "a and b", "a, b and c". */
  static String and(List<String> names) {
    int n = names.size();
    return n <= 1 ? String.join("", names) : String.join(", ", names.subList(0, n - 1)) + " and " + names.get(n - 1);
  }

  static Optional<Agent> byCredential(Connection c, String credential) throws SQLException {
    if (!Secrets.looksLike(Secrets.AGENT, credential)) {
      return Optional.empty();
    }
    return Database.queryOne(c, "SELECT " + AGENT_COLUMNS + " FROM agents WHERE credential_hash = ?", Agents::agent,
        Secrets.hash(credential));
  }

  /**
   * The server an admin names, in any case: the one of that exact name, else the one whose name equals it
   * ignoring case.
   *
   * @throws HttpException 404 if none, 409 if several (enrolled before names were compared ignoring case)
   *     match and none exactly
   */
  static Agent requireServer(Connection c, String server) throws SQLException, HttpException {
    List<Agent> same = sameName(c, server);
    for (Agent a : same) {
      if (a.server().equals(server)) {
        return a;
      }
    }
    if (same.isEmpty()) {
      throw HttpException.notFound("no enrolled server named %s", server);
    }
    if (same.size() > 1) {
      throw HttpException.conflict("server name %s matches %s, which differ only in case (enrolled before server"
          + " names were compared ignoring case); expected the exact name of one of them", server,
          and(same.stream().map(Agent::server).toList()));
    }
    return same.get(0);
  }

  static Optional<Agent> byId(Connection c, String agentId) throws SQLException {
    return Database.queryOne(c, "SELECT " + AGENT_COLUMNS + " FROM agents WHERE agent_id = ?", Agents::agent, agentId);
  }

  static List<Agent> list(Connection c) throws SQLException {
    return Database.query(c, "SELECT " + AGENT_COLUMNS + " FROM agents ORDER BY server_name", Agents::agent);
  }

  /** Every reported mitigation row, by agent id. */
  static Map<String, List<MitigationReport>> mitigations(Connection c) throws SQLException {
    Map<String, List<MitigationReport>> out = new TreeMap<>();
    for (var row : Database.query(c, "SELECT agent_id, mitigation_id, revision, kind, status, reason, audit_hits"
        + " FROM agent_mitigations ORDER BY agent_id, mitigation_id", rs -> Map.entry(rs.getString("agent_id"),
            mitigation(rs)))) {
      out.computeIfAbsent(row.getKey(), k -> new java.util.ArrayList<>()).add(row.getValue());
    }
    return out;
  }

  static List<MitigationReport> mitigations(Connection c, String agentId) throws SQLException {
    return Database.query(c, "SELECT mitigation_id, revision, kind, status, reason, audit_hits FROM agent_mitigations"
        + " WHERE agent_id = ? ORDER BY mitigation_id", Agents::mitigation, agentId);
  }

  /** Data collection is off: the agent was seen, and the server keeps nothing else about it. */
  static void heartbeat(Connection c, String agentId, Instant now) throws SQLException {
    Database.update(c, "UPDATE agents SET last_seen = ?, data_collection = ?, reported_at = NULL, agent_version = NULL,"
        + " product_version = NULL, last_check = NULL, next_check = NULL, feed_health = NULL WHERE agent_id = ?",
        now, false, agentId);
    Database.update(c, "DELETE FROM agent_mitigations WHERE agent_id = ?", agentId);
  }

  /**
   * Replaces what the agent reported before with this report. Only the rows that differ from
   * {@code previous} (the agent's rows as read in the same transaction) are written: most reports change
   * one mitigation or none.
   */
  static void report(Connection c, String agentId, Report report, List<MitigationReport> previous, Instant now)
      throws SQLException {
    Database.update(c, "UPDATE agents SET last_seen = ?, data_collection = ?, reported_at = ?, agent_version = ?,"
            + " product_version = ?, last_check = ?, next_check = ?, feed_health = ? WHERE agent_id = ?",
        now, true, now, report.agentVersion(), report.productVersion(),
        Database.nullable(report.lastCheck().orElse(null)), Database.nullable(report.nextCheck().orElse(null)),
        report.feedHealth(), agentId);
    Map<String, MitigationReport> before = new HashMap<>();
    previous.forEach(m -> before.put(m.id(), m));
    for (MitigationReport m : report.mitigations()) {
      MitigationReport old = before.remove(m.id());
      if (m.equals(old)) {
        continue;
      }
      String hits = new String(JsonBodies.write(m.auditHits()), StandardCharsets.UTF_8);
      if (old == null) {
        Database.update(c, "INSERT INTO agent_mitigations (agent_id, mitigation_id, revision, kind, status, reason,"
            + " audit_hits) VALUES (?, ?, ?, ?, ?, ?, ?)", agentId, m.id(), m.revision(), m.kind(), m.status(), m.reason(),
            hits);
      } else {
        Database.update(c, "UPDATE agent_mitigations SET revision = ?, kind = ?, status = ?, reason = ?, audit_hits = ?"
            + " WHERE agent_id = ? AND mitigation_id = ?", m.revision(), m.kind(), m.status(), m.reason(), hits, agentId,
            m.id());
      }
    }
    for (String gone : before.keySet()) {
      Database.update(c, "DELETE FROM agent_mitigations WHERE agent_id = ? AND mitigation_id = ?", agentId, gone);
    }
  }

  static void setEnabled(Connection c, String agentId, boolean enabled) throws SQLException {
    Database.update(c, "UPDATE agents SET mitigations_enabled = ? WHERE agent_id = ?", enabled, agentId);
  }

  static void setLabels(Connection c, String agentId, Map<String, String> labels) throws SQLException {
    Database.update(c, "UPDATE agents SET labels = ?, ring = ? WHERE agent_id = ?", labelsJson(labels),
        Database.nullable(labels.get("ring")), agentId);
  }

  /**
   * Removes a server found by {@link #requireServer}, its policy and reports with it. When it held the key of
   * its name, the next of the names that differ from it only in case takes the key, so that the unique index
   * guards the name again against a concurrent enrolment.
   *
   * <p>First the rows of every server of that name, ignoring case, are locked ({@link #LOCK_SAME_NAME}), and
   * only then is it decided who holds the key. Without the lock two removals at once (two admins, or two server
   * processes on one database) each decided from what the other had not committed yet: one removing the holder
   * handed the key to the twin the other was removing, and the third twin was left without it. With it, the
   * second removal waits for the first to commit and then sees the group as the first left it. A removal that
   * finds its server gone once it holds the lock (two admins removed the same one) changes nothing.
   *
   * @throws HttpException 404 if another request removed the server after {@code agent} was read
   */
  static void delete(Connection c, Agent agent) throws SQLException, HttpException {
    String key = nameKey(agent.server());
    List<String> group = Database.query(c, LOCK_SAME_NAME, rs -> rs.getString(1), key, key);
    if (!group.contains(agent.agentId())) {
      throw HttpException.notFound("no enrolled server named %s: another request removed it while this one waited;"
          + " nothing was removed", agent.server());
    }
    Database.update(c, "DELETE FROM agents WHERE agent_id = ?", agent.agentId());
    // Of names kept from before V4 that differ only in case, the first enrolled holds the key. V5 gave it back to
    // each group that removals before the lock above existed had left without a holder; a group still without
    // one (such a removal by an older server process on the same database) gets it back here too.
    if (Database.query(c, "SELECT agent_id FROM agents WHERE server_name_key = ?", rs -> rs.getString(1), key)
        .isEmpty()) {
      List<Agent> rest = sameName(c, agent.server());
      if (!rest.isEmpty()) {
        Database.update(c, "UPDATE agents SET server_name_key = ? WHERE agent_id = ?", key, rest.get(0).agentId());
      }
    }
  }

  private static String labelsJson(Map<String, String> labels) {
    return new String(JsonBodies.write(new TreeMap<>(labels)), java.nio.charset.StandardCharsets.UTF_8);
  }

  private static Agent agent(ResultSet rs) throws SQLException {
    Map<String, String> labels;
    try {
      labels = JsonBodies.MAPPER.readValue(rs.getString("labels"), new TypeReference<LinkedHashMap<String, String>>() {});
    } catch (IOException e) {
      throw new SQLException("agents.labels of " + rs.getString("server_name") + ": expected a JSON object: "
          + e.getMessage(), e);
    }
    Object dc = rs.getObject("data_collection");
    return new Agent(rs.getString("agent_id"), rs.getString("server_name"), labels,
        Optional.ofNullable(rs.getString("ring")), rs.getBoolean("mitigations_enabled"),
        Database.instant(rs, "enrolled_at"), Optional.ofNullable(Database.instant(rs, "last_seen")),
        Optional.ofNullable(dc == null ? null : (Boolean) dc), Optional.ofNullable(Database.instant(rs, "reported_at")),
        Optional.ofNullable(rs.getString("agent_version")), Optional.ofNullable(rs.getString("product_version")),
        Optional.ofNullable(Database.instant(rs, "last_check")), Optional.ofNullable(Database.instant(rs, "next_check")),
        Optional.ofNullable(rs.getString("feed_health")));
  }

  private static MitigationReport mitigation(ResultSet rs) throws SQLException {
    Map<String, Long> hits;
    try {
      hits = JsonBodies.MAPPER.readValue(rs.getString("audit_hits"), new TypeReference<LinkedHashMap<String, Long>>() {});
    } catch (IOException e) {
      throw new SQLException("agent_mitigations.audit_hits: expected a JSON object: " + e.getMessage(), e);
    }
    return new MitigationReport(rs.getString("mitigation_id"), rs.getInt("revision"), rs.getString("kind"),
        rs.getString("status"), rs.getString("reason"), hits);
  }
}
