package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server-wide bound on event streams, and the keep-alive comment. */
class EventStreamLimitTest {
  @TempDir
  Path dir;

  @Test
  void streamsBeyondTheServersBoundAreRefusedWith429() throws Exception {
    try (Fixture fleet = new Fixture(dir, Backend.h2(), b -> b.streamLimits(1, 2))) {
      String a = fleet.enrol("web-01", "{}");
      String b = fleet.enrol("web-02", "{}");
      String c = fleet.enrol("web-03", "{}");
      try (EventStreamClient one = new EventStreamClient(fleet.http, fleet.uri("/api/v1/agent/events"), a);
          EventStreamClient two = new EventStreamClient(fleet.http, fleet.uri("/api/v1/agent/events"), b);
          EventStreamClient three = new EventStreamClient(fleet.http, fleet.uri("/api/v1/agent/events"), c)) {
        assertThat(one.status).isEqualTo(200);
        assertThat(two.status).isEqualTo(200);
        assertThat(three.status).isEqualTo(429);
      }
    }
  }

  @Test
  void idleStreamsReceiveKeepAliveComments() throws Exception {
    try (Fixture fleet = new Fixture(dir, Backend.h2(), b -> b.timings(Duration.ofMillis(200), Duration.ofMillis(100),
        Duration.ofSeconds(30), Duration.ofHours(3)))) {
      String a = fleet.enrol("web-01", "{}");
      try (EventStreamClient events = new EventStreamClient(fleet.http, fleet.uri("/api/v1/agent/events"), a)) {
        assertThat(events.nextAny(Duration.ofSeconds(10)).data()).isEqualTo("connected to the Tourniquet fleet server");
        EventStreamClient.Event keepAlive = events.nextAny(Duration.ofSeconds(10));
        assertThat(keepAlive.type()).isEqualTo(":");
        assertThat(keepAlive.data()).isEqualTo("keep-alive");
      }
    }
  }
}
