package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A database from before server names were compared ignoring case (schema version 3) that already holds
 * web1 and WEB1: the upgrade keeps both, and refuses any further spelling of the name.
 */
abstract class ServerNameUpgradeContract extends UpgradeContract {
  private static final Instant ENROLLED = Instant.parse("2026-01-05T10:00:00Z");

  @Override
  String olderVersion() {
    return "3";
  }

  @Override
  void rowsBefore(Connection c) throws SQLException {
    enrolledBefore(c, "web1", ENROLLED);
    enrolledBefore(c, "WEB1", ENROLLED.plus(Duration.ofDays(1)));
    enrolledBefore(c, "web2", ENROLLED.plus(Duration.ofDays(2)));
  }

  private static void enrolledBefore(Connection c, String server, Instant at) throws SQLException {
    Database.update(c, "INSERT INTO agents (agent_id, server_name, credential_hash, labels, mitigations_enabled,"
        + " enrolled_at, last_seen) VALUES (?, ?, ?, '{}', TRUE, ?, ?)", "id-" + server, server,
        Secrets.hash(Secrets.newSecret(Secrets.AGENT)), at, at);
  }

  @Test
  void upgradeKeepsBothServersAndWarnsThatTheirNamesDifferOnlyInCase() throws Exception {
    assertThat(fleet.adminGet("/api/v1/admin/servers").findValuesAsText("server"))
        .containsExactlyInAnyOrder("web1", "WEB1", "web2");
    assertThat(log.list).filteredOn(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage)
        .containsExactly("servers web1 and WEB1 differ only in case (enrolled before server names were compared"
            + " ignoring case): an operator will take them for one server, and each is found only by its exact name;"
            + " remove all but one (DELETE /api/v1/admin/servers/NAME)");
  }

  @Test
  void enrolmentOfAnySpellingOfTheNameIsRefusedNamingTheServersEnrolled() throws Exception {
    HttpResponse<String> other = fleet.post("/api/v1/enrol", null, AgentContract.enrolBody(fleet.enrolmentToken(),
        "Web1"));
    HttpResponse<String> same = fleet.post("/api/v1/enrol", null, AgentContract.enrolBody(fleet.enrolmentToken(),
        "WEB1"));

    assertThat(other.statusCode()).isEqualTo(409);
    assertThat(Fixture.json(other).get("error").asText()).isEqualTo("server Web1 is already enrolled as web1 and WEB1"
        + " (server names are compared ignoring case); an admin must remove each of them first"
        + " (DELETE /api/v1/admin/servers/NAME) before Web1 can enrol");
    assertThat(same.statusCode()).isEqualTo(409);
    assertThat(Fixture.json(same).get("error").asText()).startsWith("server WEB1 is already enrolled;");
  }

  @Test
  void eachIsFoundByItsExactNameAndAnotherSpellingIsRefusedAsAmbiguous() throws Exception {
    assertThat(fleet.adminGet("/api/v1/admin/servers/web1").get("server").asText()).isEqualTo("web1");
    assertThat(fleet.adminGet("/api/v1/admin/servers/WEB1").get("server").asText()).isEqualTo("WEB1");

    HttpResponse<String> read = fleet.get("/api/v1/admin/servers/wEB1", fleet.adminToken);
    HttpResponse<String> block = fleet.post("/api/v1/admin/servers/Web1/block", fleet.adminToken, "{\"id\":\"M1\"}");

    assertThat(read.statusCode()).isEqualTo(409);
    assertThat(Fixture.json(read).get("error").asText()).isEqualTo("server name wEB1 matches web1 and WEB1, which"
        + " differ only in case (enrolled before server names were compared ignoring case); expected the exact name"
        + " of one of them");
    assertThat(block.statusCode()).isEqualTo(409);
    assertThat(fleet.adminGet("/api/v1/admin/servers/web1").get("blocked")).isEmpty();
    assertThat(fleet.adminGet("/api/v1/admin/servers/WEB1").get("blocked")).isEmpty();
  }

  @Test
  void removingTheFirstEnrolledLeavesTheOtherHoldingTheNameAgainstAnyOtherSpelling() throws Exception {
    assertThat(fleet.delete("/api/v1/admin/servers/web1", fleet.adminToken).statusCode()).isEqualTo(200);

    assertThat(fleet.adminGet("/api/v1/admin/servers/web1").get("server").asText()).isEqualTo("WEB1");
    assertThatThrownBy(() -> fleet.enrolledConcurrently("wEb1"))
        .isInstanceOfSatisfying(SQLException.class, e -> assertThat(Database.isUniqueViolation(e)).isTrue());
  }

