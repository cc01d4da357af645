package dev.tourniquet.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tourniquet.agent.Agent;
import dev.tourniquet.agent.AgentConfig;
import dev.tourniquet.agent.AgentControl;
import dev.tourniquet.agent.AgentStatus;
import dev.tourniquet.agent.MitigationStatus;
import dev.tourniquet.agent.Reporter;
import dev.tourniquet.agent.Status;
import dev.tourniquet.agent.fleet.FleetClient;
import dev.tourniquet.agent.fleet.PushListener;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.MitigationParser;
import dev.tourniquet.feed.mitigation.MitigationWriter;
import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.server.FleetServer;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.stream.Stream;

/**
 * The fleet simulator: one real fleet server and N real agents in one JVM, measuring the time from
 * publishing a mitigation to the last agent's report that it is applied (issue 5's bar).
 *
 * <pre>
 * mvn -q -B -pl bench -am -DskipTests package
 * java -Xss512k -cp bench/target/benchmarks.jar dev.tourniquet.bench.FleetSimulator [--agents 1000] [--runs 3]
 *     [--warmup 3] [--no-push --interval 1m] [--bound 120s] [--client-threads 4] [--agents-dir DIR]
 * java -cp bench/target/benchmarks.jar dev.tourniquet.bench.FleetSimulator --serve READY_FILE
 * </pre>
 *
 * <p>What runs, all of it the product's own code over real HTTP on 127.0.0.1:
 *
 * <ul>
 *   <li>a {@link FleetServer} (embedded H2 in a temporary directory) hosting a feed signed with fresh keys by
 *       the publisher code ({@link FeedRepository}), holding the repository's example mitigations except M1;
 *   <li>N agents, each enrolled with its own one-time token issued through the admin API, each a real
 *       {@link Agent} (its own state directory, TUF store, audit log and a servlet target whose rules file it
 *       writes) whose {@link FleetClient} is its policy source and reporter and whose {@link PushListener}
 *       holds an event stream. The agents share two {@link HttpClient}s (one for the feed, one for the fleet
 *       API) instead of holding two each: 2,000 selector threads would measure the JVM, not Tourniquet. Each
 *       shared client runs its tasks on a fixed pool of {@code --client-threads} threads (4; 0 for the JDK's
 *       default executor, a cached pool whose hand-offs cost more at this scale).
 * </ul>
 *
 * <p>A warm-up round re-signs the timestamp (a feed change that changes nothing) and waits until every
 * agent was hinted and reported after it, which proves every event stream is connected. Then
 * {@code --warmup N} publishes (3 by default, 0 for none) of a warm-up mitigation, each applied by every
 * agent, and its withdrawal, take the JVM's compiler through the path a run measures. Then each run
 * publishes a new revision of M1 (revision 1 is {@code examples/mitigations/M1.json} verbatim) and records,
 * for every agent, the moment its report with M1 at that revision {@code Applied} was acknowledged by the
 * server (the {@code 204} after the server committed the report; a wrapper around the agent's reporter
 * notes the time, which perturbs nothing). Latency is measured from the moment {@code publish} returned,
 * i.e. after the new {@code timestamp.json} was in place. After each run the server's own count (rollout
 * progress from the admin API) is read as a cross-check. With {@code --no-push} no event stream is opened:
 * agents find the revision on their next scheduled check ({@code --interval}, at least 1m, ±10% jitter).
 * Each run also splits the JVM's CPU for it by part, from Linux's per-thread accounting ({@link CpuByPart}:
 * the agents' threads, the fleet server's, the shared HTTP clients', the JIT, GC, the rest): the fleet
 * server's part is what one machine pays in a real fleet, where each agent checks on its own server.
 *
 * <p>{@code --agents-dir DIR} puts the agents' state directories in a new directory under DIR instead of
 * beside the server's (e.g. {@code /dev/shm}, a tmpfs): 1,000 agents' file work (per applying check about 6.5
 * files created and renamed over others and 11 syncs, counted with {@code strace -f -c}) then no longer falls
 * on the one disk the server uses, as it does not in a real fleet, where each agent writes to its own
 * server's disk. The default, one disk for all, is the figure {@code docs/benchmarks.md} reports against the
 * goal.
 *
 * <p>{@code --serve READY_FILE} publishes the same feed, starts the server alone and writes
 * {@code <server port> <a free port> <published dir>} to READY_FILE; it runs until killed
 * ({@code bench/poll-throughput.sh} uses it, and the free port for nginx). The temporary directory is removed on exit.
 */
