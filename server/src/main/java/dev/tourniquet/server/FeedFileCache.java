package dev.tourniquet.server;

import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The feed files served recently: their validators (ETag, Last-Modified) and, for small files, their
 * bytes, so that an agent's no-change poll costs one {@code stat} instead of a read and a SHA-256.
 *
 * <p>An entry is valid only while the file's {@link Identity} is unchanged: its file key (device and
 * inode), its modification time and its size, read from the file system on every request. A publisher
 * replaces files by an atomic rename, which gives the new file a new inode even when its size and
 * modification time (to the tick) equal the old one's; a writer that changes a file in place changes its
 * modification time, unless it keeps the size within one tick of the file system's clock (docs/server.md
 * tells publishers to rename). On a file system that reports no file key nothing is cached and every request reads
 * the file, as before. Path checks (traversal, symbolic links out of the feed) are made before every
 * lookup, so a cached entry is never served for a path that is refused.
 *
 * <p>Bounded by entries and by bytes of content, least recently used first out. Files larger than
 * {@link #MAX_CONTENT_BYTES} keep their validators only. All methods lock this cache; each holds the lock
 * for a map operation, never during I/O.
 */
final class FeedFileCache {
  /** Default bounds: far more files than a feed serves often, and a few megabytes of metadata. */
  static final int DEFAULT_ENTRIES = 1024;
  static final long DEFAULT_BYTES = 64L * 1024 * 1024;
  /** Larger files are read again for every 200; their validators are still cached for 304s. */
  static final int MAX_CONTENT_BYTES = 1024 * 1024;

  /** What identifies one version of a file without reading it. */
  record Identity(Object fileKey, FileTime lastModified, long size) {
    /** Empty when the file system reports no file key: without it a replacement could go unnoticed. */
    static Optional<Identity> of(BasicFileAttributes attrs) {
      Object key = attrs.fileKey();
      return key == null ? Optional.empty() : Optional.of(new Identity(key, attrs.lastModifiedTime(), attrs.size()));
    }
  }

  private record Entry(Identity identity, HostedFeed.File file) {}

  private final int maxEntries;
  private final long maxBytes;
  private final long maxContentBytes;
  private final LinkedHashMap<Path, Entry> entries = new LinkedHashMap<>(64, 0.75f, true);
  private long bytes;

  FeedFileCache(int maxEntries, long maxBytes) {
    if (maxEntries < 1 || maxBytes < 0) {
      throw new IllegalArgumentException("feed file cache: expected at least 1 entry and 0 bytes but found "
          + maxEntries + " and " + maxBytes);
    }
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
    this.maxContentBytes = Math.min(MAX_CONTENT_BYTES, maxBytes);
  }

  /** The file cached for this path if it still has this identity; a stale entry is dropped. */
  synchronized Optional<HostedFeed.File> get(Path path, Identity identity) {
    Entry e = entries.get(path);
    if (e == null) {
      return Optional.empty();
    }
    if (!e.identity().equals(identity)) {
      remove(path);
      return Optional.empty();
    }
    return Optional.of(e.file());
  }

  /** Remembers a file read with this identity; its content only if it is small enough. */
  synchronized void put(Path path, Identity identity, HostedFeed.File file) {
    HostedFeed.File kept = file.content() != null && file.content().length > maxContentBytes
        ? file.withoutContent() : file;
    remove(path);
    entries.put(path, new Entry(identity, kept));
    bytes += contentBytes(kept);
    Iterator<Map.Entry<Path, Entry>> eldest = entries.entrySet().iterator();
    while (entries.size() > maxEntries || bytes > maxBytes) {
      bytes -= contentBytes(eldest.next().getValue().file());
      eldest.remove();
    }
  }

  /** Forgets a path (its file is gone or no longer served). */
  synchronized void remove(Path path) {
    Entry old = entries.remove(path);
    if (old != null) {
      bytes -= contentBytes(old.file());
    }
  }

  synchronized int size() {
    return entries.size();
  }

  synchronized long bytes() {
    return bytes;
  }

  private static long contentBytes(HostedFeed.File file) {
    return file.content() == null ? 0 : file.content().length;
  }
}
