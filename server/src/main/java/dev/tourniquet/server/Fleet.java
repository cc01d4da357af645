package dev.tourniquet.server;

import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Every operation on the fleet that the admin API and the dashboard share, each one a transaction that
 * also writes its audit entry, followed by a notice on the bus so that connected agents learn of it. The
 * HTTP layers only authenticate, parse and render.
 */
final class Fleet {
  private final Database db;
  private final Clock clock;
  private final Bus bus;
  private final Map<String, HostedFeed> feeds;
  private final Duration staleAfter;

  Fleet(Database db, Clock clock, Bus bus, Map<String, HostedFeed> feeds, Duration staleAfter) {
    this.db = db;
    this.clock = clock;
    this.bus = bus;
    this.feeds = feeds;
    this.staleAfter = staleAfter;
  }

  Database db() {
    return db;
  }

  Instant now() {
    return clock.instant();
  }

  Map<String, HostedFeed> feeds() {
    return feeds;
  }

  Duration staleAfter() {
    return staleAfter;
  }

  private void policyChanged(Optional<String> agentId) {
    bus.publish(Bus.Notice.policy(agentId));
  }

  /** The server named, in any case ({@link Agents#requireServer}), or empty for the organisation. */
  private static Optional<Agents.Agent> agentOf(java.sql.Connection c, Optional<String> server)
      throws SQLException, HttpException {
    return server.isEmpty() ? Optional.empty() : Optional.of(Agents.requireServer(c, server.get()));
  }

  /** What a change applied to, by the server's name as enrolled, not as the admin typed it. */
  private static String scope(Optional<Agents.Agent> agent) {
    return agent.map(a -> "server " + a.server()).orElse("organisation");
  }

  private static Optional<String> id(Optional<Agents.Agent> agent) {
    return agent.map(Agents.Agent::agentId);
  }

  /** Which agent a policy change was for (empty: the organisation), its scope in words, and whether it changed. */
  private record Change(Optional<String> agentId, String scope, boolean changed) {}

  // Policy changes (operator).

  String block(Users.Principal actor, Optional<String> server, String id) throws SQLException, HttpException {
    Instant now = now();
    Change result = db.transaction(c -> {
      Optional<Agents.Agent> agent = agentOf(c, server);
      boolean changed = Policies.block(c, id(agent), id);
      if (changed) {
        AuditLog.append(c, now, actor.name(), "block", scope(agent) + ": " + id, "blocked " + id);
      }
      return new Change(id(agent), scope(agent), changed);
    });
    if (result.changed()) {
      policyChanged(result.agentId());
    }
    return result.changed() ? "blocked " + id + " (" + result.scope() + ")"
        : id + " was already blocked (" + result.scope() + ")";
  }

  String unblock(Users.Principal actor, Optional<String> server, String id) throws SQLException, HttpException {
    Instant now = now();
    Change result = db.transaction(c -> {
      Optional<Agents.Agent> agent = agentOf(c, server);
      boolean changed = Policies.unblock(c, id(agent), id);
      if (changed) {
        AuditLog.append(c, now, actor.name(), "unblock", scope(agent) + ": " + id, "unblocked " + id);
      }
      return new Change(id(agent), scope(agent), changed);
    });
    if (result.changed()) {
      policyChanged(result.agentId());
    }
    return result.changed() ? "unblocked " + id + " (" + result.scope() + ")"
        : id + " was not blocked (" + result.scope() + ")";
  }

  String setEnabled(Users.Principal actor, Optional<String> server, boolean enabled) throws SQLException, HttpException {
    Instant now = now();
    Change result = db.transaction(c -> {
      Optional<Agents.Agent> a = agentOf(c, server);
      if (a.isEmpty()) {
        Policies.setOrgEnabled(c, enabled);
      } else {
        Agents.setEnabled(c, a.get().agentId(), enabled);
      }
      AuditLog.append(c, now, actor.name(), enabled ? "enable" : "disable", scope(a),
          "mitigationsEnabled = " + enabled);
      return new Change(id(a), scope(a), true);
    });
    policyChanged(result.agentId());
    return "mitigations " + (enabled ? "enabled" : "disabled: detected only") + " (" + result.scope() + ")";
  }