public final class FleetSimulator {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PRODUCT = "microsoft-exchange-server";
  /** The id of the mitigation published before the measured runs to warm the JIT up. */
  private static final String WARMUP_ID = "WARMUP";
  /** Exchange 2019 CU12 before the November 2022 update: M1 applies. */
  private static final String VERSION = "15.2.1118.7";

  private final Options options;
  private final Path work;
  /** The agents' state directories: under {@code work}, or under {@code --agents-dir}. */
  private final Path agentsRoot;
  private SigningFeed feed;
  private FleetServer server;
  private String adminToken;
  private final HttpClient adminHttp = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final List<Agent> agents = new ArrayList<>();
  private final List<PushListener> listeners = new ArrayList<>();
  private Probe probe;

  private FleetSimulator(Options options, Path work, Path agentsRoot) {
    this.options = options;
    this.work = work;
    this.agentsRoot = agentsRoot;
  }

  /** Command-line options. */
  record Options(int agents, int runs, int warmups, boolean push, Duration interval, Duration bound, Path examples,
      Path serveReadyFile, int clientThreads, Path agentsDir) {
    static Options parse(String[] args) {
      int agents = 1000;
      int runs = 3;
      int warmups = 3;
      boolean push = true;
      Duration interval = Duration.ofHours(1);
      Duration bound = Duration.ofSeconds(120);
      Path examples = null;
      Path serve = null;
      int clientThreads = 4;
      Path agentsDir = null;
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        switch (a) {
          case "--agents" -> agents = Integer.parseInt(value(args, ++i, a));
          case "--runs" -> runs = Integer.parseInt(value(args, ++i, a));
          case "--warmup" -> warmups = Integer.parseInt(value(args, ++i, a));
          case "--no-push" -> push = false;
          case "--interval" -> interval = duration(value(args, ++i, a), a);
          case "--bound" -> bound = duration(value(args, ++i, a), a);
          case "--examples" -> examples = Path.of(value(args, ++i, a));
          case "--serve" -> serve = Path.of(value(args, ++i, a));
          case "--client-threads" -> clientThreads = Integer.parseInt(value(args, ++i, a));
          case "--agents-dir" -> agentsDir = Path.of(value(args, ++i, a));
          default -> throw new IllegalArgumentException("unknown option " + a + "; expected --agents N, --runs N,"
              + " --warmup N, --no-push, --interval D, --bound D, --client-threads N, --agents-dir DIR, --examples DIR or"
              + " --serve READY_FILE");
        }
      }
      if (agents < 1 || runs < 1 || warmups < 0 || clientThreads < 0) {
        throw new IllegalArgumentException("--agents, --runs, --warmup, --client-threads: expected at least 1, 1, 0, 0"
            + " but found " + agents + ", " + runs + ", " + warmups + ", " + clientThreads);
      }
      if (interval.compareTo(Duration.ofMinutes(1)) < 0) {
        throw new IllegalArgumentException("--interval: expected at least 1m (the agent's minimum) but found "
            + interval);
      }
      if (agentsDir != null && !Files.isDirectory(agentsDir)) {
        throw new IllegalArgumentException("--agents-dir: expected an existing directory but found " + agentsDir);
      }
      return new Options(agents, runs, warmups, push, interval, bound, examples == null ? findExamples() : examples, serve,
          clientThreads, agentsDir);
    }

