package dev.tourniquet.server;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the hosted feeds' {@code timestamp.json}: on a change it records the new mitigation revisions
 * (for rollouts) and publishes a feed notice, which every server process turns into {@code event: feed}
 * on its agents' streams. The hash of that one small file is polled twice a second, which works on every
 * file system; where the file system reports changes (inotify on Linux), a {@linkplain
 * #watchDirectories(Executor) directory watch} also checks as soon as the file is replaced, so a publish
 * reaches agents without waiting for the next poll. A publisher replaces the file atomically, so a read
 * never sees half of it.
 */
final class FeedWatcher {
  private static final Logger LOG = LoggerFactory.getLogger(FeedWatcher.class);

  private final Fleet fleet;
  private final Bus bus;
  private final Map<String, String> lastHash = new HashMap<>();
  private final Map<String, String> lastError = new HashMap<>();

  FeedWatcher(Fleet fleet, Bus bus) {
    this.fleet = fleet;
    this.bus = bus;
  }

  /** Records what the feeds hold at start, without a push. */
  void initialScan() {
    for (HostedFeed feed : fleet.feeds().values()) {
      check(feed, false);
    }
  }

  /** Checks every feed once; run on a schedule. */
  void poll() {
    for (HostedFeed feed : fleet.feeds().values()) {
      check(feed, true);
    }
  }

  /**
   * Checks every feed (by {@link #poll()}, on {@code checks}, the executor that runs the scheduled polls)
   * as soon as a feed directory reports that {@code timestamp.json} changed. The watch only makes a
   * publish visible sooner, so it never stops the server: a directory that cannot be watched, or a system
   * that cannot watch at all (out of inotify instances, say), is polled only, and says so in the log; so is
   * a file system that never reports changes (some network file systems), silently.
   *
   * @param checks where the checks run; polls and checks must not run at the same time
   * @return closing it stops watching and waits for the watching thread to end
   */
  Closeable watchDirectories(Executor checks) {
    return watchDirectories(checks, FileSystems.getDefault()::newWatchService);
  }

  /** Where a watch service comes from: the default file system's, or a test's. */
  @FunctionalInterface
  interface WatchServices {
    WatchService open() throws IOException;
  }

  Closeable watchDirectories(Executor checks, WatchServices watchServices) {
    WatchService watch;
    try {
      watch = watchServices.open();
    } catch (IOException | UnsupportedOperationException e) {
      LOG.warn("cannot watch the feed directories ({}); polling them twice a second", e.toString());
      return () -> { };
    }
    for (HostedFeed feed : fleet.feeds().values()) {
      try {
        feed.root().register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY);
      } catch (IOException | UnsupportedOperationException e) {
        LOG.warn("feed {}: cannot watch {} ({}); polling it twice a second", feed.name(), feed.root(), e.toString());
      }
    }
    Thread thread = new Thread(() -> {
      try {
        while (true) {
          WatchKey key = watch.take();
          boolean changed = false;
          for (WatchEvent<?> event : key.pollEvents()) {
            changed |= event.kind() == StandardWatchEventKinds.OVERFLOW
                || "timestamp.json".equals(String.valueOf(event.context()));
          }
          key.reset();
          if (changed) {
            checks.execute(this::poll);
          }
        }
      } catch (ClosedWatchServiceException | InterruptedException | RejectedExecutionException e) {
        // closed, or the server is stopping
      }
    }, "tourniquet-feed-watch");
    thread.setDaemon(true);
    thread.start();
    return () -> {
      watch.close(); // ends the thread's take()
      try {
        thread.join(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    };
  }

  private void check(HostedFeed feed, boolean push) {
    try {
      Optional<String> hash = feed.timestampHash();
      if (hash.isEmpty() || hash.get().equals(lastHash.get(feed.name()))) {
        return;
      }
      fleet.discover(feed, feed.listMitigations());
      lastHash.put(feed.name(), hash.get());
      lastError.remove(feed.name());
      if (push) {
        LOG.info("feed {}: new timestamp {}; pushing a hint", feed.name(), hash.get().substring(0, 12));
        bus.publish(Bus.Notice.feed(feed.name(), hash.get()));
      }
    } catch (Exception e) {
      String message = e.toString();
      if (!message.equals(lastError.put(feed.name(), message))) {
        LOG.warn("feed {}: cannot read {}: {}", feed.name(), feed.root(), message);
      }
    }
  }
}