  String setMode(Users.Principal actor, Optional<String> server, String id, Optional<String> mode)
      throws SQLException, HttpException {
    Instant now = now();
    Change result = db.transaction(c -> {
      Optional<Agents.Agent> a = agentOf(c, server);
      Policies.setMode(c, id(a), id, mode);
      AuditLog.append(c, now, actor.name(), "mode", scope(a) + ": " + id,
          mode.map(m -> "mode of " + id + " = " + m).orElse("mode override of " + id + " cleared"));
      return new Change(id(a), scope(a), true);
    });
    policyChanged(result.agentId());
    return mode.map(m -> id + " in " + m + " mode").orElse(id + ": publisher's mode") + " (" + result.scope() + ")";
  }

  String setLabels(Users.Principal actor, String server, Map<String, String> labels) throws SQLException, HttpException {
    Instant now = now();
    Agents.Agent agent = db.transaction(c -> {
      Agents.Agent a = Agents.requireServer(c, server);
      Agents.setLabels(c, a.agentId(), labels);
      AuditLog.append(c, now, actor.name(), "labels", "server " + a.server(), "labels " + a.labels() + " -> "
          + new TreeMap<>(labels));
      return a;
    });
    policyChanged(Optional.of(agent.agentId()));
    return "labels of " + agent.server() + " set";
  }

  String setRollout(Users.Principal actor, boolean enabled, Optional<Duration> autoReleaseAfter)
      throws SQLException, HttpException {
    Instant now = now();
    db.transaction(c -> {
      Policies.setRollout(c, enabled, autoReleaseAfter);
      AuditLog.append(c, now, actor.name(), "rollout", "organisation", "rollout rings " + (enabled ? "on" : "off")
          + autoReleaseAfter.map(d -> ", automatic release after " + d + " with no failure").orElse(
              enabled ? ", release by approval only" : ""));
      return null;
    });
    policyChanged(Optional.empty());
    return "rollout " + (enabled ? "on" : "off");
  }

  /** Approves a canary revision for every ring; the newest canary revision of the id when none is given. */
  String approve(Users.Principal actor, String id, Optional<Integer> revision) throws SQLException, HttpException {
    Instant now = now();
    int rev = db.transaction(c -> {
      Optional<Policies.Rollout> pending = Policies.rollouts(c).stream()
          .filter(r -> r.id().equals(id) && !r.released() && revision.map(v -> v == r.revision()).orElse(true))
          .max(Comparator.comparingInt(Policies.Rollout::revision));
      if (pending.isEmpty()) {
        throw HttpException.notFound("no revision of %s%s is waiting in ring canary", id,
            revision.map(r -> " with revision " + r).orElse(""));
      }
      Policies.Rollout r = pending.get();
      Policies.release(c, r.id(), r.revision(), actor.name(), now);
      List<String> failed = Policies.failures(c, r.id(), r.revision());
      AuditLog.append(c, now, actor.name(), "rollout.approve", r.id() + "." + r.revision(),
          "released to every ring" + (failed.isEmpty() ? "" : " despite failures on " + String.join(", ", failed)));
      return r.revision();
    });
    policyChanged(Optional.empty());
    return "released " + id + "." + rev + " to every ring";
  }

  /** Releases canary revisions whose delay passed with no failure; run on a schedule. */
  void autoRelease() throws SQLException, HttpException {
    Instant now = now();
    List<Policies.Rollout> released = db.transaction(c -> Policies.autoRelease(c, now));
    if (!released.isEmpty()) {
      policyChanged(Optional.empty());
    }
  }

