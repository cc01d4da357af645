package dev.tourniquet.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tourniquet.servlet.EnforcementFile;
import dev.tourniquet.servlet.TourniquetFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * One protected server in a temporary directory: a signed feed, a version file, a servlet target's
 * enforcement file, a state directory and the agent's YAML configuration.
 */
final class AgentFixture {
  static final Instant START = Instant.parse("2026-11-28T05:00:00Z");

  final Path dir;
  final MutableClock clock = new MutableClock(START);
  final TestFeed feed;
  final Path versionFile;
  final Path enforcementFile;
  final Path stateDir;
  final Path configFile;

  AgentFixture(Path dir) throws Exception {
    this.dir = dir;
    this.feed = new TestFeed(dir.resolve("repo"), clock);
    this.versionFile = dir.resolve("version.txt");
    this.enforcementFile = dir.resolve("enforcement/app.json");
    this.stateDir = dir.resolve("state");
    this.configFile = dir.resolve("agent.yaml");
    version(Mitigations.VULNERABLE);
    config("directory: " + feed.published(), "");
  }

  /** Rewrites the configuration with a feed location line and extra target keys (e.g. a health probe). */
  AgentFixture config(String feedLine, String targetExtra) throws IOException {
    Files.writeString(configFile, String.join("\n",
        "server: {name: mail01, labels: {site: paris}}",
        "product: {name: Microsoft-Exchange-Server, versionFile: " + versionFile + "}",
        "feed: {" + feedLine + ", trustedRoot: " + feed.trustedRoot() + "}",
        "stateDir: " + stateDir,
        "interval: 1h",
        "admin: {port: 0}",
        "targets:",
        "  - {name: app, type: servlet, enforcementFile: " + enforcementFile + targetExtra + "}",
        ""));
    return this;
  }

  void version(String v) throws IOException {
    Files.writeString(versionFile, v + "\n");
  }

  AgentConfig load() throws Exception {
    return AgentConfig.load(configFile);
  }

  /** An agent over this fixture, opened (state loaded, targets recovered) but without its worker thread. */
  Agent open() throws Exception {
    return open(Agent.builder(load()));
  }

  /**
   * The wait between two attempts of a health probe in agents this fixture opens: the agent's 1 s would make
   * every probe that fails on purpose cost 2 s, and no test measures it (they count the attempts).
   */
  static final Duration PROBE_SETTLE = Duration.ofMillis(20);

  Agent open(Agent.Builder builder) throws Exception {
    Agent agent = builder.clock(clock).random(() -> 0.5).adminApi(false).probeSettle(PROBE_SETTLE).build();
    agent.open();
    return agent;
  }

  /**
   * Starts a protected Java application on 127.0.0.1 and a free port: embedded Jetty with the real
   * {@link TourniquetFilter} on an enforcement file (which it loads, and acknowledges, as it starts) in
   * front of a servlet.
   */
  static Server startApp(Path enforcementFile, HttpServlet servlet) throws Exception {
    Server server = new Server(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    context.addFilter(new FilterHolder(new TourniquetFilter(enforcementFile)), "/*", EnumSet.of(DispatcherType.REQUEST));
    context.addServlet(new ServletHolder(servlet), "/*");
    server.setHandler(context);
    server.start();
    return server;
  }

  /**
   * The reports of a running agent (give it to {@code Agent.Builder.reporter}), to wait for what it does on
   * its own thread: it reports after every check, and after a look between checks that ran a probe, once
   * what it did is in its files.
   */
  static final class Reports implements Reporter {
    private final BlockingQueue<AgentStatus> received = new LinkedBlockingQueue<>();

    @Override
    public void report(AgentStatus status) {
      received.add(status);
    }

    /** Waits, at most 30 s, until {@code done} holds, looking again at each report. */
    void await(String what, Callable<Boolean> done) throws Exception {
      await(what, done, () -> "");
    }

    /** As {@link #await(String, Callable)}; a failure also says what {@code found} shows then. */
    void await(String what, Callable<Boolean> done, Callable<String> found) throws Exception {
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (!done.call()) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || received.poll(left, TimeUnit.NANOSECONDS) == null && !done.call()) {
          String now = found.call();
          throw new AssertionError("expected " + what + " within 30 s" + (now.isEmpty() ? "" : " but found " + now));
        }
      }
    }
  }

  static int port(Server app) {
    return ((ServerConnector) app.getConnectors()[0]).getLocalPort();
  }

  /** The mitigations in the servlet target's enforcement file, as {@code id.revision}. */
  List<String> enforced() throws IOException {
    return enforced(enforcementFile);
  }

  /** The mitigations in a servlet target's enforcement file, as {@code id.revision}. */
  static List<String> enforced(Path enforcementFile) throws IOException {
    if (!Files.exists(enforcementFile)) {
      return List.of();
    }
    return EnforcementFile.read(enforcementFile).mitigations().stream()
        .map(dev.tourniquet.servlet.ActiveMitigation::appliedId).toList();
  }

  /** Every line of the audit log. */
  List<JsonNode> audit() throws IOException {
    return auditLog(stateDir);
  }

  /** Every line of the audit log in an agent's state directory. */
  static List<JsonNode> auditLog(Path stateDir) throws IOException {
    Path file = stateDir.resolve("audit.jsonl");
    List<JsonNode> lines = new ArrayList<>();
    if (Files.exists(file)) {
      ObjectMapper json = new ObjectMapper();
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        lines.add(json.readTree(line));
      }
    }
    return lines;
  }

  /** Audit lines with this mitigation and outcome, as "action target". */
  List<String> audit(String appliedId, String outcome) throws IOException {
    return audit().stream()
        .filter(l -> l.path("mitigation").asText().equals(appliedId) && l.path("outcome").asText().equals(outcome))
        .map(l -> l.path("action").asText() + " " + l.path("target").asText()).toList();
  }

  static MitigationStatus row(AgentStatus status, String id) {
    return status.mitigations().stream().filter(m -> m.id().equals(id)).findFirst()
        .orElseThrow(() -> new AssertionError("no status row for " + id + " in " + status.mitigations()));
  }

  static Optional<MitigationStatus> find(AgentStatus status, String id) {
    return status.mitigations().stream().filter(m -> m.id().equals(id)).findFirst();
  }

  static Map<String, String> statusById(AgentStatus status) {
    Map<String, String> out = new java.util.TreeMap<>();
    status.mitigations().forEach(m -> out.put(m.id(), m.status().label()));
    return out;
  }
}
