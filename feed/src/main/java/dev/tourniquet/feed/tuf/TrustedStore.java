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
 *   timestamp.etag   entity tag of exactly those timestamp bytes, for conditional requests, with
 *                    the SHA-256 of the bytes it belongs to
 *   snapshot.json    trusted snapshot (5.5.7)
 *   targets.json     trusted targets (5.6.6)
 *   targets/NAME     verified target files (5.7.3), a cache re-verified against targets.json on every read
 * </pre>
 *
 * <p>Files are the exact bytes received. An update verifies everything in memory and only then
 * {@linkplain #commit(List) commits}: every new file is written to a temporary file and synced, then each
 * replaces its name atomically (rename), in the order the specification persists them (root, then
 * timestamp, snapshot, targets), and one sync of the directory makes the renames durable together. A
 * crash before that sync may keep any subset of the renames, each file whole; every such mix is a state
 * the client recovers from on its next update: each file is verified against the trusted root when it is
 * loaded (a file signed by rotated-out keys counts as absent), an older timestamp or snapshot beside a
 * newer one is simply updated again, and the entity tag is used only with the exact timestamp bytes it was
 * received with (its file names their SHA-256), so a new tag beside an old timestamp cannot turn the next
 * request into a "304 Not Modified" that keeps the old timestamp. The entity tag is written in place after
 * the renames, neither synced nor replaced (a torn or empty tag file matches no timestamp, or sends a tag the
 * server does not have: a full download), so that a new timestamp costs no new file for it; one that cannot
 * be written is removed, and the next request is unconditional. A failed update writes nothing.
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

  /**
   * The entity tag received with exactly these timestamp bytes, if one was; a tag stored with other bytes
   * (or by an older version, without their hash) is not used.
   */
  Optional<String> etag(byte[] timestampBytes) throws IOException {
    String expectedPrefix = etagPrefix(timestampBytes);
    return read(ETAG).map(b -> new String(b, StandardCharsets.UTF_8))
        .filter(s -> s.startsWith(expectedPrefix))
        .map(s -> s.substring(expectedPrefix.length()))
        .filter(s -> !s.isBlank());
  }

  /** The contents of {@link #ETAG} for an entity tag received with these timestamp bytes. */
  static byte[] etagRecord(byte[] timestampBytes, String etag) {
    return (etagPrefix(timestampBytes) + etag).getBytes(StandardCharsets.UTF_8);
  }

  private static String etagPrefix(byte[] timestampBytes) {
    return Hashes.SHA256 + ":" + Hashes.hex(Hashes.SHA256, timestampBytes) + "\n";
  }

  /** Applies the changes as the class comment says: all files written and synced, renamed in order, one directory sync. */
  void commit(List<Change> changes) throws IOException {
    if (changes.isEmpty()) {
      return;
    }
    AtomicFiles.ensureDirectory(dir);
    List<AtomicFiles.Staged> staged = new ArrayList<>();
    int replaced = 0;
    byte[] etag = null;
    try {
      for (Change change : changes) {
        if (change.name().equals(ETAG)) {
          etag = change.bytes();
        } else if (change.bytes() != null) {
          staged.add(AtomicFiles.stage(dir.resolve(change.name()), change.bytes(), true));
        }
      }
      boolean renamed = false;
      for (Change change : changes) {
        if (change.bytes() == null) {
          renamed |= Files.deleteIfExists(dir.resolve(change.name()));
        } else if (!change.name().equals(ETAG)) {
          staged.get(replaced).replace();
          replaced++;
          renamed = true;
        }
      }
      if (renamed) {
        AtomicFiles.syncDirectory(dir);
      }
    } catch (IOException | RuntimeException e) {
      for (AtomicFiles.Staged s : staged.subList(replaced, staged.size())) {
        try {
          s.discard();
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
    if (etag != null) {
      writeEtag(etag);
    }
  }

  /**
   * The entity tag only makes requests conditional, and is used only beside the timestamp bytes it names:
   * torn, stale or missing, it costs one full download of the timestamp. So it is not worth a sync, and a
   * failure to write it (a link or a directory in its place) must not fail an update already committed: the
   * file is removed instead, or, if even that fails, left naming a timestamp that is no longer trusted.
   */
  private void writeEtag(byte[] record) {
    Path file = dir.resolve(ETAG);
    try {
      AtomicFiles.overwrite(file, record);
    } catch (IOException e) {
      try {
        Files.deleteIfExists(file);
      } catch (IOException ignored) {
        // Names the timestamp it was written with, not the new one: never sent with the new one.
      }
    }
  }

  Path cachedTarget(String name) {
    return dir.resolve(TARGET_CACHE).resolve(name);
  }
}
