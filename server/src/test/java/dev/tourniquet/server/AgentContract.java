package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tourniquet.feed.tuf.Fetchers;
import dev.tourniquet.feed.tuf.TrustedFeed;
import dev.tourniquet.feed.tuf.TufClient;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Feed hosting, enrolment and the agent API, against a real server over HTTP. */
abstract class AgentContract extends ContractBase {

  // Feed hosting.

  @Test
  void feedTimestampIsServedWithNoCacheAndAStrongEtag() throws Exception {
    HttpResponse<String> r = fleet.get("/feeds/default/timestamp.json", null);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Cache-Control")).hasValue("no-cache");
    assertThat(r.headers().firstValue("ETag")).hasValueSatisfying(e -> assertThat(e).startsWith("\"").endsWith("\""));
    assertThat(r.headers().firstValue("Last-Modified")).isPresent();
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(r.body()).isEqualTo(Files.readString(fleet.feed.published().resolve("timestamp.json")));
  }

  @Test
  void feedFileWithMatchingEtagOrUnchangedSinceAnswers304() throws Exception {
    HttpResponse<String> first = fleet.get("/feeds/default/timestamp.json", null);
    String etag = first.headers().firstValue("ETag").orElseThrow();
    String lastModified = first.headers().firstValue("Last-Modified").orElseThrow();

    HttpResponse<String> byEtag = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/feeds/default/timestamp.json"))
        .header("If-None-Match", etag).build(), HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> byDate = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/feeds/default/timestamp.json"))
        .header("If-Modified-Since", lastModified).build(), HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> otherEtag = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/feeds/default/timestamp.json"))
        .header("If-None-Match", "\"0000\"").header("If-Modified-Since", lastModified).build(),
        HttpResponse.BodyHandlers.ofString());

