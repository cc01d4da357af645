package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two server processes' worth of servers on one PostgreSQL schema serve one fleet: a feed change seen
 * by one and a policy change made through one reach agents connected to the other (LISTEN/NOTIFY).
 */
class TwoServersOnePostgresTest {
  static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir
  Path dir;
  Fixture first;
  FleetServer second;

  @BeforeEach
  void start() throws Exception {
    first = new Fixture(dir.resolve("a"), Backend.postgres());
    // The second hosts no feed: only the first watches it, and its hints must cross the database.
    second = FleetServer.start(FleetServer.Settings.builder(dir.resolve("b")).listen("127.0.0.1", 0)
        .database(first.backend.jdbcUrl().orElseThrow()).clock(first.clock).build());
  }

  @AfterEach
  void stop() {
    if (second != null) {
      second.close();
    }
    if (first != null) {
      first.close();
    }
  }

  @Test
  void secondServerSharesUsersAndWritesNoSecondAdminToken() throws Exception {
    assertThat(Files.exists(second.adminTokenFile())).isFalse();
    var r = first.http.send(java.net.http.HttpRequest.newBuilder(second.uri().resolve("/api/v1/admin/whoami"))
        .header("Authorization", "Bearer " + first.adminToken).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
  }

  @Test
  void feedHintAndPolicyChangeThroughOneServerReachAgentsConnectedToTheOther() throws Exception {
    String credential = first.enrol("web-01", "{}");
    try (EventStreamClient events = new EventStreamClient(first.http, second.uri().resolve("/api/v1/agent/events"),
        credential)) {
      assertThat(events.status).isEqualTo(200);
      assertThat(events.nextAny(WAIT).type()).isEqualTo(":");

      first.feed.refreshTimestamp();
      EventStreamClient.Event feed = events.next(WAIT);
      assertThat(feed.type()).isEqualTo("feed");
      assertThat(feed.data()).isEqualTo("{\"feed\":\"default\"}");

      first.adminPost("/api/v1/admin/org/block", "{\"id\":\"M1\"}");
      assertThat(events.next(WAIT).type()).isEqualTo("policy");
    }
  }
}
