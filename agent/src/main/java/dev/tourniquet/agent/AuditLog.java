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
 * Each line is appended and forced to disk before the call returns.
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
    ObjectNode line = json.createObjectNode();
    line.put("time", time.toString());
    line.put("mitigation", mitigation);
    line.put("action", action);
    line.put("target", target);
    line.put("outcome", outcome);
    line.put("reason", reason);
    byte[] bytes = (json.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8);
    AtomicWrite.ensureDirectory(file.toAbsolutePath().getParent());
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND,
        StandardOpenOption.WRITE)) {
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      while (buffer.hasRemaining()) {
        ch.write(buffer);
      }
      ch.force(false);
    }
  }
}