    assertThat(byEtag.statusCode()).isEqualTo(304);
    assertThat(byEtag.body()).isEmpty();
    assertThat(byEtag.headers().firstValue("ETag")).hasValue(etag);
    assertThat(byDate.statusCode()).isEqualTo(304);
    // RFC 9110: If-None-Match wins over If-Modified-Since.
    assertThat(otherEtag.statusCode()).isEqualTo(200);
  }

  @Test
  void versionedMetadataAndHashPrefixedTargetsAreImmutable() throws Exception {
    assertThat(fleet.get("/feeds/default/1.root.json", null).headers().firstValue("Cache-Control"))
        .hasValue("public, max-age=31536000, immutable");
    assertThat(fleet.get("/feeds/default/1.snapshot.json", null).headers().firstValue("Cache-Control"))
        .hasValue("public, max-age=31536000, immutable");
    assertThat(fleet.get("/feeds/default/root.json", null).headers().firstValue("Cache-Control")).hasValue("no-cache");
    String target;
    try (Stream<Path> files = Files.list(fleet.feed.published().resolve("targets/mitigations"))) {
      target = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".M1.json")).findFirst().orElseThrow();
    }
    HttpResponse<String> r = fleet.get("/feeds/default/targets/mitigations/" + target, null);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Cache-Control")).hasValue("public, max-age=31536000, immutable");
    assertThat(r.body()).contains("\"id\":\"M1\"");
  }

  @Test
  void agentTufClientVerifiesTheFeedServedOverHttp() throws Exception {
    Path store = dir.resolve("agent-store");
    TufClient.bootstrap(store, Files.readAllBytes(fleet.feed.published().resolve("1.root.json")));
    TufClient client = TufClient.open(store, Fetchers.http(fleet.uri("/feeds/default/")), Clock.systemUTC());
    TrustedFeed trusted = client.refresh();
    assertThat(trusted.targetsVersion()).isEqualTo(1);
    assertThat(client.download("mitigations/M1.json")).isEqualTo(TestFeed.mitigation("M1", 1));
  }

  @ParameterizedTest
  @ValueSource(strings = {"/%66eeds/default/timestamp.json", "/%66%65%65%64%73/default/timestamp.json",
      "/feeds/%64efault/timestamp.json", "/feeds/default/timestamp%2Ejson", "/feeds/default/%74imestamp.json"})
  void feedPathsAreRoutedOnceDecodedAsEveryOtherPathIs(String path) throws Exception {
    HttpResponse<String> plain = fleet.get("/feeds/default/timestamp.json", null);

    HttpResponse<String> encoded = fleet.get(path, null);
    HttpResponse<String> post = fleet.post(path, null, "{}");

    assertThat(encoded.statusCode()).as(encoded.body()).isEqualTo(200);
    assertThat(encoded.body()).isEqualTo(plain.body());
    assertThat(encoded.headers().firstValue("ETag")).isEqualTo(plain.headers().firstValue("ETag"));
    assertThat(encoded.headers().firstValue("Cache-Control")).hasValue("no-cache");
    assertThat(post.statusCode()).isEqualTo(405);
    assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
  }

  @ParameterizedTest
  @ValueSource(strings = {"/feeds/default/", "/feeds/default/targets", "/feeds/default/targets/", "/feeds/default",
      "/feeds/", "/feeds/nosuchfeed/timestamp.json", "/feeds/default/.lock", "/feeds/default/missing.json"})
  void directoriesHiddenAndMissingFilesAreNotFoundAndNeverListed(String path) throws Exception {
    RawHttp.Answer a = RawHttp.get(fleet.server.uri(), path);
    assertThat(a.status()).isEqualTo(404);
    assertThat(a.text()).doesNotContain("timestamp.json\",").doesNotContain("mitigations/");
  }

  static Stream<Arguments> traversals() {
    return Stream.of(
        Arguments.of("/feeds/default/../../data/admin.token"),
        Arguments.of("/feeds/default/targets/../../../data/admin.token"),
        Arguments.of("/feeds/default/%2e%2e/%2e%2e/data/admin.token"),
        Arguments.of("/feeds/default/%2E%2E/%2E%2E/data/admin.token"),
        Arguments.of("/feeds/default/..%2f..%2fdata%2fadmin.token"),
        Arguments.of("/feeds/default/..%5c..%5cdata%5cadmin.token"),
        Arguments.of("/feeds/default/./timestamp.json"),
        Arguments.of("/feeds/default//timestamp.json"),
        Arguments.of("/feeds/default/timestamp.json%00"),
        Arguments.of("/feeds/default/%zz"),
        Arguments.of("/feeds/default/timestamp.json?x=1"),
        // The same, with the route encoded: it is decoded once, then refused alike.
        Arguments.of("/%66eeds/default/../../data/admin.token"),
        Arguments.of("/%66eeds/default/%2e%2e/%2e%2e/data/admin.token"),
        Arguments.of("/%66eeds/default/..%2f..%2fdata%2fadmin.token"),
        Arguments.of("/%66eeds/%2e%2e/data/admin.token"),
        Arguments.of("/%66eeds%2fdefault/timestamp.json"),
        Arguments.of("/%66eeds/default/timestamp.json%00"),
        Arguments.of("/%66eeds/default/%2elock"),
        // Decoded twice, %252e%252e would be "..". Jetty refuses an encoded '%' before the server routes it
        // (HostedFeedTest checks that the feed does not decode again what the router decoded).
        Arguments.of("/feeds/default/%252e%252e/%252e%252e/data/admin.token"),
        Arguments.of("/%66eeds/default/%252e%252e%252f%252e%252e%252fdata%252fadmin.token"));
  }

  @ParameterizedTest
  @MethodSource("traversals")
  void pathTraversalAndAmbiguousPathsAreRefused(String path) throws Exception {
    RawHttp.Answer a = RawHttp.get(fleet.server.uri(), path);
    assertThat(a.status()).isBetween(400, 404);
    assertThat(a.text()).doesNotContain(fleet.adminToken).doesNotContain("\"signed\"");
  }

  @Test
  void symlinkOutOfTheFeedRootIsNotFollowed() throws Exception {
    Path secret = dir.resolve("secret.txt");
    Files.writeString(secret, "not for agents");
    Files.createSymbolicLink(fleet.feed.published().resolve("escape.json"), secret);
    Files.createSymbolicLink(fleet.feed.published().resolve("escape-dir"), dir);

    RawHttp.Answer file = RawHttp.get(fleet.server.uri(), "/feeds/default/escape.json");
    RawHttp.Answer viaDir = RawHttp.get(fleet.server.uri(), "/feeds/default/escape-dir/secret.txt");

    RawHttp.Answer encoded = RawHttp.get(fleet.server.uri(), "/%66eeds/default/escape.json");
    RawHttp.Answer encodedViaDir = RawHttp.get(fleet.server.uri(), "/%66eeds/%64efault/escape-dir/secret%2etxt");

    assertThat(file.status()).isEqualTo(404);
    assertThat(viaDir.status()).isEqualTo(404);
    assertThat(encoded.status()).isEqualTo(404);
    assertThat(encodedViaDir.status()).isEqualTo(404);
    assertThat(file.text() + viaDir.text() + encoded.text() + encodedViaDir.text()).doesNotContain("not for agents");
  }

  @Test
  void feedFilesAreReadOnly() throws Exception {
    HttpResponse<String> r = fleet.post("/feeds/default/timestamp.json", null, "{}");
    assertThat(r.statusCode()).isEqualTo(405);
  }

  // Enrolment.

  @Test
  void enrolmentGivesACredentialThatReadsTheDefaultPolicy() throws Exception {
    String credential = fleet.enrol("web-01", "{\"ring\":\"canary\",\"site\":\"paris\"}");

    assertThat(credential).startsWith("tqa_").hasSize(47);
    assertThat(fleet.policy(credential).toString()).isEqualTo("{\"orgMitigationsEnabled\":true,"
        + "\"serverMitigationsEnabled\":true,\"blocked\":[],\"modes\":{},\"held\":{}}");
    JsonNode server = fleet.adminGet("/api/v1/admin/servers/web-01");
    assertThat(server.get("labels").toString()).isEqualTo("{\"ring\":\"canary\",\"site\":\"paris\"}");
    assertThat(server.get("ring").asText()).isEqualTo("canary");
  }

  @Test
  void enrolmentWithTheLargestLabelsAllowedIsStored() throws Exception {
    StringBuilder labels = new StringBuilder("{");
    for (int i = 0; i < 32; i++) {
      labels.append(i == 0 ? "" : ",").append('"').append(String.format("%02d", i)).append("x".repeat(61)).append("\":\"")
          .append("\u00e9".repeat(200)).append('"');
    }
    fleet.enrol("web-01", labels.append('}').toString());
    assertThat(fleet.adminGet("/api/v1/admin/servers/web-01").get("labels").size()).isEqualTo(32);
    HttpResponse<String> tooMany = fleet.post("/api/v1/enrol", null, "{\"token\":\"" + fleet.enrolmentToken()
        + "\",\"server\":\"web-02\",\"labels\":" + labels.toString().replace("{\"00", "{\"zz\":\"1\",\"00") + "}");
    assertThat(tooMany.statusCode()).isEqualTo(400);
    assertThat(tooMany.body()).contains("at most 32");
  }

  @Test
  void ringOfTheLongestLabelValueAllowedIsStoredAtEnrolmentAndWhenLabelsChange() throws Exception {
    String ring = "r".repeat(200);
    fleet.enrol("web-01", "{\"ring\":\"" + ring + "\"}");
    assertThat(fleet.adminGet("/api/v1/admin/servers/web-01").get("ring").asText()).isEqualTo(ring);

    fleet.adminPost("/api/v1/admin/servers/web-01/labels", "{\"labels\":{\"ring\":\"" + "s".repeat(200) + "\"}}");

    assertThat(fleet.adminGet("/api/v1/admin/servers/web-01").get("ring").asText()).isEqualTo("s".repeat(200));
  }

  @Test
  void enrolmentTokenWorksOnlyOnce() throws Exception {
    String token = fleet.enrolmentToken();
    HttpResponse<String> first = fleet.post("/api/v1/enrol", null, enrolBody(token, "web-01"));
    HttpResponse<String> second = fleet.post("/api/v1/enrol", null, enrolBody(token, "web-02"));

    assertThat(first.statusCode()).isEqualTo(201);
    // 403, not 401: the token travels in the body, and no Authorization header would be accepted instead, so
    // there is no challenge to answer (RFC 9110 15.5.2 requires one with every 401).
    assertThat(second.statusCode()).isEqualTo(403);
    assertThat(second.headers().firstValue("WWW-Authenticate")).isEmpty();
    assertThat(Fixture.json(second).get("error").asText()).isEqualTo("enrolment token: expected a valid, unused,"
        + " unexpired token from an administrator (tourniquet server enrolment-token, or POST"
        + " /api/v1/admin/enrolment-tokens)");
    assertThat(fleet.adminGet("/api/v1/admin/servers")).hasSize(1);
  }

  @Test
  void expiredEnrolmentTokenIsRefused() throws Exception {
    String token = fleet.enrolmentToken(); // valid one hour
    fleet.clock.advance(Duration.ofMinutes(61));

    HttpResponse<String> r = fleet.post("/api/v1/enrol", null, enrolBody(token, "web-01"));

    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.headers().firstValue("WWW-Authenticate")).isEmpty();
    assertThat(fleet.adminGet("/api/v1/admin/servers")).isEmpty();
  }

  @Test
  void enrolmentOfAServerNameAlreadyEnrolledIsRefusedAndLeavesTheTokenUsable() throws Exception {
    fleet.enrol("web-01", "{}");
    String token = fleet.enrolmentToken();

    HttpResponse<String> clash = fleet.post("/api/v1/enrol", null, enrolBody(token, "web-01"));
    HttpResponse<String> other = fleet.post("/api/v1/enrol", null, enrolBody(token, "web-02"));

    assertThat(clash.statusCode()).isEqualTo(409);
    assertThat(clash.body()).contains("server web-01 is already enrolled");
    assertThat(other.statusCode()).isEqualTo(201);
  }

  @Test
  void enrolmentOfANameDifferingOnlyInCaseFromAnEnrolledOneIsRefusedNamingItAndLeavesTheTokenUsable()
      throws Exception {
    fleet.enrol("web-01", "{}");
    String token = fleet.enrolmentToken();

    HttpResponse<String> clash = fleet.post("/api/v1/enrol", null, enrolBody(token, "WEB-01"));
    HttpResponse<String> other = fleet.post("/api/v1/enrol", null, enrolBody(token, "web-02"));

    assertThat(clash.statusCode()).isEqualTo(409);
    assertThat(Fixture.json(clash).get("error").asText()).isEqualTo("server WEB-01 is already enrolled as web-01"
        + " (server names are compared ignoring case); an admin must remove web-01 first"
        + " (DELETE /api/v1/admin/servers/web-01) before WEB-01 can enrol");
    assertThat(other.statusCode()).isEqualTo(201);
    assertThat(fleet.adminGet("/api/v1/admin/servers").findValuesAsText("server"))
        .containsExactlyInAnyOrder("web-01", "web-02");
  }

  @Test
  void twoEnrolmentsAtOnceOfNamesDifferingOnlyInCaseEnrolOneAndRefuseTheOtherNamingIt() throws Exception {
    String first = fleet.enrolmentToken();
    String second = fleet.enrolmentToken();
    CompletableFuture<HttpResponse<String>> other = new CompletableFuture<>();

    fleet.server.database().transaction(c -> {
      // An enrolment of web-01 (through this server, or another process on the same database) stopped before
      // its commit: WEB-01's check cannot see it yet, so only the database can refuse the second name.
      Agents.enrol(c, first, "web-01", Map.of(), fleet.clock.instant());
      CompletableFuture.runAsync(() -> {
        try {
          other.complete(fleet.post("/api/v1/enrol", null, enrolBody(second, "WEB-01")));
        } catch (IOException | InterruptedException | RuntimeException e) {
          other.completeExceptionally(e);
        }
      });
      awaitDoneOrInsertingAfter(c, other);
      return null;
    });

    HttpResponse<String> r = other.get(20, TimeUnit.SECONDS);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(409);
    assertThat(Fixture.json(r).get("error").asText()).startsWith("server WEB-01 is already enrolled as web-01 ");
    assertThat(fleet.adminGet("/api/v1/admin/servers").findValuesAsText("server")).containsExactly("web-01");
    assertThat(fleet.post("/api/v1/enrol", null, enrolBody(second, "web-02")).statusCode())
        .as("the refused enrolment's token is still unused").isEqualTo(201);
  }

  /**
   * Returns once the request is answered, or has passed its check and is inserting its agent: on PostgreSQL,
   * waiting on a lock {@code holder}'s transaction holds; on H2, which does not show who blocks whom,
   * executing its insert.
   */
  private void awaitDoneOrInsertingAfter(java.sql.Connection holder, CompletableFuture<?> request)
      throws SQLException {
    String waiting = fleet.server.database().postgres()
        ? "SELECT COUNT(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        : "SELECT COUNT(*) FROM INFORMATION_SCHEMA.SESSIONS WHERE SESSION_ID <> SESSION_ID()"
            + " AND EXECUTING_STATEMENT LIKE 'INSERT INTO agents %'";
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      if (Database.query(holder, waiting, rs -> rs.getLong(1)).get(0) > 0) {
        return;
      }
      try {
        request.get(20, TimeUnit.MILLISECONDS);
        return;
      } catch (TimeoutException e) {
        // neither yet
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (ExecutionException e) {
        return;
      }
    }
    throw new AssertionError("the second enrolment neither finished nor reached its insert within 20 s");
  }

  static Stream<Arguments> badEnrolments() {
    return Stream.of(
        Arguments.of("{\"token\":\"TOKEN\",\"server\":\"web-01\"", 400, "malformed JSON"),
        Arguments.of("[1,2]", 400, "expected a JSON object but found an array"),
        Arguments.of("", 400, "empty body"),
        Arguments.of("{\"token\":\"TOKEN\",\"server\":\"web-01\",\"role\":\"admin\"}", 400, "unknown field \"role\""),
        Arguments.of("{\"token\":\"TOKEN\",\"server\":\"../etc\"}", 400, "field \"server\""),
        Arguments.of("{\"token\":\"TOKEN\",\"server\":\"web-01\",\"server\":\"web-02\"}", 400, "Duplicate field"),
        Arguments.of("{\"token\":\"TOKEN\",\"server\":\"web-01\",\"labels\":{\"Ring\":\"x\"}}", 400, "expected keys"),
        Arguments.of("{\"token\":\"TOKEN\",\"server\":\"web-01\",\"labels\":{\"ring\":7}}", 400, "labels.ring"),
        Arguments.of("{\"token\":\"tqe_wrong\",\"server\":\"web-01\"}", 403, "enrolment token"),
        Arguments.of("{\"token\":\"tqe_" + "A".repeat(43) + "\",\"server\":\"web-01\"}", 403,
            "enrolment token: expected a valid, unused, unexpired token"),
        // Names and labels are shown to operators: a direction override or an invisible character could make
        // one read as another ("Trojan Source"). Refused with the code point, as JSON escapes or as they are.
        Arguments.of("{\"token\":\"TOKEN\",\"server\":\"web-\u202E10\"}", 400,
            "field \"server\": expected a server name (letters, digits, '.', '_', '-'; at most 253) but found the string"
                + " \"web-\\u202E10\""),
        Arguments.of("{\"token\":\"TOKEN\",\"server\":\"web-01\",\"labels\":{\"ring\":\"canary\\u202e\"}}", 400,
            "enrolment: field \"labels.ring\": expected a string of at most 200 characters without control or invisible"
                + " formatting characters but found U+202E RIGHT-TO-LEFT OVERRIDE at character 7"),
        Arguments.of("{\"token\":\"TOKEN\",\"server\":\"web-01\",\"labels\":{\"site\":\"par\u0085is\"}}", 400,
            "field \"labels.site\": expected a string of at most 200 characters without control or invisible formatting"
                + " characters but found U+0085 NEXT LINE (NEL) at character 4"),
        Arguments.of("{\"token\":\"TOKEN\",\"server\":\"web-01\",\"labels\":{\"ring\":\"cana\\u200bry\"}}", 400,
            "found U+200B ZERO WIDTH SPACE at character 5"),
        Arguments.of("{\"token\":\"TOKEN\",\"server\":\"web-01\",\"labels\":{\"x\":\"" + "a".repeat(20_000) + "\"}}",
            413, "at most 16384 bytes"));
  }

  @ParameterizedTest
  @MethodSource("badEnrolments")
  void badEnrolmentIsRefusedWithAClearErrorAndChangesNothing(String body, int status, String message) throws Exception {
    String token = fleet.enrolmentToken();

    HttpResponse<String> r = fleet.post("/api/v1/enrol", null, body.replace("TOKEN", token));

    assertThat(r.statusCode()).isEqualTo(status);
    assertThat(Fixture.json(r).get("error").asText()).contains(message);
    assertThat(r.headers().firstValue("WWW-Authenticate")).as("no challenge: enrolment takes no Authorization").isEmpty();
    assertThat(fleet.adminGet("/api/v1/admin/servers")).isEmpty();
    assertThat(fleet.post("/api/v1/enrol", null, enrolBody(token, "web-09")).statusCode())
        .as("the token is still unused").isEqualTo(201);
  }

  static String enrolBody(String token, String server) {
    return "{\"token\":\"" + token + "\",\"server\":\"" + server + "\",\"labels\":{}}";
  }

  // Agent API.

  static final String REPORT = "{\"server\":\"web-01\",\"agentVersion\":\"0.1.0\",\"productVersion\":\"15.2.1118.7\","
      + "\"lastCheck\":\"2026-03-01T12:00:00Z\",\"nextCheck\":\"2026-03-01T13:00:00Z\",\"feedHealth\":\"ok\","
      + "\"dataCollection\":true,\"mitigations\":[{\"id\":\"M1\",\"revision\":1,\"kind\":\"request-rules\","
      + "\"status\":\"Applied\",\"reason\":\"applies to 15.2.1118.7\",\"auditHits\":{}},{\"id\":\"M2\",\"revision\":1,"
      + "\"kind\":\"response-rules\",\"status\":\"Audit\",\"reason\":\"mode audit\",\"auditHits\":{\"csp\":3}}]}";

  @Test
  void reportIsStoredAndShownToAdmins() throws Exception {
    String credential = fleet.enrol("web-01", "{}");

    HttpResponse<String> r = fleet.post("/api/v1/agent/report", credential, REPORT);

    assertThat(r.statusCode()).as(r.body()).isEqualTo(204);
    JsonNode server = fleet.adminGet("/api/v1/admin/servers/web-01");
    assertThat(server.get("productVersion").asText()).isEqualTo("15.2.1118.7");
    assertThat(server.get("dataCollection").asBoolean()).isTrue();
    assertThat(server.get("lastCheck").asText()).isEqualTo("2026-03-01T12:00:00Z");
    assertThat(server.get("mitigations")).hasSize(2);
    assertThat(server.get("mitigations").get(1).get("auditHits").get("csp").asLong()).isEqualTo(3);
    assertThat(server.get("statusCounts").toString()).isEqualTo("{\"Applied\":1,\"Audit\":1}");
  }

  @Test
  void reportWithTheLargestAuditHitsAllowedIsStored() throws Exception {
    String credential = fleet.enrol("web-01", "{}");
    StringBuilder hits = new StringBuilder("{");
    for (int i = 0; i < 100; i++) {
      // 98 characters that JSON escapes (each stored as two) and a number: the longest stored form there is.
      hits.append(i == 0 ? "" : ",").append('"').append("\\\"\\\\".repeat(49)).append(String.format("%02d", i))
          .append("\":").append(Long.MAX_VALUE);
    }
    String report = REPORT.replace("\"auditHits\":{\"csp\":3}", "\"auditHits\":" + hits.append('}'));
    assertThat(report).isNotEqualTo(REPORT);

    HttpResponse<String> r = fleet.post("/api/v1/agent/report", credential, report);

    assertThat(r.statusCode()).as(r.body()).isEqualTo(204);
    JsonNode stored = fleet.adminGet("/api/v1/admin/servers/web-01").get("mitigations").get(1).get("auditHits");
    assertThat(stored).hasSize(100);
    assertThat(stored.get("\"\\".repeat(49) + "07").asLong()).isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void laterReportReplacesTheRowsItChangesDropsAndAddsAndKeepsTheOthers() throws Exception {
    String credential = fleet.enrol("web-01", "{}");
    fleet.post("/api/v1/agent/report", credential, REPORT);
    String third = "{\"id\":\"M3\",\"revision\":4,\"kind\":\"disable-service\",\"status\":\"Failed\","
        + "\"reason\":\"could not stop it\",\"auditHits\":{}}";
    String later = REPORT.replace("\"revision\":1,\"kind\":\"request-rules\",\"status\":\"Applied\"",
            "\"revision\":2,\"kind\":\"request-rules\",\"status\":\"Applied\"")
        .replaceFirst(",\\{\"id\":\"M2\".*\\}\\]\\}$", "," + third + "]}");
    assertThat(later).contains("\"revision\":2").contains("\"M3\"").doesNotContain("\"M2\"");

    HttpResponse<String> r = fleet.post("/api/v1/agent/report", credential, later);

    assertThat(r.statusCode()).as(r.body()).isEqualTo(204);
    JsonNode rows = fleet.adminGet("/api/v1/admin/servers/web-01").get("mitigations");
    assertThat(rows).hasSize(2);
    assertThat(rows.get(0).get("id").asText()).isEqualTo("M1");
    assertThat(rows.get(0).get("revision").asInt()).isEqualTo(2);
    assertThat(rows.get(1).get("id").asText()).isEqualTo("M3");
    assertThat(rows.get(1).get("status").asText()).isEqualTo("Failed");
    assertThat(rows.get(1).get("reason").asText()).isEqualTo("could not stop it");

    // The same report again changes no row.
    assertThat(fleet.post("/api/v1/agent/report", credential, later).statusCode()).isEqualTo(204);
    assertThat(fleet.adminGet("/api/v1/admin/servers/web-01").get("mitigations")).isEqualTo(rows);
  }

  @Test
  void heartbeatWithDataCollectionOffKeepsNothingButLastSeen() throws Exception {
    String credential = fleet.enrol("web-01", "{}");
    fleet.post("/api/v1/agent/report", credential, REPORT);
    fleet.clock.advance(Duration.ofMinutes(5));

    HttpResponse<String> r = fleet.post("/api/v1/agent/report", credential, "{\"dataCollection\":false}");

    assertThat(r.statusCode()).isEqualTo(204);
    JsonNode server = fleet.adminGet("/api/v1/admin/servers/web-01");
    assertThat(server.get("dataCollection").asBoolean()).isFalse();
    assertThat(server.get("lastSeen").asText()).isEqualTo(fleet.clock.instant().toString());
    assertThat(server.get("mitigations")).isEmpty();
    assertThat(server.get("productVersion").isNull()).isTrue();
    assertThat(server.get("feedHealth").isNull()).isTrue();
  }

  @Test
  void reportForAnotherServerIsForbiddenAndChangesNothing() throws Exception {
    String mine = fleet.enrol("web-01", "{}");
    String other = fleet.enrol("web-02", "{}");
    fleet.post("/api/v1/agent/report", mine, REPORT);

    HttpResponse<String> r = fleet.post("/api/v1/agent/report", other, REPORT);

    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).contains("this credential belongs to server web-02, not web-01");
    assertThat(fleet.adminGet("/api/v1/admin/servers/web-02").get("mitigations")).isEmpty();
    assertThat(fleet.adminGet("/api/v1/admin/servers/web-01").get("mitigations")).hasSize(2);
  }

  static Stream<Arguments> badReports() {
    return Stream.of(
        Arguments.of("{\"dataCollection\":false,\"productVersion\":\"15.2\"}", 400, "when data collection is off"),
        Arguments.of(REPORT.replace("\"Audit\"", "\"Ok\""), 400, "expected one of Applied, Audit"),
        Arguments.of(REPORT.replace("\"id\":\"M2\"", "\"id\":\"M1\""), 400, "listed twice"),
        Arguments.of(REPORT.replace("\"revision\":1", "\"revision\":-1"), 400, "mitigations[0].revision"),
        Arguments.of(REPORT.replace("\"csp\":3", "\"csp\":\"3\""), 400, "auditHits.csp"),
        Arguments.of(REPORT.replace("\"lastCheck\":\"2026-03-01T12:00:00Z\"", "\"lastCheck\":\"yesterday\""), 400,
            "ISO-8601"),
        Arguments.of(REPORT.replace("\"feedHealth\":\"ok\",", ""), 400, "feedHealth"),
        // An empty feedHealth is not "ok": the dashboard listed it as a feed error with no text.
        Arguments.of(REPORT.replace("\"feedHealth\":\"ok\"", "\"feedHealth\":\"\""), 400,
            "field \"feedHealth\": expected \"ok\" or the feed's error (1 to 2000 characters) but found the string \"\""),
        // Times the databases cannot store were a 500 (H2) or taken as they were (a year -999999999).
        Arguments.of(REPORT.replace("\"2026-03-01T12:00:00Z\"", "\"+1000000000-01-01T00:00:00Z\""), 400,
            "field \"lastCheck\": expected an ISO-8601 UTC time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"),
        Arguments.of(REPORT.replace("\"2026-03-01T13:00:00Z\"", "\"-999999999-01-01T00:00:00Z\""), 400,
            "field \"nextCheck\": expected an ISO-8601 UTC time from 0001-01-01T00:00:00Z"),
        Arguments.of(REPORT.replace("\"server\":\"web-01\",", "\"server\":\"web-01\",\"extra\":1,"), 400,
            "unknown field \"extra\""),
        Arguments.of("{\"dataCollection\":\"yes\"}", 400, "true or false"),
        Arguments.of(REPORT.substring(0, 100), 400, "malformed JSON"),
        Arguments.of(REPORT.replace("\"reason\":\"mode audit\"", "\"reason\":\"" + "x".repeat(1_100_000) + "\""), 413,
            "at most 1048576 bytes"));
  }

  @ParameterizedTest
  @MethodSource("badReports")
  void badReportIsRefusedWithAClearErrorAndChangesNothing(String body, int status, String message) throws Exception {
    String credential = fleet.enrol("web-01", "{}");
    fleet.post("/api/v1/agent/report", credential, REPORT.replace("\"Applied\"", "\"Detected\""));

    HttpResponse<String> r = fleet.post("/api/v1/agent/report", credential, body);

    assertThat(r.statusCode()).isEqualTo(status);
    assertThat(Fixture.json(r).get("error").asText()).contains(message);
    JsonNode server = fleet.adminGet("/api/v1/admin/servers/web-01");
    assertThat(server.get("dataCollection").asBoolean()).isTrue();
    assertThat(server.get("mitigations").get(0).get("status").asText()).isEqualTo("Detected");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "Bearer tqa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "Bearer nonsense",
      "Basic dXNlcjpwYXNz"})
  void agentEndpointsRefuseAMissingOrWrongCredential(String authorization) throws Exception {
    String credential = fleet.enrol("web-01", "{}");
    for (String path : new String[] {"/api/v1/agent/policy", "/api/v1/agent/events"}) {
      HttpRequest.Builder b = HttpRequest.newBuilder(fleet.uri(path)).GET();
      if (!authorization.isEmpty()) {
        b.header("Authorization", authorization);
      }
      HttpResponse<String> r = fleet.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(path).isEqualTo(401);
      assertThat(r.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"tourniquet\"");
    }
    HttpRequest.Builder b = HttpRequest.newBuilder(fleet.uri("/api/v1/agent/report"))
        .POST(HttpRequest.BodyPublishers.ofString(REPORT));
    if (!authorization.isEmpty()) {
      b.header("Authorization", authorization);
    }
    assertThat(fleet.http.send(b.build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(401);
    assertThat(fleet.adminGet("/api/v1/admin/servers/web-01").get("reportedAt").isNull()).isTrue();
    assertThat(fleet.policy(credential).get("blocked")).isEmpty();
  }

  @Test
  void adminTokenIsNotAnAgentCredentialAndAgentCredentialIsNotAnAdminToken() throws Exception {
    String credential = fleet.enrol("web-01", "{}");
    assertThat(fleet.get("/api/v1/agent/policy", fleet.adminToken).statusCode()).isEqualTo(401);
    assertThat(fleet.get("/api/v1/admin/servers", credential).statusCode()).isEqualTo(401);
  }

  @Test
  void removedServersCredentialStopsWorking() throws Exception {
    String credential = fleet.enrol("web-01", "{}");

    HttpResponse<String> removed = fleet.delete("/api/v1/admin/servers/web-01", fleet.adminToken);

    assertThat(removed.statusCode()).isEqualTo(200);
    assertThat(fleet.get("/api/v1/agent/policy", credential).statusCode()).isEqualTo(401);
  }

  @Test
  void firstAdminTokenFileIsReadableByTheOwnerOnly() throws Exception {
    assertThat(Files.getPosixFilePermissions(fleet.server.adminTokenFile()))
        .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
            java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
    assertThat(fleet.adminToken).startsWith("tqu_");
    assertThat(fleet.adminGet("/api/v1/admin/whoami").toString()).isEqualTo("{\"user\":\"admin\",\"role\":\"admin\"}");
  }
}
