package dev.tourniquet.servlet;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A process as another process on the same host can find it again: the {@code process} of every load
 * acknowledgement (docs/servlet.md). On Linux the boot ({@code /proc/sys/kernel/random/boot_id}) and the
 * pid namespace ({@code /proc/self/ns/pid}) say which process the pid means; with them the agent can tell
 * that an application killed without its filter being destroyed (SIGKILL, a crash) is not running, where a
 * {@code stopped} acknowledgement could not be written. What cannot be read is empty; the agent then cannot
 * tell.
 *
 * @param pid the process id
 * @param started when the process started, if the platform says
 * @param bootId the host's boot, on Linux
 * @param pidNamespace the pid namespace, on Linux, such as {@code pid:[4026531836]}
 */
public record ProcessIdentity(long pid, Optional<Instant> started, Optional<String> bootId,
    Optional<String> pidNamespace) {
  private static final ProcessIdentity CURRENT = describe();

  /**
   * This process; read once, since none of it changes while the process runs.
   *
   * @return the identity of the calling process
   */
  public static ProcessIdentity current() {
    return CURRENT;
  }

  /** The {@code process} object of an acknowledgement. */
  Map<String, Object> toJson() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("pid", pid);
    json.put("started", started.map(Instant::toString).orElse(null));
    json.put("bootId", bootId.orElse(null));
    json.put("pidNamespace", pidNamespace.orElse(null));
    return json;
  }

  private static ProcessIdentity describe() {
    ProcessHandle self = ProcessHandle.current();
    return new ProcessIdentity(self.pid(), self.info().startInstant(), readBootId(), readPidNamespace());
  }

  private static Optional<String> readBootId() {
    try {
      String id = Files.readString(Path.of("/proc/sys/kernel/random/boot_id"), StandardCharsets.US_ASCII).strip();
      return id.isEmpty() ? Optional.empty() : Optional.of(id);
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // not Linux, or /proc not mounted
    }
  }

  private static Optional<String> readPidNamespace() {
    try {
      return Optional.of(Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString());
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }
}
