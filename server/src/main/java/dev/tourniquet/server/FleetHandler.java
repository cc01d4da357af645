package dev.tourniquet.server;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.sql.SQLException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes every request: feed files, the agent API, the admin API and the dashboard. Authentication and
 * input checks happen here before anything is read from or written to the database; every refusal is a
 * 4xx with {@code {"error": "..."}} and changes nothing.
 */
final class FleetHandler extends Handler.Abstract {
  private static final Logger LOG = LoggerFactory.getLogger(FleetHandler.class);
  static final int MAX_ENROL_BYTES = 16 * 1024;
  static final int MAX_REPORT_BYTES = 1024 * 1024;
  static final int MAX_ADMIN_BYTES = 64 * 1024;
  private static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.RFC_1123_DATE_TIME.withZone(ZoneOffset.UTC);
  private static final Set<String> REPORT_FIELDS = Set.of("server", "agentVersion", "productVersion", "lastCheck",
      "nextCheck", "feedHealth", "dataCollection", "mitigations");
  private static final Set<String> MITIGATION_FIELDS = Set.of("id", "revision", "kind", "status", "reason", "auditHits");

  private final Fleet fleet;
  private final Map<String, HostedFeed> feeds;
  private final EventStreams streams;
  private final AdminApi admin;
  private final Dashboard dashboard;

  FleetHandler(Fleet fleet, EventStreams streams, Dashboard dashboard) {
    this.fleet = fleet;
    this.feeds = fleet.feeds();
    this.streams = streams;
    this.admin = new AdminApi(fleet);
    this.dashboard = dashboard;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    String method = request.getMethod();
    Reply reply;
    // The path as routed, once decoded: what the answer is about, and so which challenge a 401 carries.
    List<String> path = List.of();
    try {
      String raw = request.getHttpURI().getPath();
      if (raw == null || !raw.startsWith("/")) {
        throw HttpException.badRequest("expected an absolute path");
      }
      path = decodedSegments(raw);
      // Feed files are routed on the decoded path like everything else (RFC 3986 6.2.2.2: /%66eeds/ is /feeds/).
      // The path is decoded here once and never again: the feed checks the decoded names it is given.
      if (path.get(0).equals("feeds")) {
        serveFeedFile(request, response, callback, path.subList(1, path.size()), raw.endsWith("/"));
        return true;
      }
      if (path.equals(List.of("api", "v1", "agent", "events"))) {
        requireMethod(method, "GET");
        Agents.Agent agent = authenticateAgent(request);
        String fingerprint = fleet.policyFingerprint(agent.agentId()).orElseThrow(
            () -> HttpException.unauthorized("agent credential: expected the credential of an enrolled agent"));
        streams.open(agent.agentId(), agent.server(), fingerprint, request, response, callback);
        return true;
      }
      reply = route(method, path, request);
    } catch (HttpException e) {
      reply = Reply.error(e.status(), e.getMessage());
      if (!e.allowed().isEmpty()) {
        reply = reply.with("Allow", String.join(", ", e.allowed()));
      }
    } catch (SQLException e) {
      if (Database.isUniqueViolation(e)) {
        reply = Reply.error(409, "a concurrent change to the same record won; retry");
      } else {
        LOG.error("database error on {} {}", method, request.getHttpURI().getPath(), e);
        reply = Reply.error(503, "the fleet database failed; the change was not made (see the server log)");
      }
    } catch (IOException | RuntimeException e) {
      LOG.error("internal error on {} {}", method, request.getHttpURI().getPath(), e);
      reply = Reply.error(500, "internal error; the change was not made (see the server log)");
    }
    if (reply.status() == 401) {
      reply = reply.with("WWW-Authenticate", challenge(path));
    }
    send(request, response, callback, reply);
    return true;
  }

  /**
   * The challenge a 401 must carry (RFC 9110 15.5.2) for a path as routed: the API takes a bearer token (an
   * agent's credential, a user's token); everything else is the dashboard, whose pages, forms and refresh take
   * the session cookie that its login form sets.
   */
  private String challenge(List<String> path) {
    return !path.isEmpty() && path.get(0).equals("api") ? "Bearer realm=\"tourniquet\"" : dashboard.challenge();
  }

