package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * A database at schema version 4 in which two removals at once, before {@link Agents#delete} locked the rows of
 * a name, handed the key of a name to a server being removed: the servers left of that name hold no key, so the
 * unique index no longer guards the name. The upgrade gives the key back to the first enrolled of each such
 * name, and changes nothing else.
 *
 * <p>The database holds, besides an unrelated server {@code web2}: what is left of {@code web1} once its holder
 * went, three servers without a key, of which {@code WEB1} and {@code Web1} were enrolled at the same moment
 * and {@code wEB1}, enrolled last, has the lowest id (so neither the id alone nor the time alone picks the
 * first enrolled); {@code APP1}, left alone without the key by the same race in a group of three; and a
 * healthy pair, {@code db1} holding the key and {@code DB1} without.
 */
abstract class ServerNameKeyRepairContract extends UpgradeContract {
  private static final Instant ENROLLED = Instant.parse("2026-01-05T10:00:00Z");

  @Override
  String olderVersion() {
    return "4";
  }

  @Override
  void rowsBefore(Connection c) throws SQLException {
    enrolledBefore(c, "id-db1", "db1", "db1", 0);
    enrolledBefore(c, "id-web2", "web2", "web2", 0);
    enrolledBefore(c, "id-DB1", "DB1", null, 1);
    enrolledBefore(c, "id-1", "wEB1", null, 4);
    enrolledBefore(c, "id-3", "WEB1", null, 2);
    enrolledBefore(c, "id-2", "Web1", null, 2);
    enrolledBefore(c, "id-APP1", "APP1", null, 3);
  }

  /** A server as schema version 4 holds it: with its key, or with none ({@code null}). */
  private static void enrolledBefore(Connection c, String agentId, String server, String key, int day)
      throws SQLException {
    Instant at = ENROLLED.plus(Duration.ofDays(day));
    Database.update(c, "INSERT INTO agents (agent_id, server_name, server_name_key, credential_hash, labels,"
        + " mitigations_enabled, enrolled_at, last_seen) VALUES (?, ?, ?, ?, '{}', TRUE, ?, ?)", agentId, server,
        Database.nullable(key), Secrets.hash(Secrets.newSecret(Secrets.AGENT)), at, at);
  }

  @Test
  void upgradeGivesTheKeyOfEachNameWithoutAHolderToItsFirstEnrolledAndChangesNoOtherRow() throws Exception {
    assertThat(fleet.nameKeys()).containsOnly(entry("Web1", "web1"), entry("WEB1", null), entry("wEB1", null),
        entry("APP1", "app1"), entry("db1", "db1"), entry("DB1", null), entry("web2", "web2"));
    assertThat(fleet.adminGet("/api/v1/admin/servers").findValuesAsText("server"))
        .containsExactlyInAnyOrder("Web1", "WEB1", "wEB1", "APP1", "db1", "DB1", "web2");
  }

  @Test
  void afterTheUpgradeTheUniqueIndexRefusesAConcurrentEnrolmentOfAnotherSpellingOfEachNameGivenBack() {
    assertThatThrownBy(() -> fleet.enrolledConcurrently("web1"))
        .isInstanceOfSatisfying(SQLException.class, e -> assertThat(Database.isUniqueViolation(e)).isTrue());
    assertThatThrownBy(() -> fleet.enrolledConcurrently("App1"))
        .isInstanceOfSatisfying(SQLException.class, e -> assertThat(Database.isUniqueViolation(e)).isTrue());
  }

  @Test
  void startUpWarnsOfEachGroupStillDifferingOnlyInCaseAndNotOfTheServerNowAlone() {
    String advice = " differ only in case (enrolled before server names were compared ignoring case): an operator"
        + " will take them for one server, and each is found only by its exact name; remove all but one"
        + " (DELETE /api/v1/admin/servers/NAME)";
    assertThat(log.list).filteredOn(e -> e.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage)
        .containsExactly("servers db1 and DB1" + advice, "servers Web1, WEB1 and wEB1" + advice);
  }
}
