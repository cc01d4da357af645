package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.Closeable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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

  @Test
  void aFeedDirectoryThatCannotBeWatchedIsLeftToPollingWhileTheOthersAreStillWatched() throws Exception {
    TestFeed watched = new TestFeed(dir.resolve("a")).publish(Map.of("M1", 1));
    Path vanished = Files.createDirectories(dir.resolve("b"));
    FeedFileCache cache = new FeedFileCache(16, 1 << 20);
    Map<String, HostedFeed> feeds = Map.of("a", new HostedFeed("a", watched.published(), cache),
        "b", new HostedFeed("b", vanished, cache));
    Files.delete(vanished); // registering a watch on it now fails
    RecordingBus bus = new RecordingBus();
    ExecutorService checks = Executors.newSingleThreadExecutor();
    try (Database db = Database.open("jdbc:h2:file:" + dir.resolve("fleet").toAbsolutePath())) {
      FeedWatcher watcher = new FeedWatcher(new Fleet(db, Clock.systemUTC(), bus, feeds, Duration.ofHours(2)), bus);
      watcher.initialScan();

      try (Closeable watch = watcher.watchDirectories(checks)) {
        watched.publish(Map.of("M1", 2));

        assertThat(bus.await(n -> n.kind() == Bus.Notice.Kind.FEED && n.subject().equals("a"), Duration.ofSeconds(10)))
            .as("feed a, still watched, announced without a poll").isPresent();
      }
    } finally {
      checks.shutdownNow();
    }
    assertThat(watchThreadAlive()).as("closing the watch ended its thread").isFalse();
  }

  @Test
  void aSystemThatCannotWatchAtAllLeavesEveryFeedToPolling() throws Exception {
    TestFeed feed = new TestFeed(dir.resolve("a")).publish(Map.of("M1", 1));
    Map<String, HostedFeed> feeds = Map.of("a", new HostedFeed("a", feed.published(), new FeedFileCache(16, 1 << 20)));
    RecordingBus bus = new RecordingBus();
    ExecutorService checks = Executors.newSingleThreadExecutor();
    try (Database db = Database.open("jdbc:h2:file:" + dir.resolve("fleet").toAbsolutePath())) {
      FeedWatcher watcher = new FeedWatcher(new Fleet(db, Clock.systemUTC(), bus, feeds, Duration.ofHours(2)), bus);
      watcher.initialScan();

      try (Closeable watch = watcher.watchDirectories(checks, () -> {
        throw new java.io.IOException("User limit of inotify instances reached or too many open files");
      })) {
        assertThat(watchThreadAlive()).as("no watching thread").isFalse();
        feed.publish(Map.of("M1", 2));
        watcher.poll();

        assertThat(bus.await(n -> n.kind() == Bus.Notice.Kind.FEED && n.subject().equals("a"), Duration.ofSeconds(10)))
            .as("the poll still announces the publish").isPresent();
      }
    } finally {
      checks.shutdownNow();
    }
  }

  private static boolean watchThreadAlive() {
    return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("tourniquet-feed-watch"));
  }
}