  private Reply route(String method, List<String> path, Request request)
      throws HttpException, SQLException, IOException {
    if (path.size() >= 2 && path.get(0).equals("api") && path.get(1).equals("v1")) {
      List<String> rest = path.subList(2, path.size());
      if (rest.equals(List.of("enrol"))) {
        requireMethod(method, "POST");
        return enrol(request);
      }
      if (rest.equals(List.of("agent", "policy"))) {
        requireMethod(method, "GET");
        Agents.Agent agent = authenticateAgent(request);
        return Reply.json(200, fleet.effectivePolicy(agent).json());
      }
      if (rest.equals(List.of("agent", "report"))) {
        requireMethod(method, "POST");
        return report(request);
      }
      if (rest.size() >= 1 && rest.get(0).equals("admin")) {
        Users.Principal user = authenticateUser(request);
        return admin.handle(method, rest.subList(1, rest.size()), user, bodies(request));
      }
      throw HttpException.notFound("no API resource %s", request.getHttpURI().getPath());
    }
    if (path.equals(List.of("healthz"))) {
      requireMethod(method, "GET");
      return Reply.json(200, Map.of("status", "ok"));
    }
    return dashboard.handle(method, path, request, this);
  }

  // Agent API.

  private Reply enrol(Request request) throws HttpException, SQLException, IOException {
    JsonBodies.Obj o = JsonBodies.parse("enrolment", body(request, MAX_ENROL_BYTES, "enrolment"))
        .only(Set.of("token", "server", "labels"));
    String token = o.text("token", 100);
    String server = o.string("server", JsonBodies.SERVER_NAME,
        "a server name (letters, digits, '.', '_', '-'; at most 253)");
    Map<String, String> labels = AdminApi.labels(o);
    Agents.Enrolled enrolled = fleet.enrol(token, server, labels);
    LOG.info("server {} enrolled as agent {}", server, enrolled.agentId());
    return Reply.json(201, Views.obj("agentId", enrolled.agentId(), "credential", enrolled.credential()));
  }

  private Reply report(Request request) throws HttpException, SQLException, IOException {
    Agents.Agent agent = authenticateAgent(request);
    JsonBodies.Obj o = JsonBodies.parse("report", body(request, MAX_REPORT_BYTES, "report")).only(REPORT_FIELDS);
    if (!o.bool("dataCollection")) {
      // Data collection is off: a heartbeat, and nothing else may be sent or stored.
      for (String f : REPORT_FIELDS) {
        if (!f.equals("dataCollection") && o.present(f)) {
          throw HttpException.badRequest("report: field \"%s\": expected no field but dataCollection when data"
              + " collection is off", f);
        }
      }
      fleet.report(agent, Optional.empty());
      return Reply.noContent();
    }
    String server = o.string("server", JsonBodies.SERVER_NAME, "this server's name");
    if (!server.equals(agent.server())) {
      throw HttpException.forbidden("report: field \"server\": this credential belongs to server %s, not %s",
          agent.server(), server);
    }
    String agentVersion = o.text("agentVersion", 128);
    String productVersion = o.optText("productVersion", 128).orElse(null);
    // Not empty: anything but "ok" is shown to operators as the feed's error, and an empty one says nothing.
    String feedHealthExpected = "\"ok\" or the feed's error (1 to 2000 characters)";
    String feedHealth = o.optMessage("feedHealth", 2000).orElseThrow(() -> o.error("feedHealth", feedHealthExpected, null));
    if (feedHealth.isEmpty()) {
      throw o.error("feedHealth", feedHealthExpected, JsonBodies.MAPPER.getNodeFactory().textNode(feedHealth));
    }
    List<Agents.MitigationReport> rows = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    for (JsonBodies.Obj m : o.objects("mitigations", 2000)) {
      m.only(MITIGATION_FIELDS);
      String id = m.string("id", JsonBodies.MITIGATION_ID, "a mitigation id");
      if (!ids.add(id)) {
        throw HttpException.badRequest("report: mitigation %s is listed twice; expected one row per id", id);
      }
      int revision = (int) m.integer("revision", 0, Integer.MAX_VALUE);
      String kind = m.optText("kind", 200).orElse("");
      String status = m.text("status", 16);
      if (!Agents.STATUSES.contains(status)) {
        throw m.error("status", "one of " + String.join(", ", Agents.STATUSES),
            JsonBodies.MAPPER.getNodeFactory().textNode(status));
      }
      String reason = m.optMessage("reason", 2000).orElse("");
      Map<String, Long> hits = m.counters("auditHits", 100, 100);
      rows.add(new Agents.MitigationReport(id, revision, kind, status, reason, hits));
    }
    fleet.report(agent, Optional.of(new Agents.Report(agentVersion, productVersion, o.optInstant("lastCheck"),
        o.optInstant("nextCheck"), feedHealth, rows)));
    return Reply.noContent();
  }

  private Agents.Agent authenticateAgent(Request request) throws HttpException, SQLException {
    String credential = bearer(request, "agent credential");
    return fleet.agentByCredential(credential).orElseThrow(() -> HttpException.unauthorized(
        "agent credential: expected the credential of an enrolled agent (it may have been removed; enrol again)"));
  }

