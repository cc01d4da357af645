package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.flywaydb.core.Flyway;

/**
 * A running fleet server for one test: a temp data directory, a published feed named {@code default},
 * the given backend, and a clock the test moves. Small HTTP helpers speak to it as agents and admins do.
 */
final class Fixture implements AutoCloseable {
  static final Duration TIMEOUT = Duration.ofSeconds(10);

  final Path dir;
  final Backend backend;
  final MutableClock clock = new MutableClock(Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
  final TestFeed feed;
  final FleetServer server;
  final String adminToken;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();

  Fixture(Path dir, Backend backend) throws Exception {
    this(dir, backend, b -> b);
  }

  Fixture(Path dir, Backend backend, UnaryOperator<FleetServer.Settings.Builder> settings) throws Exception {
    this(dir, backend, Map.of("M1", 1, "M2", 1), settings);
  }

  /** A fixture whose hosted feed publishes these revisions (none: a feed that lists no mitigation). */
  Fixture(Path dir, Backend backend, Map<String, Integer> published, UnaryOperator<FleetServer.Settings.Builder> settings)
      throws Exception {
    this.dir = dir;
    this.backend = backend;
    this.feed = new TestFeed(dir.resolve("repo")).publish(published);
    FleetServer.Settings.Builder b = FleetServer.Settings.builder(dir.resolve("data"))
        .listen("127.0.0.1", 0)
        .feed("default", feed.published())
        .clock(clock)
        .timings(Duration.ofSeconds(15), Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofHours(3));
    backend.jdbcUrl().ifPresent(b::database);
    this.server = FleetServer.start(settings.apply(b).build());
    this.adminToken = Files.readString(server.adminTokenFile()).trim();
  }

  /**
   * Creates the database a fixture on {@code backend} in {@code dir} will use (H2 in its data directory, or the
   * backend's PostgreSQL schema) at an older schema version, as a server of that version left it, and returns
   * its URL: a test adds the rows of that time, then starts the fixture, which upgrades it.
   */
  static String databaseAt(String version, Path dir, Backend backend) {
    String url = backend.jdbcUrl().orElse("jdbc:h2:file:" + dir.resolve("data").toAbsolutePath().resolve("fleet"));
    Flyway.configure(Fixture.class.getClassLoader()).dataSource(url, null, null).locations("classpath:db/fleet")
        .table("tourniquet_schema_history").target(version).load().migrate();
    return url;
  }

  /** Opens this agent's event stream ({@code GET /api/v1/agent/events}). */
  EventStreamClient events(String credential) throws Exception {
    return new EventStreamClient(http, uri("/api/v1/agent/events"), credential);
  }

  /** Opens this agent's event stream and waits for the server's greeting, the first line it sends. */
  EventStreamClient connectedEvents(String credential) throws Exception {
    EventStreamClient events = events(credential);
    try {
      assertThat(events.nextAny(Duration.ofSeconds(10)).data()).isEqualTo("connected to the Tourniquet fleet server");
      return events;
    } catch (AssertionError e) {
      events.close();
      throw e;
    }
  }

  URI uri(String path) {
    return server.uri().resolve(path);
  }

  HttpResponse<String> get(String path, String bearer) throws IOException, InterruptedException {
    HttpRequest.Builder r = HttpRequest.newBuilder(uri(path)).timeout(TIMEOUT).GET();
    if (bearer != null) {
      r.header("Authorization", "Bearer " + bearer);
    }
    return http.send(r.build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> post(String path, String bearer, String json) throws IOException, InterruptedException {
    return send("POST", path, bearer, json);
  }

  HttpResponse<String> send(String method, String path, String bearer, String json)
      throws IOException, InterruptedException {
    HttpRequest.Builder r = HttpRequest.newBuilder(uri(path)).timeout(TIMEOUT)
        .header("Content-Type", "application/json")
        .method(method, HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8));
    if (bearer != null) {
      r.header("Authorization", "Bearer " + bearer);
    }
    return http.send(r.build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> delete(String path, String bearer) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(uri(path)).timeout(TIMEOUT).header("Authorization", "Bearer " + bearer)
        .DELETE().build(), HttpResponse.BodyHandlers.ofString());
  }

  /**
   * Waits, at most 10 s, until another session waits for a lock that {@code c}'s transaction holds, as the
   * database itself reports it: a request sent meanwhile has then reached that lock, and stands there until
   * {@code c}'s transaction ends. A test holds its transaction open at the critical point of a race this way.
   */
  void awaitAnotherSessionWaitingFor(Connection c) throws SQLException {
    String query = server.database().postgres()
        ? "SELECT count(*) FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        : "SELECT COUNT(*) FROM INFORMATION_SCHEMA.SESSIONS WHERE BLOCKER_ID = SESSION_ID()";
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(query)) {
        rs.next();
        if (rs.getLong(1) > 0) {
          return;
        }
      }
      assertThat(System.nanoTime() - deadline).as("time left for the other request to wait for this transaction's lock")
          .isNegative();
      LockSupport.parkNanos(5_000_000);
    }
  }

