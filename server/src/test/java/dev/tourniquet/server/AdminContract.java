package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The admin API: roles, the audit log, users and tokens, and refusals of bad input. */
abstract class AdminContract extends ContractBase {

  @Test
  void viewerReadsButCannotChangePolicy() throws Exception {
    String viewer = fleet.user("vera", "viewer");

    HttpResponse<String> read = fleet.get("/api/v1/admin/servers", viewer);
    HttpResponse<String> block = fleet.post("/api/v1/admin/org/block", viewer, "{\"id\":\"M1\"}");

    assertThat(read.statusCode()).isEqualTo(200);
    assertThat(block.statusCode()).isEqualTo(403);
    assertThat(Fixture.json(block).get("error").asText())
        .isEqualTo("user vera has role viewer; this operation needs role operator");
    assertThat(fleet.adminGet("/api/v1/admin/policy").get("blocked")).isEmpty();
  }

  @Test
  void operatorChangesPolicyButCannotManageUsersOrTokens() throws Exception {
    String operator = fleet.user("olga", "operator");

    assertThat(fleet.post("/api/v1/admin/org/block", operator, "{\"id\":\"M1\"}").statusCode()).isEqualTo(200);
    assertThat(fleet.post("/api/v1/admin/users", operator, "{\"name\":\"eve\",\"role\":\"admin\"}").statusCode())
        .isEqualTo(403);
    assertThat(fleet.post("/api/v1/admin/enrolment-tokens", operator, "{}").statusCode()).isEqualTo(403);
    assertThat(fleet.get("/api/v1/admin/users", operator).statusCode()).isEqualTo(403);
    assertThat(fleet.adminGet("/api/v1/admin/users")).hasSize(2);
  }

  @Test
  void everyChangeIsInTheAuditLogWithWhoWhatAndWhen() throws Exception {
    String operator = fleet.user("olga", "operator");
    fleet.enrol("web-01", "{}");
    fleet.post("/api/v1/admin/servers/web-01/block", operator, "{\"id\":\"M2\"}");
    fleet.post("/api/v1/admin/org/disable", operator, "");

    JsonNode audit = fleet.adminGet("/api/v1/admin/audit?limit=4");

    assertThat(audit).hasSize(4);
    assertThat(audit.get(0).get("actor").asText()).isEqualTo("olga");
    assertThat(audit.get(0).get("action").asText()).isEqualTo("disable");
    assertThat(audit.get(0).get("target").asText()).isEqualTo("organisation");
    assertThat(audit.get(0).get("at").asText()).isEqualTo(fleet.clock.instant().toString());
    assertThat(audit.get(1).get("action").asText()).isEqualTo("block");
    assertThat(audit.get(1).get("target").asText()).isEqualTo("server web-01: M2");
    assertThat(audit.get(2).get("actor").asText()).isEqualTo("agent:web-01");
    assertThat(audit.get(2).get("action").asText()).isEqualTo("enrol");
    long newest = audit.get(0).get("id").asLong();
    JsonNode older = fleet.adminGet("/api/v1/admin/audit?limit=1&before=" + newest);
    assertThat(older.get(0).get("id").asLong()).isLessThan(newest);
  }

  @Test
  void auditLogPagesBackByIdAndSaysWhereTheNextPageIs() throws Exception {
    fleet.server.database().transaction(c -> {
      for (int i = 1; i <= 120; i++) {
        AuditLog.append(c, fleet.clock.instant(), "agent:web-" + i, "enrol", "server web-" + i, "entry " + i);
      }
      return null;
    });
    int total = fleet.adminGet("/api/v1/admin/audit?limit=1000").size();
    java.util.List<Long> seen = new java.util.ArrayList<>();
    String path = "/api/v1/admin/audit?limit=50";
    java.util.List<Integer> sizes = new java.util.ArrayList<>();
    for (int pages = 0; path != null; pages++) {
      assertThat(pages).as("pages").isLessThan(10);
      HttpResponse<String> r = fleet.get(path, fleet.adminToken);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      JsonNode page = Fixture.json(r);
      assertThat(page.isArray()).as("the answer is still a plain array").isTrue();
      page.forEach(e -> seen.add(e.get("id").asLong()));
      sizes.add(page.size());
      java.util.Optional<String> link = r.headers().firstValue("Link");
      if (link.isPresent()) {
        assertThat(link.get()).matches("</api/v1/admin/audit\\?limit=50&before=[0-9]+>; rel=\"next\"");
        assertThat(link.get()).contains("before=" + page.get(page.size() - 1).get("id").asLong() + ">");
        path = link.get().substring(1, link.get().indexOf('>'));
      } else {
        path = null;
      }
    }

    assertThat(sizes).containsExactly(50, 50, total - 100);
    assertThat(seen).hasSize(total).doesNotHaveDuplicates().isSortedAccordingTo(java.util.Comparator.reverseOrder());
    // A page that ends exactly at the oldest entry has no next page.
    assertThat(fleet.get("/api/v1/admin/audit?limit=" + total, fleet.adminToken).headers().firstValue("Link")).isEmpty();
  }