  private Users.Principal authenticateUser(Request request) throws HttpException, SQLException {
    String token = bearer(request, "admin token");
    return fleet.db().read(c -> Users.byToken(c, token)).orElseThrow(() -> HttpException.unauthorized(
        "admin token: expected the token of a user of this server (see <dataDir>/admin.token for the first one)"));
  }

  private static String bearer(Request request, String what) throws HttpException {
    List<String> values = request.getHeaders().getValuesList(HttpHeader.AUTHORIZATION);
    if (values.isEmpty()) {
      throw HttpException.unauthorized(what + ": expected an Authorization: Bearer header but found none");
    }
    if (values.size() > 1) {
      throw HttpException.unauthorized(what + ": expected one Authorization header but found " + values.size());
    }
    String v = values.get(0);
    if (!v.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw HttpException.unauthorized(what + ": expected the Bearer scheme");
    }
    return v.substring(7).trim();
  }

  // Feed files.

  /**
   * Serves a file of a hosted feed.
   *
   * @param rest the decoded segments after {@code feeds}: the feed's name, then the file's path in the feed
   * @param trailingSlash whether the path ended with {@code /}: a directory, which is never listed
   */
  private void serveFeedFile(Request request, Response response, Callback callback, List<String> rest,
      boolean trailingSlash) throws HttpException, IOException {
    String method = request.getMethod();
    if (!method.equals("GET") && !method.equals("HEAD")) {
      throw HttpException.methodNotAllowed(method, "GET", "HEAD");
    }
    String name = rest.isEmpty() ? "" : rest.get(0);
    HostedFeed feed = feeds.get(name);
    if (feed == null) {
      throw HttpException.notFound("no hosted feed named %s", JsonBodies.quote(name));
    }
    if (rest.size() == 1) {
      throw HttpException.notFound("feeds have no listing; expected /feeds/%s/<file>", name);
    }
    if (request.getHttpURI().getQuery() != null) {
      throw HttpException.badRequest("feed files take no query string");
    }
    List<String> path = rest.subList(1, rest.size());
    if (trailingSlash) {
      throw HttpException.notFound("feeds have no directory listings: %s", JsonBodies.quote(String.join("/", path)
          + "/"));
    }
    HostedFeed.File file = feed.read(path, false);
    boolean notModified = notModified(request, file);
    if (!notModified && method.equals("GET") && file.content() == null) {
      // A file too large for the cache to keep its bytes: read it, and take the validators from what was read.
      file = feed.read(path, true);
      notModified = notModified(request, file);
    }
    HttpFields.Mutable h = response.getHeaders();
    h.put(HttpHeader.ETAG, file.etag());
    h.put(HttpHeader.LAST_MODIFIED, HTTP_DATE.format(file.lastModified()));
    h.put(HttpHeader.CACHE_CONTROL, file.immutable() ? "public, max-age=31536000, immutable" : "no-cache");
    h.put("X-Content-Type-Options", "nosniff");
    if (notModified) {
      response.setStatus(304);
      response.write(true, null, callback);
      return;
    }
    response.setStatus(200);
    h.put(HttpHeader.CONTENT_TYPE, file.contentType());
    h.put(HttpHeader.CONTENT_LENGTH, file.length());
    // The content may be the cache's array, shared by every request: Jetty only reads it.
    response.write(true, method.equals("HEAD") ? null : ByteBuffer.wrap(file.content()), callback);
  }

