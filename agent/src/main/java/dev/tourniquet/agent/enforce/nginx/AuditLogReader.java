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
import java.util.Optional;
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
 * lines before that position are then not counted.
 *
 * <p>The counts and the position survive an agent restart: after every call that read something they are
 * saved together, atomically, in {@link AuditTallyFile}, at the start of the line being read, and the
 * first call of a new reader goes on from there. So a restart neither counts a line again (the whole file
 * would be, were the counts saved without the position) nor forgets the hits of files rotated away, and
 * the counts it shows are at once those shown before it. The saved position names the file by its inode
 * and first bytes ({@link AuditTallyFile.Position#sameFileAs}): a file rotated or truncated while the agent
 * was down is read from its start, as during a run. A saved tally that cannot be used (corrupt, not a
 * regular file) is said once and not used at all: the counts start again from the log as it is, which
 * counts every line of it once, never more, and the next save replaces it. A tally that cannot be saved (a full disk) is said once and the
 * counts go on in memory; a restart then goes on from the last tally saved, reading its lines again.
 */
final class AuditLogReader {
  /** The most bytes read per call. */
  static final int MAX_BYTES_PER_READ = 4 << 20;

  private static final int CHUNK = 64 << 10;
  private static final Logger LOG = LoggerFactory.getLogger(AuditLogReader.class);

  private final String target;
  private final Path log;
  private final AuditTallyFile saved;
  /** The counts; null until the first call loads the saved ones. */
  private AuditTally tally;
  /** The saved position, until the first call that finds a file under the name compares it with that file. */
  private AuditTallyFile.Position resume;
  private Object fileKey;
  private long inode;
  private long offset;
  /** The last save failed: save at the next call even if it reads nothing. */
  private boolean unsaved;
  /** The last problem with the saved tally, if any: it could not be loaded, or saved. */
  private String tallyProblem;
  private boolean warnedIgnored;
  private boolean warnedFull;
  private boolean warnedUnreadable;

  /**
   * Creates a reader that has read nothing yet; its first call loads the tally saved in {@code tallyFile}.
   *
   * @param target the target's name, for the log
   * @param log the audit log
   * @param tallyFile where the counts and the position are saved ({@link AuditTallyFile#FILE_NAME})
   */
  AuditLogReader(String target, Path log, Path tallyFile) {
    this.target = Objects.requireNonNull(target, "target");
    this.log = Objects.requireNonNull(log, "log");
    this.saved = new AuditTallyFile(tallyFile);
  }

  /**
   * Reads what was appended since the last call, up to the bound, saves the counts and the position, and
   * returns the counts so far. A missing file counts nothing new; an unreadable one is logged once and
   * counts nothing new.
   *
   * @param named tells whether a key names a rule of a mitigation being audited ({@link AuditTally#accept})
   * @return the counts per key
   */
  synchronized Map<String, Long> read(Predicate<String> named) {
    if (tally == null) {
      load();
    }
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

  /** The lines ignored so far ({@link AuditTally#ignored}); nothing before the first {@link #read}. */
  synchronized long ignored() {
    return tally == null ? 0 : tally.ignored();
  }

  /** The last problem with the saved tally in this run (it could not be loaded, or saved), if any. */
  synchronized Optional<String> tallyProblem() {
    return Optional.ofNullable(tallyProblem);
  }

  /** Takes the saved counts and position, or none if there are none or they cannot be used. */
  private void load() {
    try {
      Optional<AuditTallyFile.Saved> last = saved.load();
      tally = new AuditTally(last.map(AuditTallyFile.Saved::counts).orElse(Map.of()));
      resume = last.flatMap(AuditTallyFile.Saved::position).orElse(null);
    } catch (IOException | RuntimeException e) {
      // Never guess a position: counts without theirs would count lines again. Starting from the log as it
      // is counts each of its lines once; the hits of files rotated away before are no longer in the counts.
      tally = new AuditTally();
      resume = null;
      tallyProblem = "the saved audit counts cannot be used: " + e.getMessage();
      LOG.warn("{}: {}; counting again from the start of the audit log {} (each of its lines once; hits in files"
          + " rotated away before are no longer counted). The file is replaced at the next save", target,
          tallyProblem, log);
    }
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
      Map<String, Object> opened;
      try {
        opened = Files.readAttributes(log, "unix:fileKey,ino", LinkOption.NOFOLLOW_LINKS);
      } catch (UnsupportedOperationException | IllegalArgumentException e) {
        // Linux has the unix view; without an inode the saved position could not name its file.
        throw new IOException("expected a file system that gives inode numbers but found none: " + e.getMessage(), e);
      }
      if (!Objects.equals(key, opened.get("fileKey"))) {
        return; // replaced while being opened: the channel may be either file, so read at the next call
      }
      long ino = (Long) opened.get("ino");
      long size = channel.size();
      boolean moved = unsaved;
      if (resume != null) {
        // The first file since the agent started: go on from the saved position if it is the file saved.
        offset = resume.sameFileAs(ino, channel) ? resume.offset() : 0;
        resume = null;
        fileKey = key;
        inode = ino;
        tally.startOver();
        moved = true;
      } else if (!Objects.equals(key, fileKey) || size < offset) {
        fileKey = key;
        inode = ino;
        offset = 0;
        tally.startOver();
        moved = true;
      }
      long start = offset;
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
      if (moved || offset != start) {
        save(channel);
      }
    }
  }

  /**
   * Saves the counts with the position of the first line not counted yet (the unfinished line is read
   * again whole after a restart). A failure is logged once, until a save succeeds; the counts go on.
   */
  private void save(FileChannel channel) {
    try {
      saved.save(new AuditTallyFile.Saved(
          Optional.of(AuditTallyFile.Position.of(inode, offset - tally.pending(), channel)), tally.counts()));
      if (unsaved) {
        LOG.info("{}: the audit counts are saved again in {}", target, saved.file());
      }
      unsaved = false;
    } catch (IOException | RuntimeException e) {
      if (!unsaved) {
        tallyProblem = "cannot save the audit counts to " + saved.file() + ": " + e.getMessage();
        LOG.warn("{}: {}; they go on in memory, and after a restart the agent goes on from the last counts"
            + " saved, reading the lines since again (logged once until a save succeeds)", target, tallyProblem);
      }
      unsaved = true;
    }
  }
}