  @Test
  void serverNamesInAdminPathsAreFoundIgnoringCaseAndAnswersNameTheServerAsEnrolled() throws Exception {
    String credential = fleet.enrol("web-01", "{}");

    HttpResponse<String> block = fleet.post("/api/v1/admin/servers/WEB-01/block", fleet.adminToken, "{\"id\":\"M1\"}");
    HttpResponse<String> labels = fleet.post("/api/v1/admin/servers/Web-01/labels", fleet.adminToken,
        "{\"labels\":{\"site\":\"paris\"}}");

    assertThat(block.statusCode()).as(block.body()).isEqualTo(200);
    assertThat(Fixture.json(block).get("result").asText()).isEqualTo("blocked M1 (server web-01)");
    assertThat(Fixture.json(labels).get("result").asText()).isEqualTo("labels of web-01 set");
    assertThat(fleet.policy(credential).get("blocked").toString()).isEqualTo("[\"M1\"]");
    JsonNode audit = fleet.adminGet("/api/v1/admin/audit?limit=2");
    assertThat(audit.findValuesAsText("target")).containsExactly("server web-01", "server web-01: M1");
    JsonNode server = fleet.adminGet("/api/v1/admin/servers/wEB-01");
    assertThat(server.get("server").asText()).isEqualTo("web-01");
    assertThat(server.get("labels").toString()).isEqualTo("{\"site\":\"paris\"}");
    HttpResponse<String> removed = fleet.delete("/api/v1/admin/servers/WEB-01", fleet.adminToken);
    assertThat(Fixture.json(removed).get("result").asText()).isEqualTo("removed web-01");
    assertThat(fleet.adminGet("/api/v1/admin/servers")).isEmpty();
  }

  @Test
  void newUserTokenRevokesTheOldOne() throws Exception {
    String old = fleet.user("olga", "operator");

    HttpResponse<String> r = fleet.post("/api/v1/admin/users/olga/token", fleet.adminToken, "");

    assertThat(r.statusCode()).isEqualTo(200);
    String fresh = Fixture.json(r).get("token").asText();
    assertThat(fleet.get("/api/v1/admin/whoami", old).statusCode()).isEqualTo(401);
    assertThat(fleet.get("/api/v1/admin/whoami", fresh).statusCode()).isEqualTo(200);
  }

  @Test
  void lastAdminCannotBeDeleted() throws Exception {
    HttpResponse<String> r = fleet.delete("/api/v1/admin/users/admin", fleet.adminToken);
    assertThat(r.statusCode()).isEqualTo(409);
    assertThat(fleet.get("/api/v1/admin/whoami", fleet.adminToken).statusCode()).isEqualTo(200);
  }

  @Test
  void twoAdminsDeletingEachOtherAtOnceLeaveOneOfThem() throws Exception {
    fleet.user("bea", "admin");
    CompletableFuture<HttpResponse<String>> other = fleet.server.database().transaction(c -> {
      // DELETE users/bea, stopped before its commit: the admins locked and bea deleted. Meanwhile bea's
      // request deletes admin; it must wait, then find admin the last one (counting, it found two).
      assertThat(Users.lockAdmins(c)).containsExactlyInAnyOrder("admin", "bea");
      Users.delete(c, "bea");
      return fleet.deleteBlockedBy(c, "/api/v1/admin/users/admin");
    });

    HttpResponse<String> r = other.get(10, TimeUnit.SECONDS);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(409);
    assertThat(Fixture.json(r).get("error").asText()).isEqualTo("user admin is the last admin; create another admin first");
    assertThat(fleet.adminGet("/api/v1/admin/users").findValuesAsText("name")).containsExactly("admin");
  }

  @Test
  void twoAdminsRemovingTheSameServerAtOnceRemoveItOnceAndTheSecondIsToldItWasGone() throws Exception {
    fleet.enrol("web-01", "{}");
    fleet.enrol("web-02", "{}");
    CompletableFuture<HttpResponse<String>> other = fleet.server.database().transaction(c -> {
      // DELETE servers/web-01, stopped before its commit. Meanwhile a second admin's DELETE servers/web-01 has
      // found the server (a plain read) and must wait, then learn that it is gone.
      Agents.delete(c, Agents.requireServer(c, "web-01"));
      AuditLog.append(c, fleet.clock.instant(), "admin", "server.remove", "server web-01", "removed");
      return fleet.deleteBlockedBy(c, "/api/v1/admin/servers/web-01");
    });

    HttpResponse<String> r = other.get(10, TimeUnit.SECONDS);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(404);
    assertThat(Fixture.json(r).get("error").asText())
        .isEqualTo("no enrolled server named web-01: another request removed it while this one waited; nothing was"
            + " removed");
    assertThat(fleet.adminGet("/api/v1/admin/servers").findValuesAsText("server")).containsExactly("web-02");
    assertThat(fleet.adminGet("/api/v1/admin/audit?limit=1000").findValuesAsText("action"))
        .containsOnlyOnce("server.remove");
  }

