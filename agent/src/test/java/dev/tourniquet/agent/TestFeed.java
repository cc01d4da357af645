package dev.tourniquet.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.MitigationWriter;
import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.feed.tuf.Role;
import dev.tourniquet.feed.tuf.SigningKey;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * A signed feed published into a temporary directory with the publisher's {@link FeedRepository}, as
 * {@code tourniquet feed …} would: one in-memory key per role, the default validity periods (timestamp:
 * one day).
 */
final class TestFeed {
  private final SigningKey root = SigningKey.generate();
  private final SigningKey targets = SigningKey.generate();
  private final SigningKey snapshot = SigningKey.generate();
  private final SigningKey timestamp = SigningKey.generate();
  private final FeedRepository repo;

  TestFeed(Path dir, Clock clock) throws Exception {
    Map<Role, FeedRepository.KeySet> keys = new EnumMap<>(Role.class);
    keys.put(Role.ROOT, new FeedRepository.KeySet(List.of(root.verificationKey()), 1));
    keys.put(Role.TARGETS, new FeedRepository.KeySet(List.of(targets.verificationKey()), 1));
    keys.put(Role.SNAPSHOT, new FeedRepository.KeySet(List.of(snapshot.verificationKey()), 1));
    keys.put(Role.TIMESTAMP, new FeedRepository.KeySet(List.of(timestamp.verificationKey()), 1));
    repo = FeedRepository.init(dir, keys, FeedRepository.Validity.defaults(), clock);
    repo.sign(Role.ROOT, root);
    publish();
  }

  /** Stages a mitigation (or a new revision of it). */
  TestFeed put(Mitigation m) throws Exception {
    return putRaw(FeedRepository.mitigationTarget(m.id()), MitigationWriter.write(m));
  }

  /** Stages any bytes under a target name: the publisher signs what it is given. */
  TestFeed putRaw(String name, byte[] bytes) throws Exception {
    repo.addTarget(name, bytes);
    return this;
  }

  /**
   * Publishes a revision that goes back (below one the feed published, or a withdrawn mitigation back at or below its
   * last revision), as a publisher's own tool would. {@link FeedRepository} refuses to stage, sign or publish it, so
   * the next targets, snapshot and timestamp versions are written into the published directory here, each signed
   * with its role's key ({@link FeedRepository#signFile}), for the agent to refuse on its own.
   */
  TestFeed publishGoingBack(Mitigation m) throws Exception {
    String name = FeedRepository.mitigationTarget(m.id());
    byte[] bytes = MitigationWriter.write(m);
    Path dir = published();
    ObjectMapper json = new ObjectMapper();
    ObjectNode timestampFile = (ObjectNode) json.readTree(dir.resolve("timestamp.json").toFile());
    ObjectNode timestampSigned = (ObjectNode) timestampFile.get("signed");
    long snapshotVersion = timestampSigned.path("meta").path("snapshot.json").path("version").asLong();
    ObjectNode snapshotFile = (ObjectNode) json.readTree(dir.resolve(snapshotVersion + ".snapshot.json").toFile());
    ObjectNode snapshotSigned = (ObjectNode) snapshotFile.get("signed");
    long targetsVersion = snapshotSigned.path("meta").path("targets.json").path("version").asLong();
    ObjectNode targetsFile = (ObjectNode) json.readTree(dir.resolve(targetsVersion + ".targets.json").toFile());
    ObjectNode targetsSigned = (ObjectNode) targetsFile.get("signed");

    String sha256 = sha256(bytes);
    Path content = dir.resolve("targets/mitigations/" + sha256 + "." + m.id() + ".json");
    Files.createDirectories(content.getParent());
    Files.write(content, bytes);
    targetsSigned.put("version", targetsVersion + 1);
    ObjectNode entry = targetsSigned.withObjectProperty("targets").putObject(name);
    entry.put("length", bytes.length);
    entry.putObject("hashes").put("sha256", sha256);
    byte[] newTargets = writeSigned(json, dir.resolve((targetsVersion + 1) + ".targets.json"), targetsFile, targets);
    snapshotSigned.put("version", snapshotVersion + 1);
    metaEntry(snapshotSigned.withObjectProperty("meta").putObject("targets.json"), targetsVersion + 1, newTargets);
    byte[] newSnapshot = writeSigned(json, dir.resolve((snapshotVersion + 1) + ".snapshot.json"), snapshotFile, snapshot);
    timestampSigned.put("version", timestampSigned.path("version").asLong() + 1);
    metaEntry(timestampSigned.withObjectProperty("meta").putObject("snapshot.json"), snapshotVersion + 1, newSnapshot);
    writeSigned(json, dir.resolve("timestamp.json"), timestampFile, timestamp);
    return this;
  }

  private static byte[] writeSigned(ObjectMapper json, Path file, ObjectNode envelope, SigningKey key) throws Exception {
    envelope.putArray("signatures");
    Files.write(file, json.writeValueAsBytes(envelope));
    FeedRepository.signFile(file, key);
    return Files.readAllBytes(file);
  }

  private static void metaEntry(ObjectNode entry, long version, byte[] file) throws Exception {
    entry.put("version", version);
    entry.put("length", file.length);
    entry.putObject("hashes").put("sha256", sha256(file));
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  TestFeed withdraw(String id) throws Exception {
    repo.removeTarget(FeedRepository.mitigationTarget(id));
    return this;
  }

  /** Signs the staged targets and publishes snapshot and timestamp. */
  TestFeed publish() throws Exception {
    repo.sign(Role.TARGETS, targets);
    repo.publish(List.of(snapshot), List.of(timestamp));
    return this;
  }

  Path published() {
    return repo.publishedDirectory();
  }

  Path trustedRoot() {
    return published().resolve("1.root.json");
  }

  /** The published file of a mitigation's current revision ({@code targets/mitigations/<sha256>.<id>.json}). */
  Path publishedTarget(String id) throws Exception {
    String name = FeedRepository.mitigationTarget(id);
    String sha256 = repo.targets().get(name).hashes().get("sha256");
    Path file = published().resolve("targets/mitigations/" + sha256 + "." + id + ".json");
    if (!Files.isRegularFile(file)) {
      throw new IOException("expected the published target " + file + " but it is missing");
    }
    return file;
  }

  /** Flips one byte in the middle of a published file, as a corrupt or malicious mirror would. */
  static void flipByte(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length / 2] ^= 0x01;
    Files.write(file, bytes);
  }
}
