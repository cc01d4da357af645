package dev.tourniquet.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * The append-only audit log, one JSON object per line:
 * {@code {"time":…,"mitigation":"M1.1","action":"apply","target":"app","outcome":"applied","reason":…}}.
 * Each line is appended and forced to disk before the call returns, except an intent line ({@link #appendIntent}).
 */
final class AuditLog {
  private final ObjectMapper json = new ObjectMapper();
  private final Path file;

  AuditLog(Path file) {
    this.file = file;
  }

  Path file() {
    return file;
  }

  void append(Instant time, String mitigation, String action, String target, String outcome, String reason)
      throws IOException {
    write(line(time, mitigation, action, target, outcome, reason), true);
  }

  /**
   * Appends the line announcing a change before it is made, without forcing it to disk: the outcome line
   * that follows forces both. If the machine stops in between and the line is lost, the intent recorded in
   * {@code state.json} (which is forced) makes the next start write an {@code interrupted} line for it.
   */
  void appendIntent(Instant time, String mitigation, String action, String target, String reason)
      throws IOException {
    write(line(time, mitigation, action, target, "intent", reason), false);
  }

  private byte[] line(Instant time, String mitigation, String action, String target, String outcome, String reason)
      throws IOException {
    ObjectNode line = json.createObjectNode();
    line.put("time", time.toString());
    line.put("mitigation", mitigation);
    line.put("action", action);
    line.put("target", target);
    line.put("outcome", outcome);
    line.put("reason", reason);
    return (json.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8);
  }

  private void write(byte[] bytes, boolean force) throws IOException {
    AtomicWrite.ensureDirectory(file.toAbsolutePath().getParent());
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
        StandardOpenOption.WRITE)) {
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      while (buffer.hasRemaining()) {
        ch.write(buffer);
      }
      if (force) {
        ch.force(false);
      }
    }
  }
}