  @Test
  void enrolmentTokensAreListedWithoutTheirValue() throws Exception {
    String token = fleet.enrolmentToken();
    HttpResponse<String> list = fleet.get("/api/v1/admin/enrolment-tokens", fleet.adminToken);
    assertThat(list.statusCode()).isEqualTo(200);
    assertThat(list.body()).doesNotContain(token).doesNotContain(token.substring(4));
    assertThat(Fixture.json(list)).hasSize(1);
  }

  @Test
  void hostedFeedsAreListedWithTheirMitigations() throws Exception {
    JsonNode feeds = fleet.adminGet("/api/v1/admin/feeds");
    assertThat(feeds.get(0).get("name").asText()).isEqualTo("default");
    assertThat(feeds.get(0).get("mitigations").toString())
        .contains("{\"id\":\"M1\",\"revision\":1}").contains("{\"id\":\"M2\",\"revision\":1}");
  }

  static Stream<Arguments> badAdminRequests() {
    return Stream.of(
        Arguments.of("POST", "/api/v1/admin/org/block", "{\"id\":\"M1\"", 400, "malformed JSON"),
        Arguments.of("POST", "/api/v1/admin/org/block", "{\"id\":\"M1\",\"scope\":\"all\"}", 400, "unknown field"),
        Arguments.of("POST", "/api/v1/admin/org/block", "{\"id\":\"../M1\"}", 400, "field \"id\""),
        Arguments.of("POST", "/api/v1/admin/org/block", "{}", 400, "field \"id\": expected a mitigation id"),
        Arguments.of("POST", "/api/v1/admin/org/mode", "{\"id\":\"M1\",\"mode\":\"off\"}", 400, "\"enforce\", \"audit\""),
        Arguments.of("POST", "/api/v1/admin/org/mode", "{\"id\":\"M1\"}", 400, "field \"mode\""),
        Arguments.of("POST", "/api/v1/admin/org/rollout", "{\"enabled\":true,\"autoReleaseAfter\":\"4 hours\"}", 400,
            "ISO-8601 duration"),
        Arguments.of("POST", "/api/v1/admin/org/explode", "{}", 404, "no operation \"explode\""),
        Arguments.of("POST", "/api/v1/admin/org/block", "{\"id\":\"M1\",\"pad\":\"" + "x".repeat(70_000) + "\"}", 413,
            "at most 65536 bytes"),
        Arguments.of("POST", "/api/v1/admin/servers/web-99/block", "{\"id\":\"M1\"}", 404, "no enrolled server named web-99"),
        Arguments.of("POST", "/api/v1/admin/servers/%2e%2e/block", "{\"id\":\"M1\"}", 400, "request refused"),
        Arguments.of("POST", "/api/v1/admin/servers/web%2f01/block", "{\"id\":\"M1\"}", 400, "request refused"),
        Arguments.of("POST", "/api/v1/admin/servers/web%5c01/block", "{\"id\":\"M1\"}", 400, "Suspicious Path Character"),
        Arguments.of("POST", "/api/v1/admin/rollouts/M9/approve", "{}", 404, "no revision of M9"),
        Arguments.of("POST", "/api/v1/admin/users", "{\"name\":\"Eve!\",\"role\":\"admin\"}", 400, "field \"name\""),
        Arguments.of("POST", "/api/v1/admin/users", "{\"name\":\"eve\",\"role\":\"root\"}", 400,
            "expected viewer, operator or admin"),
        Arguments.of("POST", "/api/v1/admin/org/rollout", "{\"enabled\":true,\"autoReleaseAfter\":\"P1000000000000D\"}",
            400, "whole seconds from PT1S to P365D"),
        Arguments.of("POST", "/api/v1/admin/org/rollout", "{\"enabled\":true,\"autoReleaseAfter\":\"PT0.5S\"}", 400,
            "field \"autoReleaseAfter\": expected an ISO-8601 duration of whole seconds"),
        Arguments.of("POST", "/api/v1/admin/org/enable", "{\"bogus\":true}", 400,
            "unknown field \"bogus\"; expected no fields (an empty body or {})"),
        Arguments.of("POST", "/api/v1/admin/users/admin/token", "{\"name\":\"admin\"}", 400, "expected no fields"),
        Arguments.of("POST", "/api/v1/admin/users/admin/token", "not json {", 400, "malformed JSON"),
        Arguments.of("DELETE", "/api/v1/admin/servers/web-01", "{\"confirm\":false", 400, "malformed JSON"),
        Arguments.of("POST", "/api/v1/admin/users", "{\"name\":\"system\",\"role\":\"operator\"}", 400,
            "expected another name than \"system\", the actor of the server's own entries"),
        Arguments.of("POST", "/api/v1/admin/enrolment-tokens", "{\"ttl\":\"P365D\"}", 400, "from PT1S to P30D"),
        Arguments.of("POST", "/api/v1/admin/enrolment-tokens", "{\"ttl\":\"PT0.5S\"}", 400, "whole seconds from PT1S"),
        Arguments.of("GET", "/api/v1/admin/audit?limit=0", null, 400, "query parameter limit"),
        Arguments.of("POST", "/api/v1/admin/servers/web-01/labels", "{\"labels\":{\"ring\":\"\\u2066canary\"}}", 400,
            "labels: field \"labels.ring\": expected a string of at most 200 characters without control or invisible"
                + " formatting characters but found U+2066 LEFT-TO-RIGHT ISOLATE at character 1"),
        Arguments.of("POST", "/api/v1/admin/servers/web-01/labels", "{\"labels\":{\"ring\":\"canary\\u009b\"}}", 400,
            "found U+009B CONTROL SEQUENCE INTRODUCER at character 7"),
        Arguments.of("POST", "/api/v1/admin/enrolment-tokens", "{\"note\":\"web farm \\u200fB\"}", 400,
            "enrolment token: field \"note\": expected a string of at most 500 characters without control or invisible"
                + " formatting characters but found U+200F RIGHT-TO-LEFT MARK at character 10"),
        // A body without the labels, or with null, used to clear every label, the ring with them.
        Arguments.of("POST", "/api/v1/admin/servers/web-01/labels", "{}", 400,
            "labels: field \"labels\": expected an object of at most 32 string values ({} removes every label)"
                + " but found nothing"),
        Arguments.of("POST", "/api/v1/admin/servers/web-01/labels", "{\"labels\":null}", 400,
            "labels: field \"labels\": expected an object of at most 32 string values ({} removes every label)"
                + " but found null"),
        Arguments.of("GET", "/api/v1/admin/audit?lmit=5", null, 400,
            "query parameter \"lmit\": unknown; expected only limit, before"),
        Arguments.of("GET", "/api/v1/admin/audit?limit=5&limit=6", null, 400, "query parameter limit: given twice; expected it once"),
        Arguments.of("GET", "/api/v1/admin/servers?stale=true", null, 400,
            "query parameter \"stale\": unknown; this resource takes no query parameters"),
        Arguments.of("GET", "/api/v1/admin/nothing", null, 404, "no admin resource"),
        Arguments.of("DELETE", "/api/v1/admin/policy", null, 405, "expected GET"));
  }

