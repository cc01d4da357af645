package dev.tourniquet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.feed.tuf.Role;
import dev.tourniquet.feed.tuf.SigningKey;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
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
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tourniquet server}: the real command in its own JVM, serving a real feed on an ephemeral port,
 * operated by the command's admin verbs and stopped with SIGTERM.
 */
class ServerCommandTest {
  private static final Pattern LISTENING = Pattern.compile("listening on (http://127\\.0\\.0\\.1:\\d+/)");
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;
  Process process;

  @AfterEach
  void stop() throws Exception {
    if (process != null && process.isAlive()) {
      process.destroy();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }

  private Path publishedFeed() throws Exception {
    SigningKey key = SigningKey.generate();
    Map<Role, FeedRepository.KeySet> keys = new EnumMap<>(Role.class);
    for (Role role : Role.values()) {
      keys.put(role, new FeedRepository.KeySet(List.of(key.verificationKey()), 1));
    }
    FeedRepository repo = FeedRepository.init(dir.resolve("repo"), keys, FeedRepository.Validity.defaults(),
        Clock.systemUTC());
    repo.sign(Role.ROOT, key);
    repo.addTarget("mitigations/M1.json", "{\"id\":\"M1\",\"revision\":1}".getBytes(StandardCharsets.UTF_8));
    repo.sign(Role.TARGETS, key);
    repo.publish(List.of(key), List.of(key));
    return repo.publishedDirectory();
  }

  private URI startServer(Path published, String... options) throws Exception {
    Path log = dir.resolve("server.log");
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-cp");
    command.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
    command.addAll(List.of(Main.class.getName(), "server", "--data", dir.resolve("data").toString(), "--listen",
        "127.0.0.1:0", "--feed", "default=" + published));
    command.addAll(List.of(options));
    process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline && process.isAlive()) {
      Matcher m = LISTENING.matcher(Files.readString(log));
      if (m.find()) {
        return URI.create(m.group(1));
      }
      process.waitFor(50, TimeUnit.MILLISECONDS);
    }
    throw new AssertionError("the server did not say where it listens within 60 s; its output:\n" + Files.readString(log));
  }

  private static int run(StringWriter out, StringWriter err, String... args) {
    return Main.run(new PrintWriter(out), new PrintWriter(err), args);
  }