  /**
   * Sends {@code DELETE path} as the admin on another thread while {@code c}'s transaction is open, and returns
   * once that request waits for a lock the transaction holds ({@link #awaitAnotherSessionWaitingFor}). Its answer
   * completes after the transaction ends: the second half of a race, held at the first half's critical point.
   */
  CompletableFuture<HttpResponse<String>> deleteBlockedBy(Connection c, String path) throws SQLException {
    CompletableFuture<HttpResponse<String>> answer = new CompletableFuture<>();
    CompletableFuture.runAsync(() -> {
      try {
        answer.complete(delete(path, adminToken));
      } catch (IOException | InterruptedException | RuntimeException e) {
        answer.completeExceptionally(e);
      }
    });
    awaitAnotherSessionWaitingFor(c);
    return answer;
  }

  /** Each enrolled server's name and its key, {@code agents.server_name_key} ({@code null} for none). */
  Map<String, String> nameKeys() throws Exception {
    Map<String, String> keys = new HashMap<>();
    server.database().read(c -> Database.query(c, "SELECT server_name, server_name_key FROM agents",
        rs -> keys.put(rs.getString(1), rs.getString(2))));
    return keys;
  }

  /**
   * Writes what an enrolment of {@code name} on another server process writes after its check found no server of
   * that name: the row with its key, which only the unique index on the key can refuse.
   */
  void enrolledConcurrently(String name) throws Exception {
    server.database().transaction(c -> Database.update(c, "INSERT INTO agents (agent_id, server_name,"
        + " server_name_key, credential_hash, labels, mitigations_enabled, enrolled_at) VALUES ('id-x', ?, ?, 'x', '{}',"
        + " TRUE, ?)", name, Agents.nameKey(name), Instant.now()));
  }

  static JsonNode json(HttpResponse<String> response) throws IOException {
    return JsonBodies.MAPPER.readTree(response.body());
  }

  /** The login page's form: the login cookie it set ({@code tq_login=…}) and the form's own copy of it. */
  record LoginForm(String cookie, String csrf) {
    private static final Pattern FIELD = Pattern.compile("<input type=\"hidden\" name=\"csrf\" value=\"([^\"]*)\">");

    /** Reads the form from a page that carries one: the login page, or a refused login's page. */
    static LoginForm of(HttpResponse<String> page) {
      String setCookie = page.headers().allValues("Set-Cookie").stream().filter(c -> named(c, Dashboard.LOGIN_COOKIE))
          .findFirst().orElseThrow(() -> new AssertionError("no login cookie in " + page.headers().map()));
      Matcher field = FIELD.matcher(page.body());
      assertThat(field.find()).as("the login form's csrf field in %s", page.body()).isTrue();
      return new LoginForm(setCookie.substring(0, setCookie.indexOf(';')), field.group(1));
    }

