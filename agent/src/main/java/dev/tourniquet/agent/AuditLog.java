package dev.tourniquet.agent;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Optional;

/**
 * The append-only audit log, one JSON object per line:
 * {@code {"time":…,"mitigation":"M1.1","action":"apply","target":"app","outcome":"applied","reason":…}}.
 * Each line is appended and forced to disk before the call returns. An {@code intent} line is the record
 * of a change in progress: if it is the last line at a start, the agent stopped before that change's outcome.
 */
final class AuditLog {
  /** How much of the log's end {@link #lastEntry} reads: far more than a line. */
  static final int TAIL_BYTES = 64 * 1024;

  private final ObjectMapper json = new ObjectMapper();
  private final Path file;
  /** Whether this process has made sure the log ends with a whole line (see {@link #append}). */
  private boolean endChecked;

  AuditLog(Path file) {
    this.file = file;
  }

  Path file() {
    return file;
  }

  void append(Instant time, String mitigation, String action, String target, String outcome, String reason)
      throws IOException {
    ObjectNode line = json.createObjectNode();
    line.put("time", time.toString());
    line.put("mitigation", mitigation);
    line.put("action", action);
    line.put("target", target);
    line.put("outcome", outcome);
    line.put("reason", reason);
    AtomicWrite.ensureDirectory(file.toAbsolutePath().getParent());
    // A line cut short by a crash stays as it is, on a line of its own: the first line this process
    // appends starts on the next one instead of being glued to it.
    String prefix = !endChecked && endsMidLine() ? "\n" : "";
    byte[] bytes = (prefix + json.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
        StandardOpenOption.WRITE)) {
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      while (buffer.hasRemaining()) {
        ch.write(buffer);
      }
      ch.force(false);
      endChecked = true;
    }
  }

  private boolean endsMidLine() throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      ByteBuffer last = ByteBuffer.allocate(1);
      return size > 0 && ch.read(last, size - 1) == 1 && last.get(0) != '\n';
    } catch (NoSuchFileException e) {
      return false;
    }
  }

  /**
   * One line of the log, as far as recovery needs it.
   *
   * @param mitigation {@code id.revision} or {@code -}
   * @param action the action
   * @param target the target's name or {@code -}
   * @param outcome the outcome
   */
  record Entry(String mitigation, String action, String target, String outcome) {}

  /**
   * The last complete line: the one a start looks at to learn whether the agent stopped in the middle of a
   * change (an {@code intent} with no outcome after it). A torn end (a line cut short, no newline) is
   * skipped; empty if there is no log, no complete line in its last {@value #TAIL_BYTES} bytes, or that line
   * is not a JSON object.
   */
  Optional<Entry> lastEntry() throws IOException {
    byte[] tail;
    boolean wholeFile;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      wholeFile = size <= TAIL_BYTES;
      int n = (int) Math.min(size, TAIL_BYTES);
      ByteBuffer buffer = ByteBuffer.allocate(n);
      while (buffer.hasRemaining() && ch.read(buffer, size - n + buffer.position()) >= 0) {
        // read until the window is full
      }
      tail = buffer.array();
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    int end = lastNewline(tail, tail.length - 1);
    if (end < 0) {
      return Optional.empty();
    }
    int start = lastNewline(tail, end - 1) + 1;
    if (start == 0 && !wholeFile) {
      return Optional.empty(); // the line may begin before the window
    }
    try {
      JsonNode line = json.readTree(new String(tail, start, end - start, StandardCharsets.UTF_8));
      if (line == null || !line.isObject()) {
        return Optional.empty();
      }
      return Optional.of(new Entry(line.path("mitigation").asText(), line.path("action").asText(),
          line.path("target").asText(), line.path("outcome").asText()));
    } catch (JsonProcessingException e) {
      return Optional.empty();
    }
  }

  private static int lastNewline(byte[] bytes, int from) {
    for (int i = from; i >= 0; i--) {
      if (bytes[i] == '\n') {
        return i;
      }
    }
    return -1;
  }
}