  @ParameterizedTest
  @MethodSource("badAdminRequests")
  void badAdminRequestIsRefusedWithAClearErrorAndChangesNothing(String method, String path, String body, int status,
      String message) throws Exception {
    fleet.enrol("web-01", "{\"ring\":\"canary\"}");
    JsonNode serverBefore = fleet.adminGet("/api/v1/admin/servers/web-01");
    JsonNode policyBefore = fleet.adminGet("/api/v1/admin/policy");
    int auditBefore = fleet.adminGet("/api/v1/admin/audit?limit=1000").size();

    HttpResponse<String> r = switch (method) {
      case "POST" -> fleet.post(path, fleet.adminToken, body);
      case "DELETE" -> body == null ? fleet.delete(path, fleet.adminToken) : fleet.send("DELETE", path, fleet.adminToken, body);
      default -> fleet.get(path, fleet.adminToken);
    };

    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(Fixture.json(r).get("error").asText()).contains(message);
    assertThat(fleet.adminGet("/api/v1/admin/policy")).isEqualTo(policyBefore);
    assertThat(fleet.adminGet("/api/v1/admin/audit?limit=1000")).hasSize(auditBefore);
    assertThat(fleet.adminGet("/api/v1/admin/users")).hasSize(1);
    assertThat(fleet.adminGet("/api/v1/admin/servers/web-01")).isEqualTo(serverBefore);
  }

  @Test
  void adminApiRefusesAMissingOrWrongToken() throws Exception {
    assertThat(fleet.get("/api/v1/admin/whoami", null).statusCode()).isEqualTo(401);
    assertThat(fleet.get("/api/v1/admin/whoami", "tqu_" + "A".repeat(43)).statusCode()).isEqualTo(401);
    HttpResponse<String> r = fleet.post("/api/v1/admin/org/disable", "tqu_" + "B".repeat(43), "");
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(fleet.adminGet("/api/v1/admin/policy").get("mitigationsEnabled").asBoolean()).isTrue();
  }
}
