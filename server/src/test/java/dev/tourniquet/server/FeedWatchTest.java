package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A publish reaches the event streams through the directory watch, without waiting for a poll. */
class FeedWatchTest {
  @TempDir
  Path dir;

  @Test
  void newTimestampIsPushedAtOnceWhenTheNextPollIsAnHourAway() throws Exception {
    try (Fixture fleet = new Fixture(dir, Backend.h2(), b -> b.timings(Duration.ofSeconds(15), Duration.ofHours(1),
        Duration.ofSeconds(30), Duration.ofHours(3)))) {
      String credential = fleet.enrol("web-01", "{}");
      try (EventStreamClient events = fleet.connectedEvents(credential)) {
        fleet.feed.publish(Map.of("M3", 1));

        assertThat(events.next(Duration.ofSeconds(10)).type()).isEqualTo("feed");
      }
    }
    assertThat(watchThreadAlive()).as("closing the server ended the watch").isFalse();
  }

  private static boolean watchThreadAlive() {
    return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("tourniquet-feed-watch"));
  }
}
