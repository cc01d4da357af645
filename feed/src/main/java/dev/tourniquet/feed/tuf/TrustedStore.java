package dev.tourniquet.feed.tuf;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The client's trusted metadata on disk, one directory:
 *
 * <pre>
 *   root.json        trusted root (TUF 5.3.8)
 *   timestamp.json   trusted timestamp (5.4.5)
 *   timestamp.etag   entity tag of exactly those timestamp bytes, for conditional requests
 *   snapshot.json    trusted snapshot (5.5.7)
 *   targets.json     trusted targets (5.6.6)
 *   targets/NAME     verified target files (5.7.3), a cache re-verified against targets.json on every read
 * </pre>
 *
 * <p>Files are the exact bytes received. An update verifies everything in memory and only then
 * {@linkplain #commit(List) commits}: each file is replaced atomically and durably, in the order the
 * specification persists them (root, then timestamp, snapshot, targets), so that even a crash part-way
 * leaves a state the specification's own client passes through. A failed update writes nothing.
 */
final class TrustedStore {
  static final String ROOT = "root.json";
  static final String TIMESTAMP = "timestamp.json";
  static final String ETAG = "timestamp.etag";
  static final String SNAPSHOT = "snapshot.json";
  static final String TARGETS = "targets.json";
  static final String TARGET_CACHE = "targets";

  /** One change to the store; applied in order. */
  record Change(String name, byte[] bytes) {
    static Change write(String name, byte[] bytes) {
      return new Change(name, bytes.clone());
    }

    static Change delete(String name) {
      return new Change(name, null);
    }
  }

  private final Path dir;

  TrustedStore(Path dir) {
    this.dir = dir.toAbsolutePath().normalize();
  }

  Path dir() {
    return dir;
  }

  Optional<byte[]> read(String name) throws IOException {
    try {
      return Optional.of(Files.readAllBytes(dir.resolve(name)));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  Optional<String> etag() throws IOException {
    return read(ETAG).map(b -> new String(b, StandardCharsets.UTF_8)).filter(s -> !s.isBlank());
  }

  void commit(List<Change> changes) throws IOException {
    Files.createDirectories(dir);
    for (Change change : new ArrayList<>(changes)) {
      Path file = dir.resolve(change.name());
      if (change.bytes() == null) {
        AtomicFiles.delete(file);
      } else {
        AtomicFiles.write(file, change.bytes());
      }
    }
  }

  Path cachedTarget(String name) {
    return dir.resolve(TARGET_CACHE).resolve(name);
  }
}