  @Test
  void removingTheHolderWhileAnotherTwinIsRemovedHandsTheKeyToTheTwinThatStays() throws Exception {
    thirdTwin();
    CompletableFuture<HttpResponse<String>> holder = fleet.server.database().transaction(c -> {
      // DELETE servers/WEB1 (not the holder), stopped before its commit. Meanwhile DELETE servers/web1 removes
      // the holder: the key must go to Web1, not to WEB1, which is being removed.
      Agents.delete(c, Agents.requireServer(c, "WEB1"));
      return fleet.deleteBlockedBy(c, "/api/v1/admin/servers/web1");
    });

    HttpResponse<String> r = holder.get(10, TimeUnit.SECONDS);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(Fixture.json(r).get("result").asText()).isEqualTo("removed web1");
    assertThat(fleet.adminGet("/api/v1/admin/servers").findValuesAsText("server"))
        .containsExactlyInAnyOrder("Web1", "web2");
    assertThat(fleet.nameKeys()).containsEntry("Web1", "web1");
    assertThatThrownBy(() -> fleet.enrolledConcurrently("wEb1"))
        .isInstanceOfSatisfying(SQLException.class, e -> assertThat(Database.isUniqueViolation(e)).isTrue());
  }

  @Test
  void removingATwinWhileTheHolderIsRemovedLeavesTheThirdHoldingTheKey() throws Exception {
    thirdTwin();
    CompletableFuture<HttpResponse<String>> twin = fleet.server.database().transaction(c -> {
      // DELETE servers/web1 (the holder), stopped before its commit, having handed the key to WEB1. Meanwhile
      // DELETE servers/WEB1 must wait, then find that it now removes the holder, and hand the key on to Web1.
      Agents.delete(c, Agents.requireServer(c, "web1"));
      return fleet.deleteBlockedBy(c, "/api/v1/admin/servers/WEB1");
    });

    HttpResponse<String> r = twin.get(10, TimeUnit.SECONDS);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(Fixture.json(r).get("result").asText()).isEqualTo("removed WEB1");
    assertThat(fleet.adminGet("/api/v1/admin/servers").findValuesAsText("server"))
        .containsExactlyInAnyOrder("Web1", "web2");
    assertThat(fleet.nameKeys()).containsEntry("Web1", "web1");
    assertThatThrownBy(() -> fleet.enrolledConcurrently("wEb1"))
        .isInstanceOfSatisfying(SQLException.class, e -> assertThat(Database.isUniqueViolation(e)).isTrue());
  }

  /** A third name of the group, Web1, enrolled after web1 and WEB1 and before the upgrade: it has no key. */
  private void thirdTwin() throws Exception {
    fleet.server.database().transaction(c -> {
      enrolledBefore(c, "Web1", ENROLLED.plus(Duration.ofDays(3)));
      return null;
    });
  }

  @Test
  void lookupsByNameUseTheIndexOfTheLowerCasedNameEvenWithServersThatHaveNoKey() throws Exception {
    Database db = fleet.server.database();
    List<String> plans = db.transaction(c -> {
      if (db.postgres()) {
        // PostgreSQL may scan a table of three rows whatever its indexes. With sequential scans priced out it
        // still scans when no index can answer the query, and only then.
        Database.update(c, "SET LOCAL enable_seqscan = off");
      }
      return List.of(plan(c, Agents.SAME_NAME, "web1", "web1"), plan(c, Agents.NAMES_DIFFERING_ONLY_IN_CASE),
          plan(c, Agents.LOCK_SAME_NAME, "web1", "web1"));
    });

    for (String plan : plans) {
      assertThat(plan).containsIgnoringCase("agents_server_name_key_unique")
          .doesNotContainIgnoringCase("Seq Scan").doesNotContainIgnoringCase("tableScan");
    }
  }

  /** The query plan as the database explains it: PostgreSQL's lines or H2's SQL with its index comments. */
  private static String plan(Connection c, String sql, Object... args) throws SQLException {
    return String.join("\n", Database.query(c, "EXPLAIN " + sql, rs -> rs.getString(1), args));
  }
}
