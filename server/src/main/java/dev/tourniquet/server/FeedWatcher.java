package dev.tourniquet.server;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the hosted feeds' {@code timestamp.json}: on a change it records the new mitigation revisions
 * (for rollouts) and publishes a feed notice, which every server process turns into {@code event: feed}
 * on its agents' streams. Polling the hash of one small file twice a second is simpler and more portable
 * than a directory watch (which misses changes on network file systems), and a publisher replaces the
 * file atomically, so a read never sees half of it.
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
