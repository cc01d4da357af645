package dev.tourniquet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.feed.tuf.Fetchers;
import dev.tourniquet.server.FleetServer;
import java.io.IOException;
import java.net.BindException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code tourniquet server …}: run the fleet server, or, with a verb, operate a running one through its
 * admin API ({@code --server URL}); see docs/server.md.
 */
@Command(
    name = "server",
    mixinStandardHelpOptions = true,
    description = {"Run the fleet server until stopped (see docs/server.md).",
        "It hosts feeds, pushes hints to agents, keeps the organisation's policy, enrols agents, receives their"
            + " reports, and serves the admin API and the dashboard.",
        "With a verb (status, block, …) it operates a running server through its admin API instead."},
    subcommands = {ServerCommand.Status.class, ServerCommand.Block.class, ServerCommand.Unblock.class,
        ServerCommand.Enable.class, ServerCommand.Disable.class, ServerCommand.Mode.class, ServerCommand.Approve.class,
        ServerCommand.EnrolmentToken.class, ServerCommand.Audit.class})
final class ServerCommand extends Verb {
  @Option(names = "--data", paramLabel = "DIR",
      description = "Data directory: the embedded database (unless --db) and the first admin token (admin.token).")
  Path data;

  @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:8420",
      description = "Address to listen on, default ${DEFAULT-VALUE}. Anything but loopback should have --tls-keystore"
          + " (a warning is logged without it) or a TLS proxy in front.")
  String listen;

  @Option(names = "--feed", paramLabel = "NAME=DIR",
      description = "Host a feed: NAME in URLs (/feeds/NAME/), DIR the repository's published directory. Repeatable.")
  List<String> feeds = new ArrayList<>();

  @Option(names = "--db", paramLabel = "JDBC_URL",
      description = "PostgreSQL instead of the embedded H2, e.g. jdbc:postgresql://db/fleet?user=tourniquet."
          + " Put a password in ~/.pgpass (or the file PGPASSFILE names), not in the URL; the driver does not read"
          + " PGPASSWORD.")
  String db;

  @Option(names = "--tls-keystore", paramLabel = "FILE", description = "Serve HTTPS with the key and certificate of this PKCS#12 file.")
  Path tlsKeystore;

  @Option(names = "--behind-https-proxy",
      description = "Users reach the server only through a reverse proxy that terminates HTTPS: mark the dashboard's"
          + " session cookie Secure.")
  boolean behindHttpsProxy;

  @Option(names = "--session-lifetime", paramLabel = "DURATION",
      description = "A dashboard session ends this long after logging in, however much it is used: 2m to 30d, such"
          + " as 8h (the default), 90m or PT8H.")
  String sessionLifetime;

  @Option(names = "--session-idle", paramLabel = "DURATION",
      description = "A dashboard session also ends once unused this long: 2m up to the lifetime (default 30m, or the"
          + " lifetime if that is shorter).")
  String sessionIdle;

  @ArgGroup(exclusive = true, multiplicity = "0..1")
  KeystorePassword keystorePassword;

  static final class KeystorePassword {
    @Option(names = "--tls-password-env", paramLabel = "VAR", description = "Environment variable holding the keystore password.")
    String env;

    @Option(names = "--tls-password-file", paramLabel = "FILE", description = "File whose first line is the keystore password.")
    Path file;
  }

  @Override
  void run() throws Exception {
    if (data == null) {
      throw new Invalid("tourniquet server: --data DIR is required to run a server (or give a verb: status, block, …)");
    }
    FleetServer.Settings.Builder settings = FleetServer.Settings.builder(data);
    HostPort address = HostPort.parse(listen);
    settings.listen(address.host(), address.port());
    for (String feed : feeds) {
      int eq = feed.indexOf('=');
      if (eq <= 0 || eq == feed.length() - 1) {
        throw new Invalid("--feed: expected NAME=DIR but found \"" + feed + "\"");
      }
      settings.feed(feed.substring(0, eq), Path.of(feed.substring(eq + 1)));
    }
    if (db != null) {
      settings.database(db);
    }
    if (tlsKeystore != null) {
      settings.tls(tlsKeystore, keystorePassword().toCharArray());
    } else if (keystorePassword != null) {
      throw new Invalid("--tls-password-env/--tls-password-file: expected --tls-keystore as well");
    }
    if (behindHttpsProxy) {
      settings.behindHttpsProxy();
    }
    Sessions sessions = sessions(sessionLifetime, sessionIdle);
    settings.sessions(sessions.lifetime(), sessions.idle());
    FleetServer server;
    try {
      server = FleetServer.start(settings.build());
    } catch (IllegalStateException e) {
      throw new Failed(e.getMessage());
    } catch (IOException e) {
      // Jetty says only "Failed to bind to /127.0.0.1:8420"; name the option and what to do instead.
      if (e.getCause() instanceof BindException bind) {
        throw new Failed("--listen " + listen + ": cannot listen on " + listen + ": " + bind.getMessage()
            + "; expected an address and port no other program holds (port 0 takes any free port)");
      }
      throw e;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      stopped.countDown();
    }, "tourniquet-server-shutdown"));
    out().println("tourniquet server: listening on " + server.uri() + " (stop with SIGTERM or Ctrl-C)");
    if (Files.exists(server.adminTokenFile())) {
      out().println("tourniquet server: the first admin token is in " + server.adminTokenFile().toAbsolutePath());
    }
    out().flush();
    stopped.await();
  }

  private String keystorePassword() throws Invalid, IOException {
    if (keystorePassword == null) {
      throw new Invalid("--tls-keystore: expected --tls-password-env VAR or --tls-password-file FILE for its password");
    }
    if (keystorePassword.env != null) {
      String value = System.getenv(keystorePassword.env);
      if (value == null) {
        throw new Invalid("--tls-password-env: the environment variable " + keystorePassword.env + " is not set");
      }
      return value;
    }
    List<String> lines = Files.readAllLines(keystorePassword.file, StandardCharsets.UTF_8);
    return lines.isEmpty() ? "" : lines.get(0);
  }

  /** How long a dashboard session lasts, and how long it may go unused. */
  record Sessions(Duration lifetime, Duration idle) {}

  // The ranges FleetServer.Settings.Builder.sessions accepts; checked here too so that the message names the
  // option and the value as typed.
  private static final Duration SESSION_MIN = Duration.ofMinutes(2);
  private static final Duration SESSION_MAX = Duration.ofDays(30);
  private static final Duration DEFAULT_IDLE = Duration.ofMinutes(30);

  /**
   * The session times from {@code --session-lifetime} and {@code --session-idle}, either null when not given.
   * Without {@code --session-idle} a session ends after 30 minutes unused, or at its end if it lives less.
   */
  static Sessions sessions(String lifetimeText, String idleText) throws Invalid {
    Duration lifetime = lifetimeText == null ? Duration.ofHours(8) : sessionTime("--session-lifetime", lifetimeText,
        SESSION_MAX, "30d", "8h, 90m or PT8H");
    String lifetimeShown = lifetimeText == null ? "8h" : lifetimeText;
    Duration idle = idleText == null ? (DEFAULT_IDLE.compareTo(lifetime) > 0 ? lifetime : DEFAULT_IDLE)
        : sessionTime("--session-idle", idleText, lifetime, "the session lifetime (" + lifetimeShown + ")",
            "30m or PT30M");
    return new Sessions(lifetime, idle);
  }

  private static Duration sessionTime(String option, String text, Duration max, String maxShown, String examples)
      throws Invalid {
    Duration d = null;
    try {
      d = new FeedCommand.DurationConverter().convert(text);
    } catch (RuntimeException e) {
      // reported below, with the range
    }
    // Whole seconds: the database keeps a session's times in seconds.
    if (d == null || d.getNano() != 0 || d.compareTo(SESSION_MIN) < 0 || d.compareTo(max) > 0) {
      throw new Invalid(option + ": expected a duration of whole seconds from 2m to " + maxShown + " (such as "
          + examples + ") but found \"" + text + "\"");
    }
    return d;
  }

  /** {@code HOST:PORT}, with IPv6 hosts in brackets. */
  record HostPort(String host, int port) {
    static HostPort parse(String text) throws Invalid {
      int colon = text.lastIndexOf(':');
      String host = colon < 0 ? "" : text.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      try {
        int port = Integer.parseInt(text.substring(colon + 1));
        if (!host.isEmpty() && port >= 0 && port <= 65535) {
          return new HostPort(host, port);
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new Invalid("--listen: expected HOST:PORT such as 127.0.0.1:8420 or [::1]:8420 but found \"" + text + "\"");
    }
  }

  // Operating a running server through its admin API.

  /** Which server to talk to, and with which token. */
  static final class Target {
    @Option(names = "--server", paramLabel = "URL", required = true,
        description = "The fleet server's base URL, e.g. https://fleet.example.org:8420/.")
    URI server;

    @Option(names = "--token-file", paramLabel = "FILE",
        description = "File holding your user token (default: the TOURNIQUET_TOKEN environment variable).")
    Path tokenFile;

    String token() throws Invalid, IOException {
      if (tokenFile != null) {
        return Files.readString(tokenFile, StandardCharsets.UTF_8).trim();
      }
      String env = System.getenv("TOURNIQUET_TOKEN");
      if (env == null || env.isBlank()) {
        throw new Invalid("expected a user token: --token-file FILE or the TOURNIQUET_TOKEN environment variable");
      }
      return env.trim();
    }
  }

  /** A verb that calls the admin API once and prints the answer. */
  abstract static class ApiVerb extends Verb {
    static final ObjectMapper JSON = new ObjectMapper();
    /** The fleet server's patterns for the names that go into paths. */
    static final Pattern SERVER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,252}");
    static final Pattern MITIGATION_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    @Mixin
    Target target;

    /** The admin API's answer: its JSON and the response's headers. */
    record Answer(JsonNode json, HttpHeaders headers) {}

    JsonNode call(String method, String path, Object body) throws Exception {
      return exchange(method, path, body).json();
    }

    Answer exchange(String method, String path, Object body) throws Exception {
      String scheme = target.server.getScheme() == null ? "" : target.server.getScheme().toLowerCase(Locale.ROOT);
      if (!scheme.equals("http") && !scheme.equals("https")) {
        throw new Invalid("--server: expected an http or https URL but found " + target.server);
      }
      String base = target.server.toString().endsWith("/") ? target.server.toString() : target.server + "/";
      HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base).resolve(path))
          .timeout(Duration.ofSeconds(30))
          .header("Authorization", "Bearer " + target.token());
      if (body != null) {
        request.header("Content-Type", "application/json")
            .method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
      } else {
        request.method(method, HttpRequest.BodyPublishers.noBody());
      }
      HttpResponse<String> response;
      try {
        response = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()
            .send(request.build(), HttpResponse.BodyHandlers.ofString());
      } catch (IOException e) {
        throw new Failed(target.server + ": cannot reach the fleet server: " + Fetchers.describe(e));
      }
      JsonNode answer = response.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(response.body());
      if (response.statusCode() >= 400) {
        String error = answer.path("error").asText("HTTP " + response.statusCode());
        if (response.statusCode() == 400) {
          throw new Invalid("tourniquet: " + error);
        }
        throw new Failed(error + " (HTTP " + response.statusCode() + ")");
      }
      return new Answer(answer, response.headers());
    }

    /** The admin path of the organisation, or of one server with {@code --on}. */
    static String scope(String on) throws Invalid {
      return on == null ? "api/v1/admin/org/" : "api/v1/admin/servers/" + segment("--on", on, SERVER_NAME,
          "a server name (letters, digits, '.', '_', '-'; at most 253)") + "/";
    }

    /**
     * A value that goes into the request's path, checked as the server checks it. Unchecked, "../org" in
     * {@code --on} made the path resolve to the organisation's, and a change meant for one server was made
     * everywhere.
     */
    static String segment(String option, String value, Pattern pattern, String expected) throws Invalid {
      if (!pattern.matcher(value).matches()) {
        throw new Invalid(option + ": expected " + expected + " but found \"" + value + "\"");
      }
      return value;
    }

    void printResult(JsonNode answer) {
      out().println(answer.path("result").asText(answer.toString()));
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = "Servers of the fleet: ring, last seen, product version, feed health and mitigation statuses.")
  static final class Status extends ApiVerb {
    @Option(names = "--json", description = "Print the admin API's JSON.")
    boolean json;

    @Override
    void run() throws Exception {
      JsonNode servers = call("GET", "api/v1/admin/servers", null);
      if (json) {
        out().println(servers.toPrettyString());
        return;
      }
      List<List<String>> rows = new ArrayList<>();
      for (JsonNode s : servers) {
        StringBuilder counts = new StringBuilder();
        s.path("statusCounts").properties().forEach(e -> counts.append(e.getKey()).append('=')
            .append(e.getValue().asInt()).append(' '));
        rows.add(List.of(s.path("server").asText(), s.path("ring").asText("-"),
            s.path("lastSeen").asText("never") + (s.path("stale").asBoolean() ? " (stale)" : ""),
            s.path("productVersion").asText("-"), feed(s.path("feedHealth")),
            counts.toString().trim()));
      }
      TextTable.print(out(), List.of("SERVER", "RING", "LAST SEEN", "PRODUCT", "FEED", "MITIGATIONS"), rows);
    }

    /**
     * A server that has not reported (or reports with data collection off) has no feed health: "-", as
     * the other columns say it. It was shown as ERROR, a feed failure on every such server.
     */
    static String feed(JsonNode health) {
      if (health.isNull() || health.isMissingNode()) {
        return "-";
      }
      return health.asText().equals("ok") ? "ok" : "ERROR";
    }
  }

  @Command(name = "block", mixinStandardHelpOptions = true,
      description = "Block a mitigation in the organisation (or on one server with --on): never applied, removed where it was.")
  static final class Block extends ApiVerb {
    @Parameters(paramLabel = "ID", description = "The mitigation id, e.g. M1.")
    String id;

    @Option(names = "--on", paramLabel = "SERVER", description = "Only on this server.")
    String on;

    @Override
    void run() throws Exception {
      printResult(call("POST", scope(on) + "block", Map.of("id", id)));
    }
  }

  @Command(name = "unblock", mixinStandardHelpOptions = true, description = "Unblock a mitigation (organisation, or --on SERVER).")
  static final class Unblock extends ApiVerb {
    @Parameters(paramLabel = "ID", description = "The mitigation id.")
    String id;

    @Option(names = "--on", paramLabel = "SERVER", description = "Only on this server.")
    String on;

    @Override
    void run() throws Exception {
      printResult(call("POST", scope(on) + "unblock", Map.of("id", id)));
    }
  }

  @Command(name = "enable", mixinStandardHelpOptions = true, description = "Enable mitigations (organisation, or --on SERVER).")
  static final class Enable extends ApiVerb {
    @Option(names = "--on", paramLabel = "SERVER", description = "Only on this server.")
    String on;

    @Override
    void run() throws Exception {
      printResult(call("POST", scope(on) + "enable", Map.of()));
    }
  }

  @Command(name = "disable", mixinStandardHelpOptions = true,
      description = "Disable mitigations (organisation, or --on SERVER): servers only detect; applied ones stay.")
  static final class Disable extends ApiVerb {
    @Option(names = "--on", paramLabel = "SERVER", description = "Only on this server.")
    String on;

    @Override
    void run() throws Exception {
      printResult(call("POST", scope(on) + "disable", Map.of()));
    }
  }

  @Command(name = "mode", mixinStandardHelpOptions = true,
      description = "Override a mitigation's mode: enforce, audit, or default (the publisher's).")
  static final class Mode extends ApiVerb {
    @Parameters(index = "0", paramLabel = "ID", description = "The mitigation id.")
    String id;

    @Parameters(index = "1", paramLabel = "MODE", description = "enforce, audit or default.")
    String mode;

    @Option(names = "--on", paramLabel = "SERVER", description = "Only on this server.")
    String on;

    @Override
    void run() throws Exception {
      ObjectNode body = JSON.createObjectNode().put("id", id);
      switch (mode) {
        case "default" -> body.putNull("mode");
        case "enforce", "audit" -> body.put("mode", mode);
        // Checked here, in this command's words: the server's message names its JSON null, not "default".
        default -> throw new Invalid("MODE: expected enforce, audit or default but found \"" + mode + "\"");
      }
      printResult(call("POST", scope(on) + "mode", body));
    }
  }

  @Command(name = "approve", mixinStandardHelpOptions = true,
      description = "Release a mitigation's revision waiting in ring canary to every ring.")
  static final class Approve extends ApiVerb {
    @Parameters(paramLabel = "ID", description = "The mitigation id.")
    String id;

    @Option(names = "--revision", paramLabel = "N", description = "The revision (default: the newest waiting).")
    Integer revision;

    @Override
    void run() throws Exception {
      printResult(call("POST", "api/v1/admin/rollouts/" + segment("ID", id, MITIGATION_ID,
              "a mitigation id (letters, digits, '.', '_', '-'; at most 128)") + "/approve",
          revision == null ? Map.of() : Map.of("revision", revision)));
    }
  }

  @Command(name = "enrolment-token", mixinStandardHelpOptions = true,
      description = "Issue a one-time enrolment token for an agent (admin role). Printed once; give it to the agent's installer.")
  static final class EnrolmentToken extends ApiVerb {
    @Option(names = "--ttl", paramLabel = "DURATION", defaultValue = "PT24H",
        description = "How long it stays valid, ISO-8601 (default ${DEFAULT-VALUE}, at most P30D).")
    String ttl;

    @Option(names = "--note", paramLabel = "TEXT", defaultValue = "", description = "What it is for (shown in the list).")
    String note;

    @Override
    void run() throws Exception {
      JsonNode answer = call("POST", "api/v1/admin/enrolment-tokens", Map.of("ttl", ttl, "note", note));
      out().println(answer.path("token").asText());
      err().println("valid until " + answer.path("expiresAt").asText() + ", once");
    }
  }

  @Command(name = "audit", mixinStandardHelpOptions = true,
      description = "The audit log, newest first: the newest entries, or with --before ID those older than entry ID.")
  static final class Audit extends ApiVerb {
    /** The next page as the admin API names it: {@code Link: </api/v1/admin/audit?limit=N&before=ID>; rel="next"}. */
    private static final Pattern NEXT = Pattern.compile("<[^>]*[?&]before=([1-9][0-9]{0,18})(?:&[^>]*)?>\\s*;\\s*rel=\"?next\"?");

    @Option(names = "--limit", paramLabel = "N", defaultValue = "50", description = "How many, 1 to 1000 (default ${DEFAULT-VALUE}).")
    int limit;

    @Option(names = "--before", paramLabel = "ID",
        description = "Only the entries older than entry ID (the ID column; the line after a page names the next).")
    String before;

    @Override
    void run() throws Exception {
      if (limit < 1 || limit > 1000) {
        throw new Invalid("--limit: expected a whole number from 1 to 1000 but found " + limit);
      }
      String query = "limit=" + limit;
      if (before != null) {
        query += "&before=" + entryId(before);
      }
      Answer answer = exchange("GET", "api/v1/admin/audit?" + query, null);
      List<List<String>> rows = new ArrayList<>();
      for (JsonNode e : answer.json()) {
        rows.add(List.of(e.path("id").asText(), e.path("at").asText(), e.path("actor").asText(),
            e.path("action").asText(), e.path("target").asText(), e.path("detail").asText()));
      }
      TextTable.print(out(), List.of("ID", "AT", "ACTOR", "ACTION", "TARGET", "DETAIL"), rows);
      // On standard error, so that the table alone goes where standard output is sent.
      Optional<String> next = nextBefore(answer.headers());
      if (next.isPresent()) {
        List<String> command = new ArrayList<>(List.of("tourniquet", "server", "audit", "--server",
            target.server.toString()));
        if (target.tokenFile != null) {
          command.addAll(List.of("--token-file", target.tokenFile.toString()));
        }
        command.addAll(List.of("--limit", Integer.toString(limit), "--before", next.get()));
        err().println("older entries: " + String.join(" ", command.stream().map(Audit::shellWord).toList()));
      }
    }

    /** An entry id as the admin API takes it, checked here so that the message names the option. */
    static String entryId(String text) throws Invalid {
      if (text.matches("[1-9][0-9]{0,18}")) {
        try {
          return Long.toString(Long.parseLong(text));
        } catch (NumberFormatException e) {
          // above Long.MAX_VALUE: reported below
        }
      }
      throw new Invalid("--before: expected an audit entry's id (a whole number from 1 to " + Long.MAX_VALUE
          + ", as the ID column shows) but found \"" + text + "\"");
    }

    /** Where the next (older) page starts, when the server says there is one. */
    static Optional<String> nextBefore(HttpHeaders headers) {
      for (String link : headers.allValues("Link")) {
        Matcher m = NEXT.matcher(link);
        if (m.find()) {
          return Optional.of(m.group(1));
        }
      }
      return Optional.empty();
    }

    /** A word as a POSIX shell reads it back: as it is when it is plain, else in single quotes. */
    static String shellWord(String word) {
      if (word.matches("[A-Za-z0-9_./:=@%+,-]+")) {
        return word;
      }
      return "'" + word.replace("'", "'\\''") + "'";
    }
  }
}