  @Test
  void serverRunsServesTheFeedIsOperatedByItsVerbsAndStopsOnSigterm() throws Exception {
    URI uri = startServer(publishedFeed(), "--behind-https-proxy");
    Path token = dir.resolve("data/admin.token");
    HttpClient http = HttpClient.newHttpClient();

    HttpResponse<String> timestamp = http.send(HttpRequest.newBuilder(uri.resolve("/feeds/default/timestamp.json"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(timestamp.statusCode()).isEqualTo(200);
    assertThat(Files.readString(dir.resolve("server.log"))).contains("first admin token is in")
        .doesNotContain(Files.readString(token).trim());

    HttpResponse<String> login = DashboardLogin.logIn(http, uri, Files.readString(token).trim());
    assertThat(login.headers().firstValue("Set-Cookie")).as("--behind-https-proxy")
        .hasValueSatisfying(c -> assertThat(c).contains("; Secure"));

    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    assertThat(run(out, err, "server", "enrolment-token", "--server", uri.toString(), "--token-file", token.toString()))
        .as(err.toString()).isZero();
    String enrolment = out.toString().trim();
    HttpResponse<String> enrolled = http.send(HttpRequest.newBuilder(uri.resolve("/api/v1/enrol"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"token\":\"" + enrolment + "\",\"server\":\"web-01\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(enrolled.statusCode()).as(enrolled.body()).isEqualTo(201);
    String credential = JSON.readTree(enrolled.body()).get("credential").asText();

    out = new StringWriter();
    assertThat(run(out, err, "server", "block", "M1", "--server", uri.toString(), "--token-file", token.toString()))
        .isZero();
    assertThat(out.toString()).contains("blocked M1 (organisation)");
    JsonNode policy = JSON.readTree(http.send(HttpRequest.newBuilder(uri.resolve("/api/v1/agent/policy"))
        .header("Authorization", "Bearer " + credential).build(), HttpResponse.BodyHandlers.ofString()).body());
    assertThat(policy.get("blocked").toString()).isEqualTo("[\"M1\"]");

    out = new StringWriter();
    assertThat(run(out, err, "server", "status", "--server", uri.toString(), "--token-file", token.toString())).isZero();
    List<String> table = out.toString().lines().toList();
    assertThat(table).hasSize(2);
    assertThat(table.get(1)).startsWith("web-01");
    assertColumnsLineUp(table, "LAST SEEN", "PRODUCT", "FEED");

    out = new StringWriter();
    assertThat(run(out, err, "server", "audit", "--server", uri.toString(), "--token-file", token.toString())).isZero();
    List<String> audit = out.toString().lines().toList();
    assertThat(audit).anySatisfy(line -> assertThat(line).contains("agent:web-01").contains("enrol"));
    assertColumnsLineUp(audit, "ACTOR", "ACTION", "TARGET", "DETAIL");

    out = new StringWriter();
    err = new StringWriter();
    assertThat(run(out, err, "server", "block", "../M1", "--server", uri.toString(), "--token-file", token.toString()))
        .isEqualTo(Main.INVALID);
    assertThat(err.toString()).contains("field \"id\"");

    process.destroy(); // SIGTERM: the shutdown hook closes the server
    assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void statusShowsNoFeedErrorForAServerThatHasNotReportedAndANameThatIsNotOneServerIsRefused() throws Exception {
    URI uri = startServer(publishedFeed());
    Path token = dir.resolve("data/admin.token");
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    assertThat(run(out, err, "server", "enrolment-token", "--server", uri.toString(), "--token-file", token.toString()))
        .as(err.toString()).isZero();
    HttpResponse<String> enrolled = HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri.resolve("/api/v1/enrol"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"token\":\"" + out.toString().trim() + "\",\"server\":\"web-01\"}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(enrolled.statusCode()).as(enrolled.body()).isEqualTo(201);

    // web-01 has sent no report: no feed health is known, which is not a feed error.
    out = new StringWriter();
    assertThat(run(out, err, "server", "status", "--server", uri.toString(), "--token-file", token.toString())).isZero();
    List<String> table = out.toString().lines().toList();
    int feed = table.get(0).indexOf("FEED");
    assertThat(table.get(1).substring(feed).split(" +")[0]).as(out.toString()).isEqualTo("-");

    // --on names one server: "../org" made the path /admin/servers/../org/, which the client resolved to the
    // organisation's: a block meant for one server was made everywhere.
    for (String[] args : new String[][] {{"block", "M1", "--on", "../org"}, {"disable", "--on", "../org"},
        {"mode", "M1", "audit", "--on", "../org"}, {"approve", "../../org/disable"}}) {
      err = new StringWriter();
      List<String> command = new ArrayList<>(List.of("server"));
      command.addAll(List.of(args));
      command.addAll(List.of("--server", uri.toString(), "--token-file", token.toString()));
      assertThat(run(new StringWriter(), err, command.toArray(String[]::new))).as(String.join(" ", args))
          .isEqualTo(Main.INVALID);
      assertThat(err.toString()).as(String.join(" ", args)).containsAnyOf(
          "--on: expected a server name (letters, digits, '.', '_', '-'; at most 253) but found \"../org\"",
          "ID: expected a mitigation id (letters, digits, '.', '_', '-'; at most 128) but found \"../../org/disable\"");
    }
    // A mode is checked here too, in the command's words ("default", where the server's JSON says null).
    err = new StringWriter();
    assertThat(run(new StringWriter(), err, "server", "mode", "M1", "loud", "--server", uri.toString(), "--token-file",
        token.toString())).isEqualTo(Main.INVALID);
    assertThat(err.toString()).contains("MODE: expected enforce, audit or default but found \"loud\"");
    out = new StringWriter();
    assertThat(run(out, err, "server", "audit", "--server", uri.toString(), "--token-file", token.toString())).isZero();
    assertThat(out.toString()).doesNotContain("block").doesNotContain("disable").doesNotContain("mode");
  }

  @Test
  void wrongTokenIsAnOperationalFailure() throws Exception {
    URI uri = startServer(publishedFeed());
    Path wrong = dir.resolve("wrong.token");
    Files.writeString(wrong, "tqu_" + "A".repeat(43));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int code = run(out, err, "server", "status", "--server", uri.toString(), "--token-file", wrong.toString());

    assertThat(code).isEqualTo(1);
    assertThat(err.toString()).contains("admin token").contains("HTTP 401");
  }

  @Test
  void invalidOptionsAreRefusedBeforeAnythingStarts() throws Exception {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    assertThat(run(out, err, "server", "--listen", "127.0.0.1:0")).isEqualTo(Main.INVALID);
    assertThat(err.toString()).contains("--data DIR is required");
    assertThat(run(out, err, "server", "--data", dir.toString(), "--listen", "localhost")).isEqualTo(Main.INVALID);
    assertThat(err.toString()).contains("--listen: expected HOST:PORT");
    assertThat(run(out, err, "server", "--data", dir.toString(), "--feed", "default")).isEqualTo(Main.INVALID);
    assertThat(err.toString()).contains("--feed: expected NAME=DIR");
    assertThat(run(out, err, "server", "--data", dir.toString(), "--listen", "127.0.0.1:0", "--feed",
        "default=" + dir.resolve("nothing"))).isEqualTo(1);
    assertThat(err.toString()).contains("no such file: " + dir.resolve("nothing")
        + " (feed default: expected a directory to serve)");
    assertThat(run(out, err, "server", "--data", dir.toString(), "--listen", "127.0.0.1:0", "--db",
        "jdbc:mysql://db/fleet")).isEqualTo(1);
    assertThat(err.toString()).contains("expected jdbc:h2:… or jdbc:postgresql:…");
    assertThat(Files.exists(dir.resolve("admin.token"))).isFalse();
  }

  @Test
  void aListenAddressAnotherProgramHoldsIsRefusedNamingTheOptionAndTheAddress() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      String address = "127.0.0.1:" + taken.getLocalPort();
      StringWriter err = new StringWriter();

      int code = run(new StringWriter(), err, "server", "--data", dir.resolve("data").toString(), "--listen", address,
          "--feed", "default=" + publishedFeed());

      assertThat(code).isEqualTo(1);
      assertThat(err.toString()).startsWith("tourniquet: --listen " + address + ": cannot listen on " + address + ": ")
          .contains("expected an address and port no other program holds (port 0 takes any free port)");
    }
  }

  @Test
  void auditPagesBackWithBeforeAndNamesTheCommandForTheNextPageUntilTheOldest() throws Exception {
    URI uri = startServer(publishedFeed());
    Path token = dir.resolve("data/admin.token");
    for (int i = 0; i < 3; i++) { // with the first admin's creation and the feed's discovery, five entries
      assertThat(run(new StringWriter(), new StringWriter(), "server", "enrolment-token", "--server", uri.toString(),
          "--token-file", token.toString())).isZero();
    }

    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    assertThat(run(out, err, "server", "audit", "--limit", "3", "--server", uri.toString(), "--token-file",
        token.toString())).as(err.toString()).isZero();
    List<String> first = out.toString().lines().toList();
    assertThat(first).hasSize(4);
    assertThat(first.get(0)).startsWith("ID  ");
    long oldestShown = Long.parseLong(first.get(3).split(" +")[0]);
    String hint = "tourniquet server audit --server " + uri + " --token-file " + token + " --limit 3 --before "
        + oldestShown;
    assertThat(err.toString()).isEqualTo("older entries: " + hint + System.lineSeparator());

    out = new StringWriter();
    err = new StringWriter();
    assertThat(run(out, err, hint.substring("tourniquet ".length()).split(" "))).as(err.toString()).isZero();
    List<String> second = out.toString().lines().skip(1).toList();
    assertThat(second).as(out.toString()).isNotEmpty().allSatisfy(row -> assertThat(Long.parseLong(row.split(" +")[0]))
        .isLessThan(oldestShown));
    assertThat(second.get(second.size() - 1)).startsWith("1 ").contains("user.create");
    assertThat(err.toString()).as("the oldest page names no next one").isEmpty();
  }

  @Test
  void nextPageCommandQuotesWhatAShellWouldSplit() {
    assertThat(ServerCommand.Audit.shellWord("/var/lib/tq/admin.token")).isEqualTo("/var/lib/tq/admin.token");
    assertThat(ServerCommand.Audit.shellWord("/home/olga/my token")).isEqualTo("'/home/olga/my token'");
    assertThat(ServerCommand.Audit.shellWord("olga's;rm")).isEqualTo("'olga'\\''s;rm'");
  }

  @Test
  void auditBeforeOrLimitOutOfRangeIsRefusedBeforeAnythingIsSent() {
    for (String[] c : new String[][] {{"--before", "0"}, {"--before", "-3"}, {"--before", "12a"},
        {"--before", "9223372036854775808"}, {"--limit", "0"}, {"--limit", "1001"}}) {
      StringWriter err = new StringWriter();
      assertThat(run(new StringWriter(), err, "server", "audit", c[0], c[1], "--server", "http://127.0.0.1:1/"))
          .as(String.join(" ", c)).isEqualTo(Main.INVALID);
      assertThat(err.toString()).as(String.join(" ", c)).contains(c[0].equals("--before")
          ? "--before: expected an audit entry's id (a whole number from 1 to 9223372036854775807, as the ID column"
              + " shows) but found \"" + c[1] + "\""
          : "--limit: expected a whole number from 1 to 1000 but found " + c[1]);
    }
  }

  @Test
  void sessionLifetimeAndIdleFromTheCommandLineAreTheDashboardsSessions() throws Exception {
    URI uri = startServer(publishedFeed(), "--session-lifetime", "10m", "--session-idle", "3m");
    String token = Files.readString(dir.resolve("data/admin.token")).trim();
    HttpClient http = HttpClient.newHttpClient();

    HttpResponse<String> login = DashboardLogin.logIn(http, uri, token);
    HttpResponse<String> ended = http.send(HttpRequest.newBuilder(uri.resolve("/dashboard/live")).build(),
        HttpResponse.BodyHandlers.ofString());

    assertThat(login.headers().firstValue("Set-Cookie")).hasValueSatisfying(c -> assertThat(c.split("; "))
        .contains("Max-Age=600"));
    assertThat(ended.statusCode()).isEqualTo(401);
    assertThat(ended.body()).contains("not used for PT3M, or older than PT10M");
  }

  @Test
  void sessionIdleTimeDefaultsToThirtyMinutesOrTheLifetimeWhenThatIsShorter() throws Exception {
    assertThat(ServerCommand.sessions(null, null)).isEqualTo(
        new ServerCommand.Sessions(Duration.ofHours(8), Duration.ofMinutes(30)));
    assertThat(ServerCommand.sessions("12h", null)).isEqualTo(
        new ServerCommand.Sessions(Duration.ofHours(12), Duration.ofMinutes(30)));
    assertThat(ServerCommand.sessions("10m", null)).isEqualTo(
        new ServerCommand.Sessions(Duration.ofMinutes(10), Duration.ofMinutes(10)));
    assertThat(ServerCommand.sessions("PT2M", "2m")).isEqualTo(
        new ServerCommand.Sessions(Duration.ofMinutes(2), Duration.ofMinutes(2)));
    assertThat(ServerCommand.sessions("30d", "30d")).isEqualTo(
        new ServerCommand.Sessions(Duration.ofDays(30), Duration.ofDays(30)));
  }

  @Test
  void sessionTimesOutOfRangeAreRefusedNamingTheOptionTheValueAndTheRange() throws Exception {
    String[][] cases = {
        {"--session-lifetime", "31d", "--session-lifetime: expected a duration of whole seconds from 2m to 30d"
            + " (such as 8h, 90m or PT8H) but found \"31d\""},
        {"--session-lifetime", "1m", "--session-lifetime: expected a duration of whole seconds from 2m to 30d"
            + " (such as 8h, 90m or PT8H) but found \"1m\""},
        {"--session-lifetime", "PT10M0.5S", "but found \"PT10M0.5S\""},
        {"--session-lifetime", "soon", "--session-lifetime: expected a duration of whole seconds from 2m to 30d"
            + " (such as 8h, 90m or PT8H) but found \"soon\""},
        {"--session-idle", "1m", "--session-idle: expected a duration of whole seconds from 2m to the session"
            + " lifetime (8h) (such as 30m or PT30M) but found \"1m\""},
        {"--session-idle", "9h", "--session-idle: expected a duration of whole seconds from 2m to the session"
            + " lifetime (8h) (such as 30m or PT30M) but found \"9h\""},
        {"--session-idle", "-5m", "but found \"-5m\""}};
    for (String[] c : cases) {
      StringWriter err = new StringWriter();
      assertThat(run(new StringWriter(), err, "server", "--data", dir.resolve("data").toString(), "--listen",
          "127.0.0.1:0", c[0], c[1])).as(c[0] + " " + c[1]).isEqualTo(Main.INVALID);
      assertThat(err.toString()).as(c[0] + " " + c[1]).contains(c[2]);
    }
    StringWriter err = new StringWriter();
    assertThat(run(new StringWriter(), err, "server", "--data", dir.resolve("data").toString(), "--listen",
        "127.0.0.1:0", "--session-lifetime", "1h", "--session-idle", "2h")).isEqualTo(Main.INVALID);
    assertThat(err.toString()).contains("--session-idle: expected a duration of whole seconds from 2m to the session"
        + " lifetime (1h) (such as 30m or PT30M) but found \"2h\"");
    assertThat(Files.exists(dir.resolve("data"))).as("nothing started").isFalse();
  }

  /** Every row has a value starting exactly under each heading (the first line), as a person reads it. */
  private static void assertColumnsLineUp(List<String> table, String... headings) {
    for (String heading : headings) {
      int column = table.get(0).indexOf(heading);
      assertThat(column).as("heading %s in %s", heading, table.get(0)).isPositive();
      assertThat(table).as("column %s:%n%s", heading, String.join("\n", table)).allSatisfy(line -> {
        assertThat(line.charAt(column - 1)).isEqualTo(' ');
        assertThat(line.charAt(column)).isNotEqualTo(' ');
      });
    }
  }
}
