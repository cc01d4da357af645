package dev.tourniquet.agent.enforce.nginx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the audit log incrementally into an {@link AuditTally}: each call reads only what was appended
 * since the last, and at most {@link #MAX_BYTES_PER_READ} bytes of it, the rest at the next call. The agent
 * builds its status after every check and for every {@code tourniquet status}; the file grows with every
 * audited request and any local user can append to it, so reading it whole each time would cost time and
 * memory in proportion to everything ever written (a 59 MB file ran a 128 MiB agent out of memory).
 *
 * <p>The reader remembers the file it read (its file key: device and inode) and how far. Another file
 * under the name (rotated: renamed away, a new one created) or a file shorter than what was read
 * (truncated) is read from its start, and its lines add to the counts, which never go down. A file
 * truncated and grown past the position read before the next call cannot be told from one that grew: the
 * lines before that position are then not counted. A new reader, as after an agent restart, starts at the
 * beginning of the file, so the counts climb back, within the same bound per call, to what the file holds.
 */
final class AuditLogReader {
  /** The most bytes read per call. */
  static final int MAX_BYTES_PER_READ = 4 << 20;

  private static final int CHUNK = 64 << 10;
  private static final Logger LOG = LoggerFactory.getLogger(AuditLogReader.class);

  private final String target;
  private final Path log;
  private final AuditTally tally = new AuditTally();
  private Object fileKey;
  private long offset;
  private boolean warnedIgnored;
  private boolean warnedFull;
  private boolean warnedUnreadable;

  /**
   * Creates a reader that has read nothing yet.
   *
   * @param target the target's name, for the log
   * @param log the audit log
   */
  AuditLogReader(String target, Path log) {
    this.target = Objects.requireNonNull(target, "target");
    this.log = Objects.requireNonNull(log, "log");
  }

  /**
   * Reads what was appended since the last call, up to the bound, and returns the counts so far. A missing
   * file counts nothing new; an unreadable one is logged once and counts nothing new.
   *
   * @param named tells whether a key names a rule of a mitigation being audited ({@link AuditTally#accept})
   * @return the counts per key
   */
  synchronized Map<String, Long> read(Predicate<String> named) {
    try {
      advance(named);
      warnedUnreadable = false;
    } catch (NoSuchFileException e) {
      // Not created yet, or rotated away and not recreated yet: nothing new.
    } catch (IOException e) {
      if (!warnedUnreadable) {
        warnedUnreadable = true;
        LOG.warn("{}: cannot read the audit log {}: {}; the audit counts stay as they were", target, log, e.toString());
      }
    }
    if (tally.ignored() > 0 && !warnedIgnored) {
      warnedIgnored = true;
      LOG.warn("{}: ignoring lines of the audit log {} that are not keys the enforcer writes, too long, or unknown"
          + " keys beyond {} ({} so far; logged once): any local user can append to it, see docs/nginx.md",
          target, log, AuditTally.MAX_KEYS, tally.ignored());
    }
    if (tally.full() && !warnedFull) {
      warnedFull = true;
      LOG.warn("{}: the audit log {} holds {} distinct keys, the cap: only keys of mitigations being audited are"
          + " added from now on", target, log, AuditTally.MAX_KEYS);
    }
    return tally.counts();
  }

  /** The lines ignored so far ({@link AuditTally#ignored}). */
  synchronized long ignored() {
    return tally.ignored();
  }

  private void advance(Predicate<String> named) throws IOException {
    BasicFileAttributes before = Files.readAttributes(log, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (!before.isRegularFile()) {
      // A FIFO would block the read for ever; a link would read another file.
      throw new IOException("expected a regular file but found " + (before.isSymbolicLink() ? "a symbolic link"
          : before.isDirectory() ? "a directory" : "a special file"));
    }
    try (FileChannel channel = FileChannel.open(log, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      Object key = before.fileKey();
      if (!Objects.equals(key, Files.readAttributes(log, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey())) {
        return; // replaced while being opened: the channel may be either file, so read at the next call
      }
      long size = channel.size();
      if (!Objects.equals(key, fileKey) || size < offset) {
        fileKey = key;
        offset = 0;
        tally.startOver();
      }
      long end = Math.min(size, offset + MAX_BYTES_PER_READ);
      ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(CHUNK, Math.max(end - offset, 1)));
      while (offset < end) {
        buffer.clear().limit((int) Math.min(buffer.capacity(), end - offset));
        int n = channel.read(buffer, offset);
        if (n <= 0) {
          break;
        }
        tally.accept(buffer.array(), 0, n, named);
        offset += n;
      }
    }
  }
}