    private static String value(String[] args, int i, String option) {
      if (i >= args.length) {
        throw new IllegalArgumentException(option + ": expected a value but found none");
      }
      return args[i];
    }

    private static Duration duration(String text, String option) {
      String t = text.trim().toLowerCase(Locale.ROOT);
      try {
        if (t.endsWith("ms")) {
          return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
        }
        long n = Long.parseLong(t.substring(0, t.length() - 1));
        return switch (t.charAt(t.length() - 1)) {
          case 's' -> Duration.ofSeconds(n);
          case 'm' -> Duration.ofMinutes(n);
          case 'h' -> Duration.ofHours(n);
          default -> throw new NumberFormatException();
        };
      } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
        throw new IllegalArgumentException(option + ": expected a duration such as 500ms, 90s, 1m or 1h but found \""
            + text + "\"");
      }
    }

    /** {@code examples/mitigations} of the repository, searched from the working directory upwards. */
    private static Path findExamples() {
      for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
        Path candidate = p.resolve("examples").resolve("mitigations");
        if (Files.isRegularFile(candidate.resolve("M1.json"))) {
          return candidate;
        }
      }
      throw new IllegalArgumentException("cannot find examples/mitigations/M1.json above " + Path.of("").toAbsolutePath()
          + "; run from the repository or pass --examples DIR");
    }
  }

  /**
   * Runs the simulation (or, with {@code --serve}, only the server) and prints the results.
   *
   * @param args see the class comment
   * @throws Exception if the simulation cannot run
   */
  public static void main(String[] args) throws Exception {
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("logback.configurationFile", "fleet-simulator-logback.xml");
    }
    Options options = Options.parse(args);
    Path work = Files.createTempDirectory("tourniquet-fleetsim-");
    Path agentsRoot = options.agentsDir() == null ? work.resolve("agents")
        : Files.createTempDirectory(options.agentsDir(), "tourniquet-fleetsim-agents-");
    FleetSimulator sim = new FleetSimulator(options, work, agentsRoot);
    Thread cleanup = new Thread(sim::stop, "fleetsim-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    if (options.serveReadyFile() != null) {
      sim.startServer();
      Path ready = options.serveReadyFile();
      int spare;
      try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        spare = probe.getLocalPort(); // for the script's nginx: free a moment ago, so very likely free now
      }
      Path temp = ready.resolveSibling(ready.getFileName() + ".tmp");
      Files.writeString(temp, sim.server.uri().getPort() + " " + spare + " " + sim.feed.published() + "\n");
      Files.move(temp, ready, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      say("serving %s on %s until killed", sim.feed.published(), sim.server.uri());
      Thread.currentThread().join(); // until the script kills us; the hook cleans up
      return;
    }
    try {
      sim.run();
    } finally {
      Runtime.getRuntime().removeShutdownHook(cleanup);
      sim.stop();
    }
  }

  private void run() throws Exception {
    say("machine: %d cores, load average %s; %d agents, push %s, interval %s, shared HTTP clients' executor %s;"
        + " agents' state in %s", Runtime.getRuntime().availableProcessors(), loadAverage(), options.agents(),
        options.push() ? "on" : "off", options.interval(),
        options.clientThreads() > 0 ? options.clientThreads() + " threads" : "the JDK's default", agentsRoot);
    startServer();
    long t = System.nanoTime();
    List<String> credentials = enrol();
    say("enrolled %d agents in %.1f s", credentials.size(), seconds(System.nanoTime() - t));
    t = System.nanoTime();
    probe = new Probe(options.agents());
    startAgents();
    probe.awaitReports(Duration.ofMinutes(5), "the first check");
    say("started %d agents; all reported their first check within %.1f s (threads: %d)", agents.size(),
        seconds(System.nanoTime() - t), Thread.activeCount());
    if (options.push()) {
      warmUp();
      warmUpEnforcement(options.warmups());
    }
    List<Result> results = new ArrayList<>();
    for (int run = 1; run <= options.runs(); run++) {
      probe.awaitQuiet(Duration.ofSeconds(3), Duration.ofSeconds(60));
      results.add(measure(run));
    }
    printTable(results);
  }

  // Set-up.

  private void startServer() throws IOException {
    feed = SigningFeed.create(work.resolve("repo"), Clock.systemUTC());
    Map<String, byte[]> initial = new LinkedHashMap<>();
    try (Stream<Path> files = Files.list(options.examples())) {
      for (Path f : files.filter(f -> f.toString().endsWith(".json") && !f.getFileName().toString().equals("M1.json"))
          .sorted().toList()) {
        Mitigation m = MitigationParser.parse(Files.readAllBytes(f));
        initial.put(FeedRepository.mitigationTarget(m.id()), Files.readAllBytes(f));
      }
    } catch (dev.tourniquet.feed.mitigation.MitigationException e) {
      throw new IllegalStateException("an example mitigation does not validate: " + e.getMessage(), e);
    }
    feed.stage(initial);
    feed.publish();
    Files.copy(feed.published().resolve("1.root.json"), work.resolve("root.json"));
    server = FleetServer.start(FleetServer.Settings.builder(work.resolve("server")).listen("127.0.0.1", 0)
        .feed("default", feed.published()).build());
    adminToken = Files.readString(server.adminTokenFile()).trim();
  }

  /** Issues one token per agent through the admin API and enrols with it, four at a time. */
  private List<String> enrol() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<String>> done = new ArrayList<>();
      for (int i = 0; i < options.agents(); i++) {
        String name = name(i);
        Path dir = agentsRoot.resolve(name);
        done.add(pool.submit(() -> {
          Files.createDirectories(dir);
          JsonNode token = admin("POST", "/api/v1/admin/enrolment-tokens", "{\"ttl\":\"PT1H\",\"note\":\"" + name + "\"}");
          return FleetClient.enrol(server.uri(), token.get("token").asText(), name, Map.of("site", "sim"),
              dir.resolve("fleet.credential"));
        }));
      }
      List<String> ids = new ArrayList<>();
      for (Future<String> f : done) {
        ids.add(f.get());
      }
      return ids;
    } finally {
      pool.shutdown();
    }
  }

  private void startAgents() throws Exception {
    HttpClient.Builder feedBuilder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
        .followRedirects(HttpClient.Redirect.NORMAL);
    HttpClient.Builder fleetBuilder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
    if (options.clientThreads() > 0) {
      feedBuilder.executor(clientExecutor("fleetsim-feed-http"));
      fleetBuilder.executor(clientExecutor("fleetsim-fleet-http"));
    }
    HttpClient feedHttp = feedBuilder.build();
    HttpClient fleetHttp = fleetBuilder.build();
    String interval = options.interval().toSeconds() % 3600 == 0 ? options.interval().toHours() + "h"
        : options.interval().toSeconds() % 60 == 0 ? options.interval().toMinutes() + "m" : options.interval().toSeconds() + "s";
    for (int i = 0; i < options.agents(); i++) {
      Path dir = agentsRoot.resolve(name(i));
      Path config = dir.resolve("agent.yaml");
      Files.writeString(config, String.join("\n",
          "server: {name: " + name(i) + ", labels: {site: sim}}",
          "product: {name: " + PRODUCT + ", version: " + VERSION + "}",
          "feed: {url: '" + server.uri().resolve("feeds/default/") + "', trustedRoot: " + work.resolve("root.json") + "}",
          "stateDir: " + dir.resolve("state"),
          "interval: " + interval,
          "dataCollection: true",
          "targets:",
          "  - {name: app, type: servlet, enforcementFile: " + dir.resolve("enforcement").resolve("app.json") + "}",
          ""));
      FleetClient fleet = FleetClient.open(server.uri(), dir.resolve("fleet.credential"), true, fleetHttp);
      int index = i;
      Agent agent = Agent.builder(AgentConfig.load(config)).policySource(fleet)
          .reporter(status -> probe.reported(index, fleet, status)).feedHttpClient(feedHttp).adminApi(false).build();
      agents.add(agent);
      agent.start();
      if (options.push()) {
        listeners.add(fleet.listen(() -> probe.hinted(index, agent)));
      }
    }
  }

  /**
   * The executor of a shared HTTP client: a fixed pool of daemon threads. The JDK's default, a cached
   * pool, hands each of the client's tasks to an idle thread through a {@code SynchronousQueue}; shared by
   * 1,000 agents, those hand-offs cost about a tenth of the run's CPU (thread wake-ups, measured with
   * async-profiler). An agent on its own server makes a few requests a check and does not notice.
   */
  private ExecutorService clientExecutor(String name) {
    AtomicLong count = new AtomicLong();
    return Executors.newFixedThreadPool(options.clientThreads(), r -> {
      Thread t = new Thread(r, name + "-" + count.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Re-signs the timestamp until every agent was hinted and reported after it: every stream is connected
   * and every code path has run at least twice.
   */
  private void warmUp() throws Exception {
    for (int round = 1; round <= 5; round++) {
      probe.awaitQuiet(Duration.ofSeconds(3), Duration.ofSeconds(60));
      probe.reset(null, 0);
      long start = System.nanoTime();
      feed.refreshTimestamp();
      int missing = probe.awaitHintedAndReported(Duration.ofSeconds(60));
      say("warm-up %d: a new timestamp reached %d of %d agents in %.1f s", round, options.agents() - missing,
          options.agents(), seconds(System.nanoTime() - start));
      if (missing == 0) {
        return;
      }
    }
    throw new IllegalStateException("after 5 warm-up rounds some agents still miss push hints");
  }

  /**
   * Warms the JVM's compiler up on the path a run measures: publishes {@code rounds} revisions of a
   * warm-up mitigation (M1's rule under another id) and waits for every agent to apply each, then withdraws
   * it and waits for every agent to report after the withdrawal. Without this, the first runs of a fresh JVM
   * measure the JIT as much as the agents: in one JVM, 1,000 agents take a method through the compiler's
   * thresholds only after several publishes, and the compiler threads take a sixth of the CPU meanwhile
   * (docs/benchmarks.md). An agent on its own machine pays its own compilation there.
   */
  private void warmUpEnforcement(int rounds) throws Exception {
    String target = FeedRepository.mitigationTarget(WARMUP_ID);
    for (int round = 1; round <= rounds; round++) {
      probe.awaitQuiet(Duration.ofSeconds(2), Duration.ofSeconds(60));
      feed.stage(Map.of(target, m1(WARMUP_ID, round)));
      probe.reset(WARMUP_ID, round);
      long start = System.nanoTime();
      feed.publish();
      probe.awaitApplied(options.bound());
      say("warm-up publish %d: %s.%d applied on %d of %d agents in %.1f s", round, WARMUP_ID, round, probe.applied(),
          options.agents(), seconds(System.nanoTime() - start));
    }
    if (rounds > 0) {
      probe.awaitQuiet(Duration.ofSeconds(2), Duration.ofSeconds(60));
      feed.withdraw(target);
      probe.reset(null, 0);
      long start = System.nanoTime();
      feed.publish();
      probe.awaitReports(options.bound(), "after the warm-up mitigation was withdrawn");
      say("warm-up: %s withdrawn; every agent reported after it within %.1f s", WARMUP_ID,
          seconds(System.nanoTime() - start));
    }
  }

  // Measuring.

  /** One run's numbers, in milliseconds from the publish. */
  record Result(int run, int revision, String load, double publishMillis, long[] applied, long[] hinted,
      int serverCount, double cpuSeconds, double wallSeconds, Map<String, Double> cpuByPart) {}

  private Result measure(int run) throws Exception {
    int revision = run;
    byte[] doc = m1("M1", revision);
    feed.stage(Map.of(FeedRepository.mitigationTarget("M1"), doc));
    String loadBefore = loadAverage();
    probe.reset("M1", revision);
    long cpu0 = processCpuNanos();
    Optional<CpuByPart> parts0 = CpuByPart.now();
    probe.arm();
    long before = System.nanoTime();
    feed.publish();
    long t0 = System.nanoTime();
    probe.awaitApplied(options.bound());
    long end = System.nanoTime();
    long cpu1 = processCpuNanos();
    Optional<CpuByPart> parts1 = CpuByPart.now();
    Map<String, Double> cpuByPart = parts0.isPresent() && parts1.isPresent() ? parts1.get().since(parts0.get()) : Map.of();
    long[] applied = probe.latencies(probe.appliedAt, t0);
    long[] hinted = probe.latencies(probe.hintedAt, t0);
    probe.awaitQuiet(Duration.ofSeconds(2), Duration.ofSeconds(30));
    int serverCount = serverApplied("M1", revision);
    say("run %d: %d hints and %d reports in all (until quiet)", run, probe.hints.get(), probe.reports.get());
    Result r = new Result(run, revision, loadBefore + " → " + loadAverage(), (t0 - before) / 1e6, applied, hinted,
        serverCount, (cpu1 - cpu0) / 1e9, (end - t0) / 1e9, cpuByPart);
    say("run %d (M1.%d): applied on %d of %d within %s: p50 %s, p90 %s, p99 %s, max %s; first hint p50 %s, p99 %s;"
        + " the server counts %d; CPU %.1f s in %.1f s; load %s", run, revision, count(applied), options.agents(),
        options.bound(), pct(applied, 50), pct(applied, 90), pct(applied, 99), pct(applied, 100), pct(hinted, 50),
        pct(hinted, 99), serverCount, r.cpuSeconds(), r.wallSeconds(), r.load());
    say("run %d: CPU by part: %s", run, cpuByPart.isEmpty() ? "not available (no /proc/self/task)"
        : CpuByPart.describe(cpuByPart));
    return r;
  }

  /**
   * M1's document at a revision under an id: the example verbatim for M1 revision 1, else the same rule
   * with that id and revision.
   */
  private byte[] m1(String id, int revision) throws Exception {
    byte[] bytes = Files.readAllBytes(options.examples().resolve("M1.json"));
    if (revision == 1 && id.equals("M1")) {
      return bytes;
    }
    Mitigation m = MitigationParser.parse(bytes);
    return MitigationWriter.write(new Mitigation(id, revision, m.title(), m.description()
        + "\n\nRevision " + revision + " (fleet simulator): the same rule, republished.", m.cves(), m.severity(),
        m.references(), m.applicability(), m.actions(), m.mode(), m.expires(), m.extensions()));
  }

  /** The number of servers the server itself shows with the revision applied (rollout progress). */
  private int serverApplied(String id, int revision) throws Exception {
    int n = 0;
    for (JsonNode r : admin("GET", "/api/v1/admin/rollouts", null)) {
      if (r.path("id").asText().equals(id) && r.path("revision").asInt() == revision) {
        for (JsonNode ring : r.path("progress")) {
          n += ring.path("Applied").asInt(0);
        }
      }
    }
    return n;
  }

  /**
   * What every agent did since the last reset, recorded by wrappers around its reporter and its push
   * control; nanoTime stamps, 0 for not yet.
   */
  static final class Probe {
    final AtomicLongArray appliedAt;
    final AtomicLongArray hintedAt;
    final AtomicLongArray reportedAt;
    final AtomicLong lastReport = new AtomicLong(System.nanoTime());
    final AtomicLong reports = new AtomicLong();
    final AtomicLong hints = new AtomicLong();
    private volatile String id;
    private volatile int revision;
    private volatile boolean armed;
    /** Counts down once per agent that reports the awaited revision applied; written before {@link #id}. */
    private volatile CountDownLatch allApplied = new CountDownLatch(0);

    Probe(int n) {
      appliedAt = new AtomicLongArray(n);
      hintedAt = new AtomicLongArray(n);
      reportedAt = new AtomicLongArray(n);
    }

    void reset(String id, int revision) {
      for (int i = 0; i < appliedAt.length(); i++) {
        appliedAt.set(i, 0);
        hintedAt.set(i, 0);
        reportedAt.set(i, 0);
      }
      allApplied = new CountDownLatch(id == null ? 0 : appliedAt.length());
      this.id = id;
      this.revision = revision;
      this.armed = id == null; // a warm-up records hints at once; a run from just before its publish
      reports.set(0);
      hints.set(0);
    }

    /** Records hints from now on (just before the publish; none can come before the new timestamp). */
    void arm() {
      this.armed = true;
    }

    /** The agent's reporter: send, and note when the server acknowledged what. */
    void reported(int i, FleetClient fleet, AgentStatus status) throws IOException {
      fleet.report(status);
      long now = System.nanoTime();
      lastReport.set(now);
      reportedAt.set(i, now);
      reports.incrementAndGet();
      String want = id;
      if (want != null) {
        for (MitigationStatus m : status.mitigations()) {
          if (m.id().equals(want) && m.revision() == revision && m.status() == Status.APPLIED
              && m.appliedId().equals(want + "." + revision)) {
            if (appliedAt.compareAndSet(i, 0, now)) {
              allApplied.countDown();
            }
          }
        }
      }
    }

    /** The agent's push control: note the first hint, then hint the agent. */
    void hinted(int i, AgentControl agent) {
      if (armed) {
        hintedAt.compareAndSet(i, 0, System.nanoTime());
        hints.incrementAndGet();
      }
      agent.hint();
    }

    /** Waits until every agent reported the revision applied, at most {@code bound}. */
    void awaitApplied(Duration bound) throws InterruptedException {
      allApplied.await(bound.toNanos(), TimeUnit.NANOSECONDS);
    }

    int applied() {
      int n = 0;
      for (int i = 0; i < appliedAt.length(); i++) {
        if (appliedAt.get(i) != 0) {
          n++;
        }
      }
      return n;
    }

    /**
     * Milliseconds from t0 for each agent, sorted; Long.MAX_VALUE for none. One noted before t0 counts as 0:
     * the server's directory watch can see the new timestamp, and push its hint, before {@code publish()} has
     * returned (it syncs the directory and clears the staged files after the file is in place), and the probe is
     * armed only just before the publish, so nothing earlier is noted. Counting those as missing made "first hint
     * p99" read "none" in runs where every agent had its hint.
     */
    long[] latencies(AtomicLongArray at, long t0) {
      long[] out = new long[at.length()];
      for (int i = 0; i < out.length; i++) {
        long t = at.get(i);
        out[i] = t == 0 ? Long.MAX_VALUE : Math.max(0, t - t0) / 1_000_000;
      }
      Arrays.sort(out);
      return out;
    }

    void awaitReports(Duration bound, String what) throws InterruptedException {
      long deadline = System.nanoTime() + bound.toNanos();
      while (System.nanoTime() - deadline < 0) {
        int missing = 0;
        for (int i = 0; i < reportedAt.length(); i++) {
          if (reportedAt.get(i) == 0) {
            missing++;
          }
        }
        if (missing == 0) {
          return;
        }
        Thread.sleep(100);
      }
      throw new IllegalStateException("some agents did not report " + what + " within " + bound);
    }

    /** Waits until every agent was hinted and reported after its hint; returns how many were not. */
    int awaitHintedAndReported(Duration bound) throws InterruptedException {
      long deadline = System.nanoTime() + bound.toNanos();
      int missing;
      do {
        Thread.sleep(100);
        missing = 0;
        for (int i = 0; i < hintedAt.length(); i++) {
          long h = hintedAt.get(i);
          if (h == 0 || reportedAt.get(i) - h < 0) {
            missing++;
          }
        }
      } while (missing > 0 && System.nanoTime() - deadline < 0);
      return missing;
    }

    /** Waits until no report arrived for {@code quiet}, at most {@code bound}. */
    void awaitQuiet(Duration quiet, Duration bound) throws InterruptedException {
      long deadline = System.nanoTime() + bound.toNanos();
      while (System.nanoTime() - lastReport.get() < quiet.toNanos() && System.nanoTime() - deadline < 0) {
        Thread.sleep(100);
      }
    }
  }

  // Output.

  private void printTable(List<Result> results) {
    System.out.println();
    System.out.printf(Locale.ROOT, "Fleet of %d agents, push %s, interval %s, bound %s; milliseconds from publish%n",
        options.agents(), options.push() ? "on" : "off", options.interval(), options.bound());
    System.out.println();
    System.out.println("| run | revision | applied (server's count) | p50 | p90 | p99 | max | not within bound"
        + " | first hint p50 / p99 | publish() | CPU s / wall s | fleet server's CPU s | load average (1 min) before → after |");
    System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (Result r : results) {
      System.out.printf(Locale.ROOT, "| %d | M1.%d | %d (%d) | %s | %s | %s | %s | %d | %s / %s | %.0f ms | %.1f / %.1f | %.1f | %s |%n",
          r.run(), r.revision(), count(r.applied()), r.serverCount(), pct(r.applied(), 50), pct(r.applied(), 90),
          pct(r.applied(), 99), pct(r.applied(), 100), options.agents() - count(r.applied()),
          options.push() ? pct(r.hinted(), 50) : "-", options.push() ? pct(r.hinted(), 99) : "-", r.publishMillis(),
          r.cpuSeconds(), r.wallSeconds(), r.cpuByPart().getOrDefault(CpuByPart.SERVER, Double.NaN), r.load());
    }
  }

  private static int count(long[] sorted) {
    return (int) Arrays.stream(sorted).filter(v -> v != Long.MAX_VALUE).count();
  }

  /** Nearest-rank percentile over every agent; one that never arrived counts as slower than all. */
  static String pct(long[] sorted, int p) {
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    long v = sorted[Math.max(0, rank - 1)];
    return v == Long.MAX_VALUE ? "none" : String.valueOf(v);
  }

  // Plumbing.

  private JsonNode admin(String method, String path, String body) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(server.uri().resolve(path)).timeout(Duration.ofSeconds(60))
        .header("Authorization", "Bearer " + adminToken).header("Content-Type", "application/json");
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = adminHttp.send(b.build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() / 100 != 2) {
      throw new IOException(method + " " + path + ": expected HTTP 2xx but found " + r.statusCode() + ": " + r.body());
    }
    return JSON.readTree(r.body());
  }

  private static String name(int i) {
    return String.format(Locale.ROOT, "sim-%05d", i + 1);
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (IOException e) {
      return "?";
    }
  }

  private static long processCpuNanos() {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      return os.getProcessCpuTime();
    }
    return 0;
  }

  private static double seconds(long nanos) {
    return nanos / 1e9;
  }

  private static void say(String format, Object... args) {
    System.out.printf(Locale.ROOT, "[fleetsim] " + format + "%n", args);
  }

  /** Stops every listener, agent and the server, then removes the temporary directory. */
  private synchronized void stop() {
    listeners.forEach(PushListener::close);
    listeners.clear();
    for (Agent a : agents) {
      try {
        a.close();
      } catch (IOException | RuntimeException e) {
        System.err.println("closing an agent: " + e);
      }
    }
    agents.clear();
    if (server != null) {
      server.close();
      server = null;
    }
    remove(agentsRoot);
    remove(work);
  }

  private static void remove(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      System.err.println("could not remove " + dir + ": " + e);
    }
  }
}
