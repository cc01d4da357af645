package dev.tourniquet.feed.tuf;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Builds signed test repositories with the publisher-side {@link FeedRepository}, and forges attacker
 * variants of its files: an attacker's mirror serves the published directory with some paths replaced.
 *
 * <p>Keys: three root keys (threshold 2), one key each for targets, snapshot and timestamp.
 */
final class TestRepository {
  static final Instant START = Instant.parse("2026-03-01T12:00:00Z");

  final MutableClock clock = new MutableClock(START);
  final List<SigningKey> rootKeys = List.of(SigningKey.generate(), SigningKey.generate(), SigningKey.generate());
  final SigningKey targetsKey = SigningKey.generate();
  final SigningKey snapshotKey = SigningKey.generate();
  final SigningKey timestampKey = SigningKey.generate();
  final Path dir;
  final FeedRepository repo;
  /** What the attacker's mirror serves instead of the published file, by path. */
  final Map<String, byte[]> overrides = new HashMap<>();

  TestRepository(Path dir) throws Exception {
    this(dir, FeedRepository.Validity.defaults());
  }

  TestRepository(Path dir, FeedRepository.Validity validity) throws Exception {
    this.dir = dir;
    repo = FeedRepository.init(dir.resolve("repo"), keySets(), validity, clock);
    repo.sign(Role.ROOT, rootKeys.get(0));
    repo.sign(Role.ROOT, rootKeys.get(1));
    repo.addTarget("mitigations/M1.json", mitigation("M1", 1));
    repo.addTarget("mitigations/M2.json", mitigation("M2", 1));
    repo.sign(Role.TARGETS, targetsKey);
    publish();
  }

  /** The key set of each role, as this repository was initialised with; another repository may share them. */
  Map<Role, FeedRepository.KeySet> keySets() {
    Map<Role, FeedRepository.KeySet> keys = new EnumMap<>(Role.class);
    keys.put(Role.ROOT, new FeedRepository.KeySet(rootKeys.stream().map(SigningKey::verificationKey).toList(), 2));
    keys.put(Role.TARGETS, new FeedRepository.KeySet(List.of(targetsKey.verificationKey()), 1));
    keys.put(Role.SNAPSHOT, new FeedRepository.KeySet(List.of(snapshotKey.verificationKey()), 1));
    keys.put(Role.TIMESTAMP, new FeedRepository.KeySet(List.of(timestampKey.verificationKey()), 1));
    return keys;
  }

  static byte[] mitigation(String id, int revision) {
    return ("{\"id\":\"" + id + "\",\"revision\":" + revision + ",\"title\":\"test mitigation " + id + "\"}\n")
        .getBytes(StandardCharsets.UTF_8);
  }

  TrustedFeed publish() throws Exception {
    return repo.publish(List.of(snapshotKey), List.of(timestampKey));
  }

  /** Revises M1 and publishes: targets, snapshot and timestamp versions all go up by one. */
  TrustedFeed publishRevision(int revision) throws Exception {
    repo.addTarget("mitigations/M1.json", mitigation("M1", revision));
    repo.sign(Role.TARGETS, targetsKey);
    return publish();
  }

  Path published() {
    return repo.publishedDirectory();
  }

  byte[] publishedFile(String path) {
    try {
      return Files.readAllBytes(published().resolve(path));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  long version(String path, Role role) throws Exception {
    return Metadata.parse(path, publishedFile(path), role).version;
  }

  /** A fresh agent store trusting root version 1. */
  Path newStore(Path storeDir) throws Exception {
    TufClient.bootstrap(storeDir, publishedFile("1.root.json"));
    return storeDir;
  }

  /** The attacker's mirror: the published directory, with {@link #overrides} served in place. */
  Fetcher mirror() {
    Fetcher directory = Fetchers.directory(published());
    return (path, etag) -> overrides.containsKey(path)
        ? new Fetcher.Found(new ByteArrayInputStream(overrides.get(path)), Optional.empty())
        : directory.fetch(path, etag);
  }

  TufClient client(Path store) {
    return TufClient.open(store, mirror(), clock);
  }

  TufClient client(Path store, Limits limits) {
    return TufClient.open(store, mirror(), clock, limits);
  }

  /**
   * Forges metadata: takes a file, lets the attacker edit its signed part, and signs the result with the
   * given keys (none: signatures dropped).
   */
  static byte[] forge(byte[] original, Consumer<ObjectNode> edit, SigningKey... keys) {
    try {
      ObjectNode envelope = Json.parseObject("forged", original);
      edit.accept((ObjectNode) envelope.get("signed"));
      Envelopes.clearSignatures(envelope);
      for (SigningKey key : keys) {
        Envelopes.sign(envelope, key);
      }
      return Json.write(envelope);
    } catch (MalformedMetadataException e) {
      throw new IllegalArgumentException(e);
    }
  }

  /** The meta entry (version, length, sha256) that refers to a file. */
  static ObjectNode metaEntry(long version, byte[] file) {
    return Envelopes.metaEntry(version, file);
  }
}
