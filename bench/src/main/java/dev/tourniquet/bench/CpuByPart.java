package dev.tourniquet.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The JVM's CPU time split by which part of the simulation its threads belong to, from each live thread's
 * CPU time ({@code ThreadMXBean}) and the process's. What no live thread accounts for — the JIT compiler
 * and the garbage collector (not Java threads), and threads that ended between two snapshots — is its own
 * part, so the parts always add up to the process's CPU.
 *
 * <p>The fleet server's part is the one that lands on one machine in a real fleet, where each agent's check
 * runs on its own server.
 */
final class CpuByPart {
  static final String AGENTS = "agents";
  static final String SERVER = "fleet server";
  static final String CLIENTS = "agents' HTTP clients";
  static final String OTHER = "other Java threads";
  static final String UNATTRIBUTED = "JIT, GC and ended threads";

  /** Thread name prefixes of each part, in the order parts are printed. */
  private static final Map<String, List<String>> PREFIXES = parts();

  private static Map<String, List<String>> parts() {
    Map<String, List<String>> p = new LinkedHashMap<>();
    p.put(AGENTS, List.of("tourniquet-agent", "tourniquet-fleet-push"));
    p.put(SERVER, List.of("tourniquet-http", "tourniquet-push", "tourniquet-scheduler", "tourniquet-feed-watch",
        "tourniquet-bus", "tourniquet-fleet ", "MVStore", "H2 "));
    p.put(CLIENTS, List.of("fleetsim-feed-http", "fleetsim-fleet-http", "HttpClient-"));
    return p;
  }

  private final Map<Long, Long> threadNanos;
  private final Map<Long, String> threadParts;
  private final long processNanos;

  private CpuByPart(Map<Long, Long> threadNanos, Map<Long, String> threadParts, long processNanos) {
    this.threadNanos = threadNanos;
    this.threadParts = threadParts;
    this.processNanos = processNanos;
  }

  /** The CPU time of every live thread and of the process, now. */
  static CpuByPart now() {
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long[] ids = threads.getAllThreadIds();
    long[] cpu = threads.getThreadCpuTime(ids);
    ThreadInfo[] infos = threads.getThreadInfo(ids, 0);
    Map<Long, Long> nanos = new HashMap<>();
    Map<Long, String> parts = new HashMap<>();
    for (int i = 0; i < ids.length; i++) {
      if (cpu[i] >= 0 && infos[i] != null) {
        nanos.put(ids[i], cpu[i]);
        parts.put(ids[i], part(infos[i].getThreadName()));
      }
    }
    long process = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
    return new CpuByPart(nanos, parts, process);
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
    for (Map.Entry<Long, Long> e : threadNanos.entrySet()) {
      long delta = e.getValue() - before.threadNanos.getOrDefault(e.getKey(), 0L);
      attributed += delta;
      seconds.merge(threadParts.get(e.getKey()), delta / 1e9, Double::sum);
    }
    seconds.put(UNATTRIBUTED, (processNanos - before.processNanos - attributed) / 1e9);
    return seconds;
  }

  /** {@code agents 8.1 s, fleet server 2.0 s, …}. */
  static String describe(Map<String, Double> seconds) {
    return seconds.entrySet().stream()
        .map(e -> String.format(Locale.ROOT, "%s %.1f s", e.getKey(), e.getValue()))
        .collect(Collectors.joining(", "));
  }
}
