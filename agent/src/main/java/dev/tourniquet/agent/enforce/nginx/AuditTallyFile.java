package dev.tourniquet.agent.enforce.nginx;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.agent.enforce.StateFiles;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.agent.AtomicWrite;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The audit counts of one nginx target and how far its audit log was read, kept in
 * {@code <stateDir>/}{@value #FILE_NAME} so that an agent restart neither starts the counts again nor
 * counts a line twice. {@link AuditLogReader} saves it, atomically ({@link AtomicWrite}: owner-only, temp
 * file, fsync, rename), whenever a status build read something, and loads it once.
 *
 * <pre>{@code
 * {"format": "tourniquet-nginx-audit-tally/1",
 *  "log": {"inode": 2148875, "offset": 4096, "headBytes": 1024, "headSha256": "9f86…"},
 *  "counts": {"M1/1/1": 12, "M1/2/1": 3}}
 * }</pre>
 *
 * <p>The counts are those of every line before {@code offset} in the file {@code log} identifies, and of
 * the files read before it. {@code offset} is the start of a line, so that a line unfinished at the save
 * is read again whole. The file is identified by its inode and by the SHA-256 of its first
 * {@code headBytes} bytes (at most {@value #HEAD_BYTES}, never past {@code offset}), not by its device
 * number, which can change across a reboot; see {@link Position#sameFileAs}.
 *
 * <p>The file is the agent's own (its state directory is not writable by others), yet a disk can corrupt
 * it: {@link #load} checks every field and refuses the whole file rather than use part of it, since a
 * count without the position it belongs to would count lines again.
 */
final class AuditTallyFile {
  /** The file's name in the target's state directory. */
  static final String FILE_NAME = "nginx-audit.tally.json";
  /** The value of its {@code format} key. */
  static final String FORMAT = "tourniquet-nginx-audit-tally/1";
  /** The longest file read: 4096 keys take some 100 KiB, keys of audited mitigations beyond them a little more. */
  static final int MAX_BYTES = 4 << 20;
  /** The most bytes of the log's start that identify it. */
  static final int HEAD_BYTES = 1024;

  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
  private static final Set<String> FIELDS = Set.of("format", "log", "counts");
  private static final Set<String> LOG_FIELDS = Set.of("inode", "offset", "headBytes", "headSha256");

  /**
   * Where reading stopped, and in which file.
   *
   * @param inode the file's inode number
   * @param offset the start of the first line not counted yet
   * @param headBytes how many of the file's first bytes {@code headSha256} covers: {@code min(offset,} {@value
   *     #HEAD_BYTES}{@code )} when saved
   * @param headSha256 the SHA-256 of those bytes, lower-case hex
   */
  record Position(long inode, long offset, int headBytes, String headSha256) {
    /**
     * Checks the fields.
     *
     * @throws IllegalArgumentException if one is out of range
     */
    Position {
      Objects.requireNonNull(headSha256, "headSha256");
      if (inode < 0 || offset < 0 || headBytes < 0 || headBytes > HEAD_BYTES || headBytes > offset) {
        throw new IllegalArgumentException(String.format(Locale.ROOT, "expected an inode and offset of"
            + " at least 0 and headBytes from 0 to min(offset, %d) but found inode %d, offset %d, headBytes %d",
            HEAD_BYTES, inode, offset, headBytes));
      }
      if (!SHA256.matcher(headSha256).matches()) {
        throw new IllegalArgumentException("expected headSha256 to be 64 lower-case hex digits but found " + headSha256);
      }
    }

    /**
     * The position at {@code offset} in the file open as {@code channel}.
     *
     * @throws IOException if its first bytes cannot be read
     */
    static Position of(long inode, long offset, FileChannel channel) throws IOException {
      int head = (int) Math.min(offset, HEAD_BYTES);
      return new Position(inode, offset, head, sha256(channel, head));
    }

    /**
     * Tells whether the file open as {@code channel} is the one this position is in, and still holds every
     * byte before it: the same inode, at least {@code offset} bytes, and the same first {@code headBytes}.
     * A file renamed away and created again has another inode; one truncated is shorter or, once it grew
     * again, most likely starts otherwise (the inode of a file deleted since can be given to a new one).
     *
     * @throws IOException if the file cannot be read
     */
    boolean sameFileAs(long fileInode, FileChannel channel) throws IOException {
      return fileInode == inode && channel.size() >= offset && sha256(channel, headBytes).equals(headSha256);
    }
  }

  /**
   * What was saved.
   *
   * @param position where reading stopped; empty if no log was ever read (then there are no counts)
   * @param counts counts per key ({@link AuditTally#counts})
   */
  record Saved(Optional<Position> position, Map<String, Long> counts) {
    /**
     * Copies the counts.
     *
     * @throws IllegalArgumentException if there are counts but no position: they could not be told from
     *     the lines of the log, which would count again
     */
    Saved {
      Objects.requireNonNull(position, "position");
      counts = Map.copyOf(counts);
      if (position.isEmpty() && !counts.isEmpty()) {
        throw new IllegalArgumentException("expected a log position with the counts but found counts without one");
      }
    }
  }

  private final ObjectMapper json = new ObjectMapper();
  private final Path file;

  /**
   * A tally file.
   *
   * @param file where it is ({@code <stateDir>/}{@value #FILE_NAME})
   */
  AuditTallyFile(Path file) {
    this.file = Objects.requireNonNull(file, "file");
  }

  Path file() {
    return file;
  }

  /**
   * Reads the saved tally.
   *
   * @return the tally, or empty if none was ever saved
   * @throws IOException if the file cannot be read or is not a saved tally, its every field as {@link
   *     #save} writes it; the message names the file, what was expected and what was found
   */
  Optional<Saved> load() throws IOException {
    Optional<ObjectNode> read = StateFiles.readObject(file, MAX_BYTES, json);
    if (read.isEmpty()) {
      return Optional.empty();
    }
    JsonNode root = read.get();
    try {
      StateFiles.requireOnlyFields(root, FIELDS, "");
      if (!FORMAT.equals(root.path("format").asText(null))) {
        throw new IllegalArgumentException("expected format \"" + FORMAT + "\" but found " + root.path("format"));
      }
      Optional<Position> position = Optional.empty();
      JsonNode log = root.path("log");
      if (!log.isMissingNode() && !log.isNull()) {
        if (!log.isObject()) {
          throw new IllegalArgumentException("expected log to be an object or null but found " + log);
        }
        StateFiles.requireOnlyFields(log, LOG_FIELDS, "log.");
        long headBytes = number(log.path("headBytes"), "log.headBytes");
        if (headBytes > HEAD_BYTES) {
          throw new IllegalArgumentException("expected log.headBytes at most " + HEAD_BYTES + " but found " + headBytes);
        }
        position = Optional.of(new Position(number(log.path("inode"), "log.inode"), number(log.path("offset"), "log.offset"),
            (int) headBytes, log.path("headSha256").asText("")));
      }
      JsonNode countsNode = root.path("counts");
      if (!countsNode.isObject()) {
        throw new IllegalArgumentException("expected counts to be an object but found "
            + (countsNode.isMissingNode() ? "nothing" : countsNode.toString()));
      }
      Map<String, Long> counts = new TreeMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = countsNode.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!AuditTally.isKey(e.getKey())) {
          throw new IllegalArgumentException("expected the keys of counts to be <id>/<action>/<rule> as the"
              + " include writes them but found \"" + e.getKey() + "\"");
        }
        long count = number(e.getValue(), "counts." + e.getKey());
        if (count < 1) {
          throw new IllegalArgumentException("expected counts." + e.getKey() + " to be at least 1 but found " + count);
        }
        counts.put(e.getKey(), count);
      }
      return Optional.of(new Saved(position, counts));
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Saves a tally, atomically and owner-only.
   *
   * @throws IOException if it cannot be written
   */
  void save(Saved saved) throws IOException {
    ObjectNode root = json.createObjectNode();
    root.put("format", FORMAT);
    if (saved.position().isPresent()) {
      Position p = saved.position().get();
      ObjectNode log = root.putObject("log");
      log.put("inode", p.inode());
      log.put("offset", p.offset());
      log.put("headBytes", p.headBytes());
      log.put("headSha256", p.headSha256());
    } else {
      root.putNull("log");
    }
    ObjectNode counts = root.putObject("counts");
    new TreeMap<>(saved.counts()).forEach(counts::put);
    AtomicWrite.write(file, json.writeValueAsBytes(root));
  }


  /** A whole number from 0 to {@link Long#MAX_VALUE}. */
  private static long number(JsonNode node, String field) {
    if (!node.isIntegralNumber() || !node.canConvertToLong() || node.asLong() < 0) {
      throw new IllegalArgumentException("expected " + field + " to be a whole number of at least 0 but found "
          + (node.isMissingNode() ? "nothing" : node.toString()));
    }
    return node.asLong();
  }

  /** The first {@code length} bytes of the file open as {@code channel}, hashed; fewer if it is shorter. */
  private static String sha256(FileChannel channel, int length) throws IOException {
    ByteBuffer head = ByteBuffer.allocate(length);
    long at = 0;
    while (head.hasRemaining()) {
      int n = channel.read(head, at);
      if (n < 0) {
        break;
      }
      at += n;
    }
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      digest.update(head.array(), 0, head.position());
      return HexFormat.of().formatHex(digest.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
