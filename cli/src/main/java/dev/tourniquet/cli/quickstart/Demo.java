package dev.tourniquet.cli.quickstart;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tourniquet.agent.AgentConfig;
import dev.tourniquet.agent.AgentStatus;
import dev.tourniquet.agent.ConfigException;
import dev.tourniquet.agent.MitigationStatus;
import dev.tourniquet.agent.Status;
import dev.tourniquet.agent.fleet.RunningAgent;
import dev.tourniquet.server.FleetServer;
import java.io.IOException;
import java.net.BindException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * The whole loop on one machine, and the script that walks a person through it.
 *
 * <p>Parts, started in this order and stopped in the reverse one by {@link #close()}: the demo feed's
 * {@link DemoPublisher}; a {@link FleetServer} (embedded H2 in the data directory) hosting that feed at
 * {@code /feeds/demo/}; the {@link DemoApp} behind the servlet filter; and an agent started by
 * {@link RunningAgent} from a YAML configuration like any other, as {@code tourniquet agent} starts it:
 * enrolled in the fleet server with a one-time token, reporting, and listening for push hints. Everything
 * listens on 127.0.0.1.
 *
 * <p>The script ({@link #protect()}, {@link #patch()}) checks every claim it prints against the real
 * parts: the agent's status, the fleet server's admin API (what the dashboard shows), and a real request
 * to the app.
 */
final class Demo implements AutoCloseable {
  static final String SERVER_NAME = "demo-exchange";
  static final String PRODUCT = "microsoft-exchange-server";
  /** Exchange 2019 CU12 before the November 2022 security update, and with it (M1's last range). */
  static final String VULNERABLE = "15.2.1118.7";
  static final String FIXED = "15.2.1118.20";
  /** ProxyNotShell (CVE-2022-41040) as published, percent-encoding and all. */
  static final String PROXYNOTSHELL =
      "/autodiscover/autodiscover.json?@evil.com/powershell/?&Email=autodiscover/autodiscover.json%3F@evil.com";
  private static final String[] LEGITIMATE = {"/owa/", "/autodiscover/autodiscover.json?Email=user@contoso.com"};
  private static final Duration STEP_TIMEOUT = Duration.ofSeconds(60);

  private final Path dir;
  private final Narration say;
  private final Duration checkInterval;
  private volatile DemoPublisher publisher;
  private volatile FleetServer server;
  private volatile FleetAdmin admin;
  private volatile DemoApp app;
  private volatile RunningAgent agent;
  private boolean closed;

  Demo(Path dir, Narration say, Duration checkInterval) {
    this.dir = dir;
    this.say = say;
    this.checkInterval = checkInterval;
  }

  URI dashboard() {
    return server.uri().resolve("/dashboard");
  }

  URI serverUri() {
    return server.uri();
  }

  Path adminToken() {
    return server.adminTokenFile();
  }

  URI curlUrl() {
    return URI.create("http://127.0.0.1:" + app.port() + PROXYNOTSHELL);
  }

  URI appUri() {
    return app.uri();
  }

  Path agentStateDir() {
    return dir.resolve("agent/state");
  }

  // ------------------------------------------------------------------------------------------- starting

  /**
   * Starts every part and waits for the agent's first report to reach the fleet server.
   *
   * @param serverPort the fleet server's port; if it is taken, any free one
   * @param appPort the demo app's port; if it is taken, any free one
   */
  void start(int serverPort, int appPort) throws QuickstartException, IOException {
    publisher = DemoPublisher.create(dir.resolve("publisher"));
    say.event("publisher: 4 ed25519 keys (root, targets, snapshot, timestamp) and a signed feed, empty for now");
    say.more("(tourniquet keys generate, feed init, feed sign, feed publish in " + shown(publisher.repository()) + ")");

    server = onFreePort("fleet server", serverPort, this::startServer);
    admin = new FleetAdmin(server.uri(), Files.readString(server.adminTokenFile(), StandardCharsets.UTF_8).trim());
    say.event("fleet server: " + server.uri() + ", hosting the feed at /feeds/demo/, embedded H2 in " + shown(dir.resolve("server")));

    Path appDir = Files.createDirectories(dir.resolve("app"));
    Files.writeString(appDir.resolve("version.txt"), VULNERABLE + "\n", StandardCharsets.UTF_8);
    app = onFreePort("demo app", appPort, port -> DemoApp.start(port, appDir.resolve("enforcement.json"),
        appDir.resolve("version.txt")));
    say.event("demo app: " + app.uri().resolve("/owa/") + ", a stand-in for Exchange Server " + VULNERABLE
        + ", behind the Tourniquet servlet filter");

    startAgent();
    say.event("agent \"" + SERVER_NAME + "\": enrolled with a one-time token, protects the demo app (servlet target),"
        + " reports, listens for pushes");
    JsonNode first = await("the agent's first report on the fleet server", () -> admin.server(SERVER_NAME)
        .filter(s -> !s.path("reportedAt").isNull() && !s.path("reportedAt").isMissingNode()));
    say.event("fleet server: first report from " + SERVER_NAME + ": product version " + first.path("productVersion").asText()
        + ", feed " + first.path("feedHealth").asText() + ", no mitigation yet");
  }

  private FleetServer startServer(int port) throws IOException {
    Path data = dir.resolve("server");
    return FleetServer.start(FleetServer.Settings.builder(data).listen("127.0.0.1", port)
        .feed("demo", publisher.published())
        // The quickstart closes the database itself, in order, on Ctrl-C.
        .database("jdbc:h2:file:" + data.toAbsolutePath().resolve("fleet") + ";DB_CLOSE_ON_EXIT=FALSE")
        .build());
  }

  private void startAgent() throws QuickstartException, IOException {
    Path agentDir = Files.createDirectories(dir.resolve("agent"));
    // The trusted root travels out of band; here, a copy of the publisher's first root.
    Files.copy(publisher.firstRoot(), agentDir.resolve("root.json"), StandardCopyOption.REPLACE_EXISTING);
    Path tokenFile = agentDir.resolve("enrolment.token");
    writeOwnerOnly(tokenFile, admin.enrolmentToken("quickstart demo agent") + "\n");
    Path yaml = agentDir.resolve("agent.yaml");
    Files.writeString(yaml, String.join("\n",
        "# The quickstart's agent; `tourniquet agent --config` reads the same keys (docs/operating.md).",
        "# Relative paths are relative to this file's directory.",
        "server: {name: " + SERVER_NAME + ", labels: {site: quickstart}}",
        "product: {name: " + PRODUCT + ", versionFile: ../app/version.txt}",
        "fleet: {url: " + quoted(server.uri()) + ", enrolmentTokenFile: " + tokenFile.getFileName() + "}",
        "feed: {fleetFeed: demo, trustedRoot: root.json}",
        "stateDir: state",
        "# interval: 1h by default; the quickstart checks every " + checkInterval.toSeconds()
            + " s so that the upgrade in step 3 is seen at once.",
        "dataCollection: true",
        "admin: {port: 0}",
        "targets:",
        "  - name: demo-app",
        "    type: servlet",
        "    enforcementFile: ../app/enforcement.json",
        "    healthProbe: {url: " + quoted(app.uri().resolve("/healthz")) + ", status: 200}",
        ""), StandardCharsets.UTF_8);
    try {
      // Enrols with the token, reports to the fleet server and listens for its pushes, as `tourniquet agent` does.
      agent = RunningAgent.start(withInterval(AgentConfig.load(yaml), checkInterval));
    } catch (ConfigException e) {
      throw new QuickstartException("the demo agent's configuration: " + e.getMessage());
    }
  }

  private static void writeOwnerOnly(Path file, String text) throws IOException {
    Files.deleteIfExists(file);
    try {
      Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException e) {
      Files.createFile(file); // not POSIX: the data directory's ACL applies
    }
    Files.writeString(file, text, StandardCharsets.UTF_8);
  }

  /** A YAML single-quoted scalar: no escapes, so Windows paths stay as they are. */
  private static String quoted(Object value) {
    return "'" + value.toString().replace("'", "''") + "'";
  }

  private static AgentConfig withInterval(AgentConfig c, Duration interval) {
    return new AgentConfig(c.source(), c.serverName(), c.labels(), c.product(), c.version(), c.feed(), c.trustedRoot(),
        c.proxy(), c.stateDir(), interval, c.dataCollection(), c.adminPort(), c.targets(), c.fleet());
  }

  @FunctionalInterface
  private interface Starter<T> {
    T start(int port) throws IOException;
  }

  /** Starts a part on its well-known port, or on any free one when that port is taken. */
  private <T> T onFreePort(String what, int port, Starter<T> starter) throws IOException {
    try {
      return starter.start(port);
    } catch (IOException e) {
      if (port == 0 || !bindFailure(e)) {
        throw e;
      }
      T started = starter.start(0);
      say.event(what + ": port " + port + " is in use, so it takes a free port");
      return started;
    }
  }

  private static boolean bindFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException) {
        return true;
      }
    }
    return false;
  }

  // ------------------------------------------------------------------------------------------- the script

  /** Sends the ProxyNotShell request and says what came back. */
  HttpProbe.Outcome tryTheCurl() throws IOException {
    return HttpProbe.get(app.port(), PROXYNOTSHELL);
  }

  /** Step 2: publish M1, and follow it to the agent, the dashboard and the request. */
  void protect() throws QuickstartException, IOException {
    Instant scheduled = agent.agent().status().nextCheck();
    publisher.publishResource("M1.json");
    // From the moment the new timestamp is in place, as the fleet benchmark measures: signing is the
    // publisher's own work (seconds on a loaded machine), not the time the fleet takes to act.
    long published = System.nanoTime();
    say.event("publisher: signed and published M1.1, Microsoft's URL Rewrite rule for CVE-2022-41040, unchanged");
    say.more("(tourniquet feed add M1.json, feed sign --role targets, feed publish)");

    await("the fleet server to find M1.1 in the feed it hosts", () -> admin.discovered("M1", 1) ? Optional.of(true)
        : Optional.empty());
    say.event("fleet server: found M1.1 in its feed and pushed a hint to its agents");

    await("the agent to apply M1.1", () -> row("M1", m -> m.status() == Status.APPLIED));
    AgentStatus status = agent.agent().status();
    double after = (System.nanoTime() - published) / 1e9;
    boolean pushed = status.lastCheck().map(t -> t.isBefore(scheduled)).orElse(false);
    // The row's reason says "applies to version …" after the check that applied it and "applied" after any
    // later one (a scheduled check may come first), so the narration names the version the agent read.
    say.event("agent: M1.1 Applied (applies to version " + status.version().orElse("?") + "), "
        + Narration.seconds(after) + " after publishing");
    say.more(pushed ? "it checked on the push hint; its next scheduled check was "
        + Narration.seconds(Duration.between(status.lastCheck().get(), scheduled).toMillis() / 1000.0) + " away"
        : "it checked at its scheduled time, before the push arrived");

    await("the fleet server to show M1 Applied on " + SERVER_NAME, () -> admin.reported(SERVER_NAME, "M1")
        .filter(m -> m.path("status").asText().equals("Applied")));
    say.event("dashboard: " + SERVER_NAME + " reports M1 Applied");

    HttpProbe.Outcome blocked = await("the ProxyNotShell request to be cut off", () -> Optional.of(tryTheCurl())
        .filter(HttpProbe.Outcome::aborted));
    say.event("the same curl: " + blocked.description() + ": blocked");
    StringBuilder others = new StringBuilder("other requests still pass:");
    for (String path : LEGITIMATE) {
      HttpProbe.Outcome o = HttpProbe.get(app.port(), path);
      if (o.status() != 200) {
        throw new QuickstartException("expected HTTP 200 for " + path + " with M1 applied but found " + o.description());
      }
      others.append(' ').append(path.replaceAll("\\?.*", "")).append(" → ").append(o.status()).append(';');
    }
    say.more(others.substring(0, others.length() - 1));
  }

  /** Step 3: install the fixed version, and follow the agent removing M1 by itself. */
  void patch() throws QuickstartException, IOException {
    Files.writeString(dir.resolve("app/version.txt"), FIXED + "\n", StandardCharsets.UTF_8);
    long installed = System.nanoTime();
    say.event("the fixed version is installed: " + shown(dir.resolve("app/version.txt")) + " now says " + FIXED);

    // Nothing pushes an upgrade: the agent sees it at its next check, at most the interval (+10%) away.
    Duration nextCheck = checkInterval.plus(checkInterval.dividedBy(10)).plus(STEP_TIMEOUT);
    MitigationStatus removed = await("the agent to remove M1.1", nextCheck, () -> row("M1",
        m -> m.appliedRevision().isEmpty() && (m.status() == Status.REMOVED || m.status() == Status.NOT_APPLICABLE)));
    say.event("agent: removed M1.1 by itself at its next check, " + Narration.seconds((System.nanoTime() - installed) / 1e9)
        + " after the upgrade (" + removed.reason() + ")");

    JsonNode reported = await("the fleet server to show M1 removed on " + SERVER_NAME, () -> admin.reported(SERVER_NAME, "M1")
        .filter(m -> !m.path("status").asText().equals("Applied")));
    say.event("dashboard: " + SERVER_NAME + " reports M1 " + reported.path("status").asText() + " ("
        + reported.path("reason").asText() + ")");

    HttpProbe.Outcome passes = await("the ProxyNotShell request to reach the app again", () -> Optional.of(tryTheCurl())
        .filter(o -> o.status() == 200));
    say.event("the same curl: " + passes.description() + ": it passes again; the update protects the server now");
  }

  /**
   * The agent's row for a mitigation once it is as expected; until then it says what the agent shows instead
   * (which a step that times out reports).
   */
  private Optional<MitigationStatus> row(String id, java.util.function.Predicate<MitigationStatus> expected) {
    Optional<MitigationStatus> row = agent.agent().status().mitigations().stream().filter(m -> m.id().equals(id))
        .findFirst();
    if (row.isPresent() && !expected.test(row.get())) {
      throw new IllegalStateException("the agent shows " + row.get().appliedId() + " " + row.get().status().label() + ": "
          + row.get().reason());
    }
    return row;
  }

  /** Polls every 100 ms until the probe answers, for at most a minute. */
  private <T> T await(String what, Callable<Optional<T>> probe) throws QuickstartException {
    return await(what, STEP_TIMEOUT, probe);
  }

  private <T> T await(String what, Duration timeout, Callable<Optional<T>> probe) throws QuickstartException {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "nothing yet";
    while (true) {
      try {
        Optional<T> value = probe.call();
        if (value.isPresent()) {
          return value.get();
        }
      } catch (Exception e) {
        last = e.getMessage();
      }
      if (System.nanoTime() > deadline) {
        throw new QuickstartException("expected " + what + " within " + timeout.toSeconds() + " s but it did not"
            + " happen (last: " + last + "); the log is " + shown(dir.resolve("quickstart.log")));
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new QuickstartException("interrupted while waiting for " + what);
      }
    }
  }

  /** A path as the person should type it: relative to the working directory when it is below it. */
  static String shown(Path p) {
    Path cwd = Path.of("").toAbsolutePath();
    Path abs = p.toAbsolutePath().normalize();
    return abs.startsWith(cwd) && !abs.equals(cwd) ? cwd.relativize(abs).toString() : abs.toString();
  }

  // ------------------------------------------------------------------------------------------- stopping

  /** Stops the agent (and its push listener), the app and the server, in that order; idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (agent != null) {
      try {
        agent.close();
      } catch (IOException | RuntimeException e) {
        // The agent's state is written atomically at every step; nothing is lost by stopping here.
      }
    }
    if (app != null) {
      app.close();
    }
    if (server != null) {
      server.close();
    }
  }
}
