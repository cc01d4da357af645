package dev.tourniquet.bench;

import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.feed.tuf.FeedVerificationException;
import dev.tourniquet.feed.tuf.PublisherException;
import dev.tourniquet.feed.tuf.Role;
import dev.tourniquet.feed.tuf.SigningKey;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * A feed repository with one fresh in-memory key per role, as the benchmarks publish it: real signing, the
 * real publisher code, keys that never touch the disk.
 */
final class SigningFeed {
  private final FeedRepository repo;
  private final SigningKey targets;
  private final SigningKey snapshot;
  private final SigningKey timestamp;

  private SigningFeed(FeedRepository repo, SigningKey targets, SigningKey snapshot, SigningKey timestamp) {
    this.repo = repo;
    this.targets = targets;
    this.snapshot = snapshot;
    this.timestamp = timestamp;
  }

  /**
   * Creates a repository in {@code dir} with new keys and signs its first root.
   *
   * @throws IOException if files cannot be written
   */
  static SigningFeed create(Path dir, Clock clock) throws IOException {
    SigningKey root = SigningKey.generate();
    SigningKey targets = SigningKey.generate();
    SigningKey snapshot = SigningKey.generate();
    SigningKey timestamp = SigningKey.generate();
    Map<Role, FeedRepository.KeySet> keys = new EnumMap<>(Role.class);
    keys.put(Role.ROOT, new FeedRepository.KeySet(List.of(root.verificationKey()), 1));
    keys.put(Role.TARGETS, new FeedRepository.KeySet(List.of(targets.verificationKey()), 1));
    keys.put(Role.SNAPSHOT, new FeedRepository.KeySet(List.of(snapshot.verificationKey()), 1));
    keys.put(Role.TIMESTAMP, new FeedRepository.KeySet(List.of(timestamp.verificationKey()), 1));
    try {
      FeedRepository repo = FeedRepository.init(dir, keys, FeedRepository.Validity.defaults(), clock);
      repo.sign(Role.ROOT, root);
      return new SigningFeed(repo, targets, snapshot, timestamp);
    } catch (PublisherException e) {
      throw new IllegalStateException("creating a feed repository failed", e);
    }
  }

  /** The directory a web server or the fleet server serves. */
  Path published() {
    return repo.publishedDirectory();
  }

  /**
   * Stages targets and signs the targets metadata (the publisher's offline step); {@link #publish()} makes
   * them visible.
   *
   * @throws IOException if files cannot be written
   */
  void stage(Map<String, byte[]> contents) throws IOException {
    try {
      repo.addTargets(contents);
      repo.sign(Role.TARGETS, targets);
    } catch (PublisherException e) {
      throw new IllegalStateException("staging targets failed", e);
    }
  }

  /**
   * Removes a target and signs the targets metadata; {@link #publish()} makes the withdrawal visible.
   *
   * @throws IOException if files cannot be written
   */
  void withdraw(String target) throws IOException {
    try {
      repo.removeTarget(target);
      repo.sign(Role.TARGETS, targets);
    } catch (PublisherException e) {
      throw new IllegalStateException("withdrawing " + target + " failed", e);
    }
  }

  /**
   * Signs snapshot and timestamp and writes them to the published directory, timestamp last.
   *
   * @throws IOException if files cannot be written
   */
  void publish() throws IOException {
    try {
      repo.publish(List.of(snapshot), List.of(timestamp));
    } catch (PublisherException | FeedVerificationException e) {
      throw new IllegalStateException("publishing failed", e);
    }
  }

  /**
   * Signs and writes a new timestamp pointing at the same snapshot: a changed feed that changes nothing.
   *
   * @throws IOException if files cannot be written
   */
  void refreshTimestamp() throws IOException {
    try {
      repo.refreshTimestamp(List.of(timestamp));
    } catch (PublisherException | FeedVerificationException e) {
      throw new IllegalStateException("refreshing the timestamp failed", e);
    }
  }
}
