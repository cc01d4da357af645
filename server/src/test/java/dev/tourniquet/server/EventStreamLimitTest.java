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
      try (EventStreamClient one = fleet.events(a);
          EventStreamClient two = fleet.events(b);
          EventStreamClient three = fleet.events(c)) {
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
      try (EventStreamClient events = fleet.connectedEvents(a)) {
        EventStreamClient.Event keepAlive = events.nextAny(Duration.ofSeconds(10));
        assertThat(keepAlive.type()).isEqualTo(":");
        assertThat(keepAlive.data()).isEqualTo("keep-alive");
      }
    }
  }
}
