package dev.tourniquet.server;

import java.sql.SQLException;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The JSON admin API under {@code /api/v1/admin/}, for authenticated users by role. Each operation is
 * the same as a {@code tourniquet} command pointed at a server; docs/server.md lists them side by side.
 */
final class AdminApi {
  private static final Pattern MODE = Pattern.compile("enforce|audit");
  private static final String MAX_TOKEN_TTL = "P30D";
  /** A year: longer is approval only in all but name, and an instant so far out no longer computes. */
  private static final String MAX_AUTO_RELEASE = "P365D";
  /** The actor of the server's own audit entries (first start, automatic release); no user may take it. */
  private static final String SYSTEM_ACTOR = "system";
  /** The query parameters of {@code GET audit}, in the order the docs give them; no other resource takes any. */
  private static final Set<String> AUDIT_QUERY = new java.util.LinkedHashSet<>(List.of("limit", "before"));

  private final Fleet fleet;

  AdminApi(Fleet fleet) {
    this.fleet = fleet;
  }

  /** A request after authentication: method, path segments after {@code admin}, and the body. */
  Reply handle(String method, List<String> path, Users.Principal user, BodySupplier body)
      throws SQLException, HttpException {
    String p0 = path.isEmpty() ? "" : path.get(0);
    int n = path.size();
    // A misspelt or repeated parameter is refused, never ignored: audit?lmit=5 answered 100 entries.
    body.onlyQuery(p0.equals("audit") ? AUDIT_QUERY : Set.of());
    switch (p0) {
      case "whoami" -> {
        exact(n, 1, method, "GET");
        return Reply.json(200, Views.obj("user", user.name(), "role", user.role().label()));
      }
      case "policy" -> {
        exact(n, 1, method, "GET");
        return fleet.db().read(c -> Reply.json(200, Views.org(Policies.org(c), Policies.orgBlocks(c),
            Policies.orgModes(c))));
      }
      case "org" -> {
        if (n != 2) {
          throw notFound(path);
        }
        require(method, "POST");
        need(user, Role.OPERATOR);
        return change(path.get(1), Optional.empty(), user, body);
      }
      case "servers" -> {
        if (n == 1) {
          require(method, "GET");
          return servers();
        }
        String server = checked(path.get(1), JsonBodies.SERVER_NAME, "a server name");
        if (n == 2) {
          if (method.equals("DELETE")) {
            need(user, Role.ADMIN);
            body.jsonOrEmpty("remove server").only(Set.of());
            return message(fleet.removeServer(user, server));
          }
          if (!method.equals("GET")) {
            throw HttpException.methodNotAllowed(method, "GET", "DELETE");
          }
          return server(server);
        }
        if (n == 3) {
          require(method, "POST");
          need(user, Role.OPERATOR);
          if (path.get(2).equals("labels")) {
            JsonBodies.Obj o = body.json("labels").only(Set.of("labels"));
            // Required: the labels replace all the server's labels, its ring with them, so a body without them
            // (or with null) is a mistake to refuse, not a request to remove them all; {} says that.
            if (!o.has("labels")) {
              throw o.error("labels", "an object of at most 32 string values ({} removes every label)",
                  o.present("labels") ? JsonBodies.MAPPER.getNodeFactory().nullNode() : null);
            }
            return message(fleet.setLabels(user, server, labels(o)));
          }
          return change(path.get(2), Optional.of(server), user, body);
        }
        throw notFound(path);
      }
      case "rollouts" -> {
        if (n == 1) {
          require(method, "GET");
          return rollouts();
        }
        if (n == 3 && path.get(2).equals("approve")) {
          require(method, "POST");
          need(user, Role.OPERATOR);
          String id = checked(path.get(1), JsonBodies.MITIGATION_ID, "a mitigation id");
          JsonBodies.Obj o = body.jsonOrEmpty("approve").only(Set.of("revision"));
          Optional<Integer> revision = o.has("revision")
              ? Optional.of((int) o.integer("revision", 1, Integer.MAX_VALUE)) : Optional.empty();
          return message(fleet.approve(user, id, revision));
        }
        throw notFound(path);
      }
      case "audit" -> {
        exact(n, 1, method, "GET");
        return audit(body.query("limit"), body.query("before"));
      }
      case "feeds" -> {
        exact(n, 1, method, "GET");
        return feeds();
      }
      case "users" -> {
        if (n == 1 && method.equals("GET")) {
          need(user, Role.ADMIN);
          return Reply.json(200, fleet.db().read(c -> Users.list(c).stream().map(u -> Views.obj("name", u.name(),
              "role", u.role().label(), "createdAt", u.createdAt().toString(), "createdBy", u.createdBy())).toList()));
        }
        if (n == 1) {
          if (!method.equals("POST")) {
            throw HttpException.methodNotAllowed(method, "GET", "POST");
          }
          need(user, Role.ADMIN);
          JsonBodies.Obj o = body.json("user").only(Set.of("name", "role"));
          String name = o.string("name", JsonBodies.USER_NAME, "a user name (a-z, 0-9, '.', '_', '-', at most 64)");
          if (name.equals(SYSTEM_ACTOR)) {
            throw HttpException.badRequest("user: field \"name\": expected another name than \"%s\", the actor of the"
                + " server's own entries in the audit log", SYSTEM_ACTOR);
          }
          Role role = Role.parse(o.text("role", 16));
          String token = fleet.createUser(user, name, role);
          return Reply.json(201, Views.obj("name", name, "role", role.label(), "token", token));
        }
        String name = checked(path.get(1), JsonBodies.USER_NAME, "a user name");
        if (n == 2) {
          require(method, "DELETE");
          need(user, Role.ADMIN);
          body.jsonOrEmpty("delete user").only(Set.of());
          fleet.deleteUser(user, name);
          return message("deleted user " + name);
        }
        if (n == 3 && path.get(2).equals("token")) {
          require(method, "POST");
          need(user, Role.ADMIN);
          body.jsonOrEmpty("user token").only(Set.of());
          return Reply.json(200, Views.obj("name", name, "token", fleet.newUserToken(user, name)));
        }
        throw notFound(path);
      }
      case "enrolment-tokens" -> {
        if (n != 1) {
          throw notFound(path);
        }
        need(user, Role.ADMIN);
        if (method.equals("GET")) {
          return Reply.json(200, fleet.db().read(c -> Agents.enrolmentTokens(c).stream().map(t -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", t.id());
            m.put("createdBy", t.createdBy());
            m.put("createdAt", t.createdAt().toString());
            m.put("expiresAt", t.expiresAt().toString());
            m.put("note", t.note());
            m.put("usedAt", Views.time(t.usedAt()));
            m.put("usedBy", t.usedBy().orElse(null));
            return m;
          }).toList()));
        }
        if (!method.equals("POST")) {
          throw HttpException.methodNotAllowed(method, "GET", "POST");
        }
        JsonBodies.Obj o = body.jsonOrEmpty("enrolment token").only(Set.of("ttl", "note"));
        Duration ttl = duration(o, "enrolment token", "ttl", MAX_TOKEN_TTL).orElse(Duration.ofHours(24));
        String note = o.optPlainText("note", 500).orElse("");
        String token = fleet.issueEnrolmentToken(user, ttl, note);
        return Reply.json(201, Views.obj("token", token, "expiresAt", fleet.now().plus(ttl).toString()));
      }
      default -> throw notFound(path);
    }
  }

  /** Body and query access, read lazily so that a refused request never reads its body. */
  interface BodySupplier {
    JsonBodies.Obj json(String what) throws HttpException;

    JsonBodies.Obj jsonOrEmpty(String what) throws HttpException;

    Optional<String> query(String name);

    /** Refuses a query parameter not in {@code allowed}, and one given twice. */
    void onlyQuery(Set<String> allowed) throws HttpException;
  }

  private Reply change(String verb, Optional<String> server, Users.Principal user, BodySupplier body)
      throws SQLException, HttpException {
    switch (verb) {
      case "enable", "disable" -> {
        body.jsonOrEmpty(verb).only(Set.of());
        return message(fleet.setEnabled(user, server, verb.equals("enable")));
      }
      case "block", "unblock" -> {
        JsonBodies.Obj o = body.json(verb).only(Set.of("id"));
        String id = o.string("id", JsonBodies.MITIGATION_ID, "a mitigation id such as M1 or TQ-2026-0001");
        return message(verb.equals("block") ? fleet.block(user, server, id) : fleet.unblock(user, server, id));
      }
      case "mode" -> {
        JsonBodies.Obj o = body.json(verb).only(Set.of("id", "mode"));
        String id = o.string("id", JsonBodies.MITIGATION_ID, "a mitigation id such as M1 or TQ-2026-0001");
        if (!o.present("mode")) {
          throw o.error("mode", "\"enforce\", \"audit\" or null (null: the publisher's mode)", null);
        }
        Optional<String> mode = o.optString("mode", MODE, "\"enforce\", \"audit\" or null (the publisher's mode)");
        return message(fleet.setMode(user, server, id, mode));
      }
      case "rollout" -> {
        if (server.isPresent()) {
          throw HttpException.notFound("rollout is set for the organisation: POST /api/v1/admin/org/rollout");
        }
        JsonBodies.Obj o = body.json(verb).only(Set.of("enabled", "autoReleaseAfter"));
        boolean enabled = o.bool("enabled");
        Optional<Duration> after = duration(o, "rollout", "autoReleaseAfter", MAX_AUTO_RELEASE);
        return message(fleet.setRollout(user, enabled, after));
      }
      default -> throw HttpException.notFound("no operation %s; expected enable, disable, block, unblock, mode%s",
          JsonBodies.quote(verb), server.isPresent() ? " or labels" : " or rollout");
    }
  }

  private Reply servers() throws SQLException, HttpException {
    Fleet.Overview o = fleet.overview(0, 0);
    return Reply.json(200, o.agents().stream().map(a -> Views.server(a, o.reports().getOrDefault(a.agentId(), List.of()),
        fleet.stale(a))).toList());
  }

  private Reply server(String server) throws SQLException, HttpException {
    return fleet.db().read(c -> {
      Agents.Agent a = Agents.requireServer(c, server);
      List<Agents.MitigationReport> rows = Agents.mitigations(c, a.agentId());
      Map<String, Object> out = Views.server(a, rows, fleet.stale(a));
      out.put("blocked", List.copyOf(Policies.serverBlocks(c, a.agentId())));
      out.put("modes", Policies.serverModes(c, a.agentId()));
      out.put("effectivePolicy", Policies.effective(c, a).json());
      out.put("mitigations", rows.stream().map(Views::mitigation).toList());
      return Reply.json(200, out);
    });
  }

  private Reply rollouts() throws SQLException, HttpException {
    Fleet.Overview o = fleet.overview(0, 0);
    List<Object> out = new java.util.ArrayList<>();
    for (Policies.Rollout r : o.rollouts()) {
      List<String> failures = fleet.db().read(c -> Policies.failures(c, r.id(), r.revision()));
      out.add(Views.rollout(r, o.heldReasons(), Fleet.progress(r, o.agents(), o.reports()), failures));
    }
    return Reply.json(200, out);
  }

  private Reply feeds() throws SQLException {
    List<Object> out = new java.util.ArrayList<>();
    for (HostedFeed f : fleet.feeds().values()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", f.name());
      m.put("url", "/feeds/" + f.name() + "/");
      try {
        m.put("timestampSha256", f.timestampHash().orElse(null));
        m.put("mitigations", f.listMitigations().stream().map(l -> Views.obj("id", l.id(), "revision", l.revision()))
            .toList());
      } catch (java.io.IOException | RuntimeException e) {
        m.put("error", "cannot read the feed's published metadata: " + e.getMessage());
      }
      out.add(m);
    }
    return Reply.json(200, out);
  }

  private Reply audit(Optional<String> limitText, Optional<String> beforeText) throws SQLException, HttpException {
    int limit = (int) number("limit", limitText, 1, 1000).orElse(100L).longValue();
    long before = number("before", beforeText, 1, Long.MAX_VALUE).orElse(0L);
    AuditLog.Page page = fleet.db().read(c -> AuditLog.page(c, limit, before));
    Reply reply = Reply.json(200, page.entries().stream().map(Views::audit).toList());
    // The body stays the array it always was; where the next page starts is a header (RFC 8288), present only
    // when older entries exist, so a client need not ask for an empty page to learn it has them all.
    return page.olderBefore().map(id -> reply.with("Link", "</api/v1/admin/audit?limit=" + limit + "&before=" + id
        + ">; rel=\"next\"")).orElse(reply);
  }

  private static Optional<Long> number(String name, Optional<String> text, long min, long max) throws HttpException {
    if (text.isEmpty()) {
      return Optional.empty();
    }
    try {
      long v = Long.parseLong(text.get());
      if (v >= min && v <= max) {
        return Optional.of(v);
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw HttpException.badRequest("query parameter %s: expected a whole number from %d to %d but found %s", name, min,
        max, JsonBodies.quote(text.get()));
  }

  static Map<String, String> labels(JsonBodies.Obj o) throws HttpException {
    return o.stringMap("labels", JsonBodies.LABEL_KEY, "lowercase names (a-z, 0-9, '.', '_', '-', at most 63)", 200, 32);
  }

  /**
   * An optional ISO-8601 duration field of whole seconds from one second to {@code max}: the database keeps
   * seconds, so a fraction would be cut silently ({@code PT0.5S} would become an immediate release).
   */
  private static Optional<Duration> duration(JsonBodies.Obj o, String what, String field, String max)
      throws HttpException {
    Optional<String> text = o.optText(field, 32);
    if (text.isEmpty()) {
      return Optional.empty();
    }
    String expected = "an ISO-8601 duration of whole seconds from PT1S to " + max + " such as PT4H or P7D";
    Duration d;
    try {
      d = Duration.parse(text.get());
    } catch (DateTimeParseException e) {
      throw HttpException.badRequest("%s: field \"%s\": expected %s but found %s", what, field, expected,
          JsonBodies.quote(text.get()));
    }
    if (d.getNano() != 0 || d.compareTo(Duration.ofSeconds(1)) < 0 || d.compareTo(Duration.parse(max)) > 0) {
      throw HttpException.badRequest("%s: field \"%s\": expected %s but found %s", what, field, expected,
          JsonBodies.quote(text.get()));
    }
    return Optional.of(d);
  }

  private static Reply message(String text) {
    return Reply.json(200, Map.of("result", text));
  }

  private static String checked(String value, Pattern pattern, String what) throws HttpException {
    if (!pattern.matcher(value).matches()) {
      throw HttpException.badRequest("path: expected %s but found %s", what, JsonBodies.quote(value));
    }
    return value;
  }

  static void need(Users.Principal user, Role required) throws HttpException {
    if (!user.role().allows(required)) {
      throw HttpException.forbidden("user %s has role %s; this operation needs role %s", user.name(),
          user.role().label(), required.label());
    }
  }

  private static void exact(int n, int expected, String method, String allowed) throws HttpException {
    if (n != expected) {
      throw HttpException.notFound("no such admin resource");
    }
    require(method, allowed);
  }

  private static void require(String method, String allowed) throws HttpException {
    if (!method.equals(allowed)) {
      throw HttpException.methodNotAllowed(method, allowed);
    }
  }

  private static HttpException notFound(List<String> path) {
    return HttpException.notFound("no admin resource /api/v1/admin/%s", String.join("/", path));
  }
}
