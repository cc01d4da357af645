package dev.tourniquet.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The JVM's CPU time split by which part of the simulation its threads belong to, read from Linux's
 * per-thread accounting ({@code /proc/self/task/TID/schedstat}, nanoseconds on a CPU, and {@code comm}, the
 * thread's name cut to 15 characters) without asking the JVM anything: a snapshot does not stop or slow the
 * threads it measures. What no live thread accounts for (threads that ended between two snapshots) is its
 * own part, so the parts add up to the process's CPU.
 *
 * <p>The fleet server's part is the one that lands on one machine in a real fleet, where each agent's check
 * runs on its own server.
 */
final class CpuByPart {
  static final String AGENTS = "agents";
  static final String SERVER = "fleet server";
  static final String CLIENTS = "agents' HTTP clients";
  static final String JIT = "JIT";
  static final String GC = "GC";
  static final String OTHER = "other threads";
  static final String ENDED = "ended threads";

  private static final Path TASKS = Path.of("/proc/self/task");

  /** Prefixes of the (cut) thread names of each part, in the order parts are printed. */
  private static final Map<String, List<String>> PREFIXES = parts();

  private static Map<String, List<String>> parts() {
    Map<String, List<String>> p = new LinkedHashMap<>();
    // "tourniquet-agent", "tourniquet-fleet-push" and its watchdog, cut to 15 characters.
    p.put(AGENTS, List.of("tourniquet-agen", "tourniquet-flee"));
    p.put(SERVER, List.of("tourniquet-http", "tourniquet-push", "tourniquet-sche", "tourniquet-feed", "tourniquet-bus",
        "tourniquet-db", "MVStore", "H2 "));
    p.put(CLIENTS, List.of("fleetsim-feed-h", "fleetsim-fleet-", "HttpClient-"));
    p.put(JIT, List.of("C1 CompilerThre", "C2 CompilerThre"));
    p.put(GC, List.of("GC Thread", "G1 "));
    return p;
  }

  private final Map<String, Long> threadNanos;
  private final Map<String, String> threadParts;
  private final long processNanos;

  private CpuByPart(Map<String, Long> threadNanos, Map<String, String> threadParts, long processNanos) {
    this.threadNanos = threadNanos;
    this.threadParts = threadParts;
    this.processNanos = processNanos;
  }

  /** The CPU time of every live thread and of the process now; empty where there is no {@code /proc/self/task}. */
  static Optional<CpuByPart> now() {
    Map<String, Long> nanos = new HashMap<>();
    Map<String, String> parts = new HashMap<>();
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(TASKS)) {
      for (Path task : tasks) {
        try {
          String name = Files.readString(task.resolve("comm")).strip();
          long ran = Long.parseLong(Files.readString(task.resolve("schedstat")).split(" ", 2)[0]);
          nanos.put(task.getFileName().toString(), ran);
          parts.put(task.getFileName().toString(), part(name));
        } catch (IOException | RuntimeException ended) {
          // The thread ended while the directory was read: counted with the ended ones.
        }
      }
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
    long process = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
    return Optional.of(new CpuByPart(nanos, parts, process));
  }

  static String part(String threadName) {
    for (Map.Entry<String, List<String>> e : PREFIXES.entrySet()) {
      if (e.getValue().stream().anyMatch(threadName::startsWith)) {
        return e.getKey();
      }
    }
    return OTHER;
  }

  /**
   * Seconds of CPU of each part from {@code before} to this snapshot; a thread started in between counts
   * from zero.
   */
  Map<String, Double> since(CpuByPart before) {
    Map<String, Double> seconds = new LinkedHashMap<>();
    PREFIXES.keySet().forEach(p -> seconds.put(p, 0.0));
    seconds.put(OTHER, 0.0);
    long attributed = 0;
    for (Map.Entry<String, Long> e : threadNanos.entrySet()) {
      long delta = e.getValue() - before.threadNanos.getOrDefault(e.getKey(), 0L);
      attributed += delta;
      seconds.merge(threadParts.get(e.getKey()), delta / 1e9, Double::sum);
    }
    seconds.put(ENDED, (processNanos - before.processNanos - attributed) / 1e9);
    return seconds;
  }

  /** {@code agents 8.1 s, fleet server 2.0 s, …}. */
  static String describe(Map<String, Double> seconds) {
    return seconds.entrySet().stream()
        .map(e -> String.format(Locale.ROOT, "%s %.1f s", e.getKey(), e.getValue()))
        .collect(Collectors.joining(", "));
  }
}