  /** RFC 9110 13.2.2: If-None-Match is evaluated first; If-Modified-Since only when it is absent. */
  static boolean notModified(Request request, HostedFeed.File file) {
    List<String> inm = request.getHeaders().getCSV(HttpHeader.IF_NONE_MATCH, true);
    if (!inm.isEmpty()) {
      for (String tag : inm) {
        String t = tag.trim();
        if (t.equals("*") || t.equals(file.etag()) || t.equals("W/" + file.etag())) {
          return true;
        }
      }
      return false;
    }
    String ims = request.getHeaders().get(HttpHeader.IF_MODIFIED_SINCE);
    if (ims != null) {
      try {
        Instant since = java.time.ZonedDateTime.parse(ims, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
        return !file.lastModified().isAfter(since);
      } catch (DateTimeParseException e) {
        return false; // RFC 9110: an invalid date is ignored
      }
    }
    return false;
  }

  // Plumbing.

  static List<String> decodedSegments(String raw) throws HttpException {
    List<String> out = new ArrayList<>();
    for (String s : raw.substring(1).split("/", -1)) {
      String d = HostedFeed.percentDecode(s);
      if (d.equals(".") || d.equals("..") || d.indexOf('/') >= 0 || d.indexOf('\\') >= 0 || JsonBodies.hasControl(d)) {
        throw HttpException.badRequest("path %s: expected plain segments but found %s", JsonBodies.quote(raw),
            JsonBodies.quote(d));
      }
      out.add(d);
    }
    if (out.size() > 1 && out.get(out.size() - 1).isEmpty()) {
      out.remove(out.size() - 1);
    }
    return out;
  }

  private static void requireMethod(String method, String allowed) throws HttpException {
    if (!method.equals(allowed)) {
      throw HttpException.methodNotAllowed(method, allowed);
    }
  }

  /** Bodies larger than this are not drained before a 413: the connection is closed instead. */
  static final int MAX_DRAIN_BYTES = 8 * 1024 * 1024;

  /**
   * Reads a request body of at most {@code max} bytes. A larger body is refused with 413; up to
   * {@link #MAX_DRAIN_BYTES} of it are read and discarded first, so that a client still sending sees the
   * answer instead of a reset connection.
   */
  static byte[] body(Request request, int max, String what) throws HttpException, IOException {
    long declared = request.getLength();
    try (InputStream in = Content.Source.asInputStream(request)) {
      if (declared > max) {
        if (declared <= MAX_DRAIN_BYTES) {
          drain(in);
        }
        throw new HttpException(413, what + ": expected a body of at most " + max + " bytes but found " + declared);
      }
      byte[] bytes = in.readNBytes(max + 1);
      if (bytes.length > max) {
        drain(in);
        throw new HttpException(413, what + ": expected a body of at most " + max + " bytes but found more");
      }
      return bytes;
    }
  }

  /** Reads and discards at most {@link #MAX_DRAIN_BYTES}, stopping early at the end of the body. */
  private static void drain(InputStream in) {
    byte[] buffer = new byte[8192];
    try {
      for (long total = 0; total < MAX_DRAIN_BYTES; ) {
        int n = in.read(buffer);
        if (n < 0) {
          return;
        }
        total += n;
      }
    } catch (IOException e) {
      // the client went away; the refusal stands
    }
  }

  private AdminApi.BodySupplier bodies(Request request) {
    return new AdminApi.BodySupplier() {
      private byte[] cached;

      private byte[] bytes(String what) throws HttpException {
        if (cached == null) {
          try {
            cached = body(request, MAX_ADMIN_BYTES, what);
          } catch (IOException e) {
            throw HttpException.badRequest("%s: the body could not be read: %s", what, e.getMessage());
          }
        }
        return cached;
      }

      @Override
      public JsonBodies.Obj json(String what) throws HttpException {
        return JsonBodies.parse(what, bytes(what));
      }

      @Override
      public JsonBodies.Obj jsonOrEmpty(String what) throws HttpException {
        byte[] b = bytes(what);
        return JsonBodies.parse(what, b.length == 0 ? "{}".getBytes(java.nio.charset.StandardCharsets.UTF_8) : b);
      }

      @Override
      public Optional<String> query(String name) {
        Fields fields = Request.extractQueryParameters(request);
        Fields.Field f = fields.get(name);
        return f == null ? Optional.empty() : Optional.ofNullable(f.getValue());
      }

      @Override
      public void onlyQuery(Set<String> allowed) throws HttpException {
        for (Fields.Field f : Request.extractQueryParameters(request)) {
          if (!allowed.contains(f.getName())) {
            throw HttpException.badRequest("query parameter %s: unknown; %s", JsonBodies.quote(f.getName()),
                allowed.isEmpty() ? "this resource takes no query parameters"
                    : "expected only " + String.join(", ", allowed));
          }
          if (f.getValues().size() > 1) {
            throw HttpException.badRequest("query parameter %s: given twice; expected it once", f.getName());
          }
        }
      }
    };
  }

  static void send(Request request, Response response, Callback callback, Reply reply) {
    response.setStatus(reply.status());
    HttpFields.Mutable h = response.getHeaders();
    if (reply.contentType() != null) {
      h.put(HttpHeader.CONTENT_TYPE, reply.contentType());
    }
    reply.headers().forEach(h::put);
    h.put("X-Content-Type-Options", "nosniff");
    if (!h.contains(HttpHeader.CACHE_CONTROL)) {
      h.put(HttpHeader.CACHE_CONTROL, "no-store");
    }
    boolean noBody = reply.status() == 204 || reply.status() == 304 || request.getMethod().equals("HEAD");
    if (!noBody) {
      h.put(new HttpField(HttpHeader.CONTENT_LENGTH, String.valueOf(reply.body().length)));
    }
    response.write(true, noBody ? null : ByteBuffer.wrap(reply.body()), callback);
  }
}