  /**
   * Records the revisions a hosted feed lists; returns whether any was new. Agents hear of it only when
   * rollout rings are on: a new revision is then held back from every server outside ring canary. With
   * rollout off it is released as it is found and no agent's policy changes, so no policy is recomputed
   * for each connected agent while they are all checking the feed the push just announced.
   */
  boolean discover(HostedFeed feed, List<HostedFeed.Listed> listed) throws SQLException, HttpException {
    Instant now = now();
    var result = db.transaction(c -> {
      boolean added = false;
      boolean rollout = Policies.org(c).rolloutEnabled();
      for (HostedFeed.Listed m : listed) {
        if (Policies.discover(c, feed.name(), m.id(), m.revision(), now)) {
          added = true;
          AuditLog.append(c, now, "system", "rollout.discover", m.id() + "." + m.revision(),
              "found in feed " + feed.name() + (rollout ? "; released to ring canary only" : "; rollout off: released"));
        }
      }
      return Map.entry(added, added && rollout);
    });
    if (result.getValue()) {
      policyChanged(Optional.empty());
    }
    return result.getKey();
  }

  // Servers, users and tokens (admin).

  String removeServer(Users.Principal actor, String server) throws SQLException, HttpException {
    Instant now = now();
    Agents.Agent agent = db.transaction(c -> {
      Agents.Agent a = Agents.requireServer(c, server);
      Agents.delete(c, a);
      AuditLog.append(c, now, actor.name(), "server.remove", "server " + a.server(),
          "removed; its credential no longer works, it may enrol again with a new token");
      return a;
    });
    policyChanged(Optional.of(agent.agentId()));
    return "removed " + agent.server();
  }

  String issueEnrolmentToken(Users.Principal actor, Duration ttl, String note) throws SQLException, HttpException {
    Instant now = now();
    return db.transaction(c -> {
      String token = Agents.issueEnrolmentToken(c, actor.name(), now, ttl, note);
      AuditLog.append(c, now, actor.name(), "enrolment-token.issue", "token " + Secrets.hash(token).substring(0, 12),
          "valid until " + now.plus(ttl) + (note.isEmpty() ? "" : "; note: " + note));
      return token;
    });
  }

  String createUser(Users.Principal actor, String name, Role role) throws SQLException, HttpException {
    Instant now = now();
    return db.transaction(c -> {
      String token = Users.create(c, name, role, actor.name(), now);
      AuditLog.append(c, now, actor.name(), "user.create", "user " + name, "role " + role.label());
      return token;
    });
  }

  String newUserToken(Users.Principal actor, String name) throws SQLException, HttpException {
    Instant now = now();
    return db.transaction(c -> {
      String token = Users.newToken(c, name);
      AuditLog.append(c, now, actor.name(), "user.token", "user " + name, "new token issued; the old one is revoked");
      return token;
    });
  }

  void deleteUser(Users.Principal actor, String name) throws SQLException, HttpException {
    Instant now = now();
    db.transaction(c -> {
      List<Users.User> users = Users.list(c);
      Optional<Users.User> user = users.stream().filter(u -> u.name().equals(name)).findFirst();
      if (user.isEmpty()) {
        throw HttpException.notFound("no user named %s", name);
      }
      if (user.get().role() == Role.ADMIN && Users.lockAdmins(c).equals(List.of(name))) {
        throw HttpException.conflict("user %s is the last admin; create another admin first", name);
      }
      Users.delete(c, name);
      AuditLog.append(c, now, actor.name(), "user.delete", "user " + name, "deleted with its sessions");
      return null;
    });
  }

  // Agents.

  Agents.Enrolled enrol(String token, String server, Map<String, String> labels) throws SQLException, HttpException {
    Instant now = now();
    try {
      return db.transaction(c -> {
        Agents.Enrolled e = Agents.enrol(c, token, server, labels, now);
        AuditLog.append(c, now, "agent:" + server, "enrol", "server " + server, "enrolled with labels "
            + new TreeMap<>(labels));
        return e;
      });
    } catch (SQLException e) {
      // Another enrolment of the name, in this case or another, committed between this one's check and its
      // insert (a concurrent request, here or on another server process): the database refused the second.
      // Refused as the check would have refused it; the rollback left the token unused.
      if (Database.isUniqueViolation(e)) {
        List<Agents.Agent> same = db.read(c -> Agents.sameName(c, server));
        if (!same.isEmpty()) {
          throw Agents.alreadyEnrolled(server, same);
        }
      }
      throw e;
    }
  }

