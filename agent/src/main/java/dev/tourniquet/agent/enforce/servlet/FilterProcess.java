package dev.tourniquet.agent.enforce.servlet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tourniquet.servlet.ProcessIdentity;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/**
 * Whether the application whose filter wrote an acknowledgement has ended without saying so (killed,
 * crashed), from the {@code process} the acknowledgement names: its pid, start time, host boot and pid
 * namespace.
 *
 * <p>Only a definite answer counts. The agent says a process ended only when it sees the same boot of the
 * same host and the same pid namespace as the filter (so the pid means the same process to both), the
 * process list is not hidden from it ({@code /proc} mounted with {@code hidepid}), and there is no process
 * with that pid, it has ended and waits for its parent to collect it (a zombie), or the one there started at
 * another time (the pid was reused). Anything else (another host, a container with its own pid namespace, a
 * system without {@code /proc}, a filter too old to name its process or naming no valid pid) cannot be told,
 * and is not reported: a wrong "ended" would defer health probes for nothing.
 */
final class FilterProcess {
  /** Start times read by two processes may differ by rounding; a reused pid starts much later. */
  private static final Duration START_TOLERANCE = Duration.ofSeconds(1);

  private static final Path PROC = Path.of("/proc");

  /** Where this agent is, described as the filter describes itself. */
  private static final ProcessIdentity HERE = ProcessIdentity.current();

  /** Whether other processes may be hidden from this one; read once. */
  private static final boolean HIDDEN = processesHidden();

  private FilterProcess() {}

  /**
   * Says how the process named by an acknowledgement ended, if it certainly did.
   *
   * @param process the acknowledgement's {@code process} object (missing in an older filter's)
   * @return why the process is known to have ended, such as {@code there is no process 4242 any more};
   *     empty when it runs or that cannot be told
   */
  static Optional<String> ended(JsonNode process) {
    if (!process.path("pid").canConvertToLong() || process.path("pid").asLong() <= 0 || HIDDEN
        || HERE.bootId().isEmpty() || !HERE.bootId().get().equals(process.path("bootId").asText(null))
        || HERE.pidNamespace().isEmpty()
        || !HERE.pidNamespace().get().equals(process.path("pidNamespace").asText(null))) {
      return Optional.empty();
    }
    long pid = process.path("pid").asLong();
    Optional<ProcessHandle> handle = ProcessHandle.of(pid);
    if (handle.isEmpty() || !handle.get().isAlive()) {
      return Optional.of("there is no process " + pid + " any more");
    }
    if (zombie(pid)) {
      return Optional.of("process " + pid + " has ended; its parent has not collected it yet");
    }
    Optional<Instant> started = instant(process.path("started").asText(null));
    Optional<Instant> now = handle.get().info().startInstant();
    if (started.isPresent() && now.isPresent()
        && Duration.between(started.get(), now.get()).abs().compareTo(START_TOLERANCE) > 0) {
      return Optional.of("process " + pid + " is another one now (it started at " + now.get() + ", the application at "
          + started.get() + ")");
    }
    return Optional.empty();
  }

  /**
   * Whether the process has ended and only waits for its parent to collect its exit status (state
   * {@code Z} in {@code /proc/PID/stat}, after the name in parentheses); a process the JDK still calls alive.
   */
  private static boolean zombie(long pid) {
    try {
      String stat = Files.readString(PROC.resolve(Long.toString(pid)).resolve("stat"), StandardCharsets.UTF_8);
      int end = stat.lastIndexOf(')');
      return end > 0 && end + 2 < stat.length() && stat.charAt(end + 2) == 'Z';
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private static Optional<Instant> instant(String text) {
    try {
      return text == null ? Optional.empty() : Optional.of(Instant.parse(text));
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }

  /**
   * Whether {@code /proc} is mounted with {@code hidepid} (other users' processes hidden or unreadable), read
   * from {@code /proc/self/mountinfo}; unreadable counts as hidden.
   */
  private static boolean processesHidden() {
    if (!Files.isDirectory(PROC)) {
      return true;
    }
    try {
      for (String line : Files.readAllLines(PROC.resolve("self/mountinfo"), StandardCharsets.UTF_8)) {
        String[] halves = line.split(" - ", 2);
        String[] fields = halves[0].split(" ");
        if (halves.length == 2 && fields.length > 4 && fields[4].equals("/proc")) {
          String[] after = halves[1].split(" ");
          String options = after.length > 2 ? after[2] : "";
          for (String option : options.split(",")) {
            if (option.startsWith("hidepid=") && !option.equals("hidepid=0") && !option.equals("hidepid=off")) {
              return true;
            }
          }
        }
      }
      return false;
    } catch (IOException | RuntimeException e) {
      return true;
    }
  }
}