    /** Sends this form with a user token, as the browser that holds the cookie does. */
    HttpResponse<String> send(HttpClient http, URI server, String token) throws IOException, InterruptedException {
      return http.send(HttpRequest.newBuilder(server.resolve("/login")).timeout(TIMEOUT).header("Cookie", cookie)
          .header("Content-Type", "application/x-www-form-urlencoded").header("Accept", "text/html")
          .POST(HttpRequest.BodyPublishers.ofString("csrf=" + URLEncoder.encode(csrf, StandardCharsets.UTF_8)
              + "&token=" + URLEncoder.encode(token, StandardCharsets.UTF_8))).build(), HttpResponse.BodyHandlers.ofString());
    }
  }

  /** Opens the login page as a browser does. */
  static LoginForm loginForm(HttpClient http, URI server) throws IOException, InterruptedException {
    HttpResponse<String> page = http.send(HttpRequest.newBuilder(server.resolve("/login")).timeout(TIMEOUT)
        .header("Accept", "text/html").build(), HttpResponse.BodyHandlers.ofString());
    assertThat(page.statusCode()).as(page.body()).isEqualTo(200);
    return LoginForm.of(page);
  }

  /** Logs in to the dashboard as a browser does: the login page, then its form. Returns the form's answer. */
  static HttpResponse<String> logIn(HttpClient http, URI server, String token) throws IOException, InterruptedException {
    return loginForm(http, server).send(http, server, token);
  }

  /** Whether a Set-Cookie sets the dashboard's cookie of this name, plain or {@code __Host-} (Secure cookies). */
  static boolean named(String setCookie, String name) {
    return setCookie.startsWith(name + "=") || setCookie.startsWith(Dashboard.HOST_PREFIX + name + "=");
  }

  /** Logs in to the dashboard with a user token; returns the session cookie to send back ({@code tq_session=…}). */
  String session(String token) throws Exception {
    return session(http, token);
  }

  /** As {@link #session(String)}, through this client (one that trusts the server's certificate, say). */
  String session(HttpClient client, String token) throws Exception {
    HttpResponse<String> login = logIn(client, server.uri(), token);
    assertThat(login.statusCode()).as(login.body()).isEqualTo(303);
    String setCookie = login.headers().allValues("Set-Cookie").stream().filter(c -> named(c, Dashboard.COOKIE))
        .findFirst().orElseThrow();
    return setCookie.substring(0, setCookie.indexOf(';'));
  }

  /** Issues an enrolment token as the first admin. */
  String enrolmentToken() throws Exception {
    HttpResponse<String> r = post("/api/v1/admin/enrolment-tokens", adminToken, "{\"ttl\":\"PT1H\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return json(r).get("token").asText();
  }

  /** Enrols a server and returns its credential. */
  String enrol(String server, String labelsJson) throws Exception {
    HttpResponse<String> r = post("/api/v1/enrol", null, "{\"token\":\"" + enrolmentToken() + "\",\"server\":\""
        + server + "\",\"labels\":" + labelsJson + "}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return json(r).get("credential").asText();
  }

  /** Creates a user with a role and returns its token. */
  String user(String name, String role) throws Exception {
    HttpResponse<String> r = post("/api/v1/admin/users", adminToken, "{\"name\":\"" + name + "\",\"role\":\"" + role
        + "\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return json(r).get("token").asText();
  }

  JsonNode policy(String credential) throws Exception {
    HttpResponse<String> r = get("/api/v1/agent/policy", credential);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return json(r);
  }

  JsonNode adminGet(String path) throws Exception {
    HttpResponse<String> r = get(path, adminToken);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return json(r);
  }

  void adminPost(String path, String body) throws Exception {
    HttpResponse<String> r = post(path, adminToken, body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  @Override
  public void close() {
    try {
      server.close();
    } finally {
      backend.close();
    }
  }
}
