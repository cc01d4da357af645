package dev.tourniquet.servlet;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * This process as the agent can find it again, written into every acknowledgement: its pid, when it
 * started, and on Linux which boot of which host ({@code /proc/sys/kernel/random/boot_id}) and which pid
 * namespace ({@code /proc/self/ns/pid}) that pid belongs to. With it the agent can tell that an application
 * killed without its filter being destroyed (SIGKILL, a crash) is not running, where a {@code stopped}
 * acknowledgement could not be written. Values that cannot be read are null; the agent then cannot tell.
 */
final class ThisProcess {
  private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");
  private static final Path PID_NAMESPACE = Path.of("/proc/self/ns/pid");

  /** Computed once: none of it changes while the process runs. */
  private static final Map<String, Object> DESCRIPTION = describe();

  private ThisProcess() {}

  /** The {@code process} object of an acknowledgement. */
  static Map<String, Object> description() {
    return DESCRIPTION;
  }

  private static Map<String, Object> describe() {
    ProcessHandle self = ProcessHandle.current();
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("pid", self.pid());
    d.put("started", self.info().startInstant().map(Object::toString).orElse(null));
    d.put("bootId", bootId());
    d.put("pidNamespace", pidNamespace());
    return Collections.unmodifiableMap(d);
  }

  private static String bootId() {
    try {
      String id = Files.readString(BOOT_ID, StandardCharsets.US_ASCII).strip();
      return id.isEmpty() ? null : id;
    } catch (IOException | RuntimeException e) {
      return null; // not Linux, or /proc not mounted: the agent cannot tell
    }
  }

  private static String pidNamespace() {
    try {
      return Files.readSymbolicLink(PID_NAMESPACE).toString();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
