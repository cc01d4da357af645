package dev.tourniquet.server;

import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.feed.tuf.Role;
import dev.tourniquet.feed.tuf.SigningKey;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * A real signed feed made with the publisher's {@link FeedRepository}: one key per role, mitigations as
 * small documents with an id and a revision (the server reads only those two fields).
 */
final class TestFeed {
  final SigningKey root = SigningKey.generate();
  final SigningKey targets = SigningKey.generate();
  final SigningKey snapshot = SigningKey.generate();
  final SigningKey timestamp = SigningKey.generate();
  final FeedRepository repo;

  TestFeed(Path dir) throws Exception {
    Map<Role, FeedRepository.KeySet> keys = new EnumMap<>(Role.class);
    keys.put(Role.ROOT, new FeedRepository.KeySet(List.of(root.verificationKey()), 1));
    keys.put(Role.TARGETS, new FeedRepository.KeySet(List.of(targets.verificationKey()), 1));
    keys.put(Role.SNAPSHOT, new FeedRepository.KeySet(List.of(snapshot.verificationKey()), 1));
    keys.put(Role.TIMESTAMP, new FeedRepository.KeySet(List.of(timestamp.verificationKey()), 1));
    repo = FeedRepository.init(dir, keys, FeedRepository.Validity.defaults(), Clock.systemUTC());
    repo.sign(Role.ROOT, root);
  }

  static byte[] mitigation(String id, int revision) {
    return ("{\"id\":\"" + id + "\",\"revision\":" + revision + ",\"title\":\"test mitigation " + id + "\"}\n")
        .getBytes(StandardCharsets.UTF_8);
  }

  /** Adds or revises mitigations and publishes. */
  TestFeed publish(Map<String, Integer> revisions) throws Exception {
    for (var e : revisions.entrySet()) {
      repo.addTarget("mitigations/" + e.getKey() + ".json", mitigation(e.getKey(), e.getValue()));
    }
    repo.sign(Role.TARGETS, targets);
    repo.publish(List.of(snapshot), List.of(timestamp));
    return this;
  }

  /** Re-signs the timestamp only: a new timestamp.json, same content. */
  void refreshTimestamp() throws Exception {
    repo.refreshTimestamp(List.of(timestamp));
  }

  Path published() {
    return repo.publishedDirectory();
  }
}