  Optional<Agents.Agent> agentByCredential(String credential) throws SQLException, HttpException {
    return db.read(c -> Agents.byCredential(c, credential));
  }

  Policies.Effective effectivePolicy(Agents.Agent agent) throws SQLException, HttpException {
    return db.read(c -> Policies.effective(c, agent));
  }

  /** The policy fingerprint of an agent by id, or empty if it no longer exists. */
  Optional<String> policyFingerprint(String agentId) {
    try {
      return db.read(c -> {
        Optional<Agents.Agent> a = Agents.byId(c, agentId);
        if (a.isEmpty()) {
          return Optional.<String>empty();
        }
        return Optional.of(new String(JsonBodies.write(Policies.effective(c, a.get()).json()),
            java.nio.charset.StandardCharsets.UTF_8));
      });
    } catch (SQLException | HttpException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  void report(Agents.Agent agent, Optional<Agents.Report> report) throws SQLException, HttpException {
    Instant now = now();
    boolean failuresMayHaveChanged = db.transaction(c -> {
      if (report.isEmpty()) {
        Agents.heartbeat(c, agent.agentId(), now);
        return false;
      }
      List<Agents.MitigationReport> previous = Agents.mitigations(c, agent.agentId());
      boolean before = previous.stream().anyMatch(m -> m.status().equals("Failed"));
      Agents.report(c, agent.agentId(), report.get(), previous, now);
      return (before || report.get().mitigations().stream().anyMatch(m -> m.status().equals("Failed")))
          && Policies.holding(c);
    });
    if (failuresMayHaveChanged) {
      // A failure halts a rollout: the held reasons other servers see change.
      policyChanged(Optional.empty());
    }
  }

  // Reads for the admin API and the dashboard.

  /** Everything the dashboard and the server list show, read in one go. */
  record Overview(Policies.OrgSettings org, java.util.Set<String> orgBlocks, Map<String, String> orgModes,
      List<Agents.Agent> agents, Map<String, List<Agents.MitigationReport>> reports, List<Policies.Rollout> rollouts,
      Map<String, String> heldReasons, AuditLog.Page audit, Map<String, java.util.Set<String>> serverBlocks,
      Map<String, Map<String, String>> serverModes) {}

  /**
   * Reads the overview with a page of at most {@code auditEntries} audit entries (none when 0), older than
   * the entry {@code auditBefore} when it is positive.
   */
  Overview overview(int auditEntries, long auditBefore) throws SQLException, HttpException {
    return db.read(c -> {
      Policies.OrgSettings org = Policies.org(c);
      List<Policies.Rollout> rollouts = Policies.rollouts(c);
      Map<String, String> held = new LinkedHashMap<>();
      for (Policies.Rollout r : rollouts) {
        if (!r.released()) {
          held.put(r.id() + "." + r.revision(), Policies.heldReason(c, org, r));
        }
      }
      return new Overview(org, Policies.orgBlocks(c), Policies.orgModes(c), Agents.list(c), Agents.mitigations(c),
          rollouts, held, auditEntries > 0 ? AuditLog.page(c, auditEntries, auditBefore)
              : new AuditLog.Page(List.of(), Optional.empty()), Policies.serverBlocks(c),
          Policies.serverModes(c));
    });
  }

  boolean stale(Agents.Agent agent) {
    return agent.lastSeen().map(t -> t.plus(staleAfter).isBefore(now())).orElse(true);
  }

  /** The status of one server row for sorting: failures first, then stale, then the rest. */
  static int severity(Agents.Agent agent, List<Agents.MitigationReport> rows, boolean stale) {
    if (rows.stream().anyMatch(m -> m.status().equals("Failed")) || agent.feedHealth().map(h -> !h.equals("ok"))
        .orElse(false)) {
      return 0;
    }
    return stale ? 1 : 2;
  }

  /** Rollout progress of one revision: count of servers per status, split by canary and other rings. */
  static Map<String, Map<String, Integer>> progress(Policies.Rollout r, List<Agents.Agent> agents,
      Map<String, List<Agents.MitigationReport>> reports) {
    Map<String, Map<String, Integer>> out = new LinkedHashMap<>();
    out.put("canary", new TreeMap<>());
    out.put("other", new TreeMap<>());
    for (Agents.Agent a : agents) {
      String ring = a.ring().map(Policies.CANARY::equals).orElse(false) ? "canary" : "other";
      for (Agents.MitigationReport m : reports.getOrDefault(a.agentId(), List.of())) {
        if (m.id().equals(r.id()) && m.revision() == r.revision()) {
          out.get(ring).merge(m.status(), 1, Integer::sum);
        }
      }
    }
    return out;
  }

  /** The servers that report a revision Failed, by name: what {@link Policies#failures} reads, from an overview. */
  static List<String> failures(Policies.Rollout r, List<Agents.Agent> agents,
      Map<String, List<Agents.MitigationReport>> reports) {
    List<String> out = new ArrayList<>();
    for (Agents.Agent a : agents) {
      if (reports.getOrDefault(a.agentId(), List.of()).stream().anyMatch(m -> m.id().equals(r.id())
          && m.revision() == r.revision() && m.status().equals("Failed"))) {
        out.add(a.server());
      }
    }
    out.sort(null);
    return out;
  }

  /** The most columns that ids only agents report can take, however many they report. */
  static final int REPORTED_COLUMNS = 30;

  /**
   * The matrix's columns, in order.
   *
   * @param ids first those the hosted feeds list and those the organisation's policy names (blocked or with a
   *     mode, for the organisation or one server), sorted; then, sorted, at most {@value #REPORTED_COLUMNS} of
   *     the ids only agents report: those the most servers report, the lower id first among equals
   * @param reportedBy for each column of the second kind, how many servers report it
   */
  record Columns(List<String> ids, Map<String, Integer> reportedBy) {}

  /**
   * The mitigations the dashboard gives a column. Those of the hosted feeds and the policy's always; of the
   * ids only agents report, those reported by the most servers, up to {@value #REPORTED_COLUMNS}. Agents that
   * read a feed served elsewhere, as well as the hosted ones or instead, report its mitigations, and only they
   * can name them: without a column, a mitigation the fleet applies would be only a count in each server's
   * Unknown cell. The limit is there because one agent, buggy or compromised, may report 2,000 ids, and each
   * would have been a column on every viewer's page; ranked by the servers that report them, a feed that many
   * servers read comes before what one agent invents. The rest are counted in the reporting server's row. The
   * hosted and policy ids come first, so that a column keeps its place whatever agents report.
   */
  static Columns columns(Overview o) {
    java.util.TreeSet<String> known = new java.util.TreeSet<>();
    o.rollouts().forEach(r -> known.add(r.id()));
    known.addAll(o.orgBlocks());
    known.addAll(o.orgModes().keySet());
    o.serverBlocks().values().forEach(known::addAll);
    o.serverModes().values().forEach(modes -> known.addAll(modes.keySet()));
    Map<String, Integer> servers = new java.util.HashMap<>();
    o.reports().values().forEach(rows -> rows.stream().map(Agents.MitigationReport::id).distinct()
        .filter(id -> !known.contains(id)).forEach(id -> servers.merge(id, 1, Integer::sum)));
    Map<String, Integer> reportedBy = new TreeMap<>();
    servers.entrySet().stream()
        .sorted(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
        .limit(REPORTED_COLUMNS).forEach(e -> reportedBy.put(e.getKey(), e.getValue()));
    List<String> ids = new ArrayList<>(known);
    ids.addAll(reportedBy.keySet());
    return new Columns(List.copyOf(ids), java.util.Collections.unmodifiableMap(reportedBy));
  }
}
