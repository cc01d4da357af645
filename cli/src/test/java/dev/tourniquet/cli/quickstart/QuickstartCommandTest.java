package dev.tourniquet.cli.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tourniquet.cli.DashboardLogin;
import dev.tourniquet.cli.Main;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.MitigationParser;
import dev.tourniquet.rules.RuleXmlReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tourniquet quickstart} run for real in its own JVM, as a person runs it: the test reads what it
 * prints, checks every step against the running parts with its own requests (the ProxyNotShell request
 * byte for byte, the fleet server's admin API, the dashboard), presses Enter to go on, and ends it with
 * SIGINT.
 */
class QuickstartCommandTest {
  private static final Path ROOT = Path.of(System.getProperty("tourniquet.repo.root", "..")).toAbsolutePath().normalize();
  private static final ObjectMapper JSON = new ObjectMapper();
  /** ProxyNotShell as published (CVE-2022-41040), written here independently of the command's own copy. */
  private static final String PROXYNOTSHELL =
      "/autodiscover/autodiscover.json?@evil.com/powershell/?&Email=autodiscover/autodiscover.json%3F@evil.com";
  private static final Duration STEP = Duration.ofSeconds(90);

  @TempDir
  Path dir;
  Process process;
  Path output;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @AfterEach
  void stop() throws Exception {
    if (process != null && process.isAlive()) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void quickstartShowsM1PublishedAppliedReportedAndRemovedThenStopsCleanlyOnCtrlC() throws Exception {
    int takenServer;
    int takenApp;
    String out;
    try (ServerSocket busyServer = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        ServerSocket busyApp = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      takenServer = busyServer.getLocalPort();
      takenApp = busyApp.getLocalPort();
      start("--pace", "120", "--check-interval", "2", "--server-port", String.valueOf(takenServer), "--app-port",
          String.valueOf(takenApp));
      out = awaitOutput("Next in 120 s: the publisher releases");
    }
    // Step 1: everything runs; the ports asked for were taken, so the server and the app took free ones.
    assertThat(out).contains("fleet server: port " + takenServer + " is in use, so it takes a free port")
        .contains("demo app: port " + takenApp + " is in use, so it takes a free port");
    URI server = URI.create(find(out, "Dashboard  (http://127\\.0\\.0\\.1:\\d+/)dashboard"));
    int app = Integer.parseInt(find(out, "Demo app   http://127\\.0\\.0\\.1:(\\d+)/owa/"));
    assertThat(server.getPort()).isNotEqualTo(takenServer);
    assertThat(app).isNotEqualTo(takenApp);
    assertThat(out).contains("curl -sS -o /dev/null -w '%{http_code}\\n' 'http://127.0.0.1:" + app + PROXYNOTSHELL + "'");
    String token = Files.readString(dir.resolve("qs/server/admin.token")).trim();
    assertThat(out).as("no secret on the terminal").doesNotContain(token);
    assertThat(get(app, PROXYNOTSHELL)).startsWith("HTTP/1.1 200");
    assertThat(admin(server, token, "servers").toString()).contains("\"server\":\"demo-exchange\"");

    // Step 2: M1 is published, applied, reported, and the request is cut off without a response.
    press();
    out = awaitOutput("Next in 120 s: the fixed version gets installed");
    assertThat(out).contains("agent: M1.1 Applied (applies to version 15.2.1118.7)")
        .contains("dashboard: demo-exchange reports M1 Applied")
        .contains("the same curl: connection closed without a response");
    assertThat(get(app, PROXYNOTSHELL)).as("aborted: not a byte of response").isEmpty();
    assertThat(get(app, "/owa/")).startsWith("HTTP/1.1 200");
    assertThat(reported(server, token, "M1").path("status").asText()).isEqualTo("Applied");
    assertThat(dashboard(server, token)).contains("data-server=\"demo-exchange\"").contains("cell st-Applied");

    // Step 3: the fixed version is installed; the agent removes M1 by itself and the request passes again.
    press();
    out = awaitOutput("Press Ctrl-C to stop.");
    assertThat(out).contains("the fixed version is installed")
        .contains("agent: removed M1.1 by itself at its next check")
        .contains("the same curl: HTTP 200");
    assertThat(get(app, PROXYNOTSHELL)).startsWith("HTTP/1.1 200");
    JsonNode m1 = reported(server, token, "M1");
    assertThat(m1.path("status").asText()).isIn("Removed", "NotApplicable");
    assertThat(m1.path("reason").asText()).contains("15.2.1118.20").contains("fixed");

    // Ctrl-C: everything stops in order, one line, exit 0, ports free. A process started from a shell's
    // background job inherits SIGINT ignored (POSIX), and then no Java code can see it: the same stop is
    // asked with SIGTERM instead, which the next test also covers on its own.
    String signal = ignoresSigint(process.pid()) ? "-TERM" : "-INT";
    new ProcessBuilder("kill", signal, String.valueOf(process.pid())).inheritIO().start().waitFor(10, TimeUnit.SECONDS);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("stopped within 60 s of kill " + signal).isTrue();
    assertThat(process.exitValue()).isZero();
    String all = Files.readString(output);
    assertThat(all.strip()).endsWith("Stopped the agent, the demo app and the fleet server. Files and log are in qs.");
    assertThat(all).doesNotContain("Exception").doesNotContain("\tat ");
    for (int port : List.of(server.getPort(), app)) {
      try (ServerSocket free = new ServerSocket()) {
        free.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      }
    }
  }

  @Test
  void sigtermInTheMiddleOfAStepStopsEverythingCleanly() throws Exception {
    // A minute between checks: SIGTERM arrives while step 3 waits for the agent to see the upgrade.
    start("--pace", "0", "--check-interval", "60", "--server-port", "0", "--app-port", "0");
    String out = awaitOutput("the fixed version is installed:");
    int app = Integer.parseInt(find(out, "Demo app   http://127\\.0\\.0\\.1:(\\d+)/owa/"));

    process.destroy(); // SIGTERM, as a service manager stops it

    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("stopped within 60 s of SIGTERM").isTrue();
    assertThat(process.exitValue()).isZero();
    String all = Files.readString(output);
    assertThat(all.strip()).endsWith("Stopped the agent, the demo app and the fleet server. Files and log are in qs.");
    assertThat(all).doesNotContain("Exception").doesNotContain("\tat ");
    try (ServerSocket free = new ServerSocket()) {
      free.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), app));
    }
  }

  @Test
  void quickstartRefusesADataDirectoryHoldingOtherFilesAndLeavesThem() throws Exception {
    Path data = Files.createDirectories(dir.resolve("mine"));
    Files.writeString(data.resolve("notes.txt"), "mine");
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int code = Main.run(new PrintWriter(out), new PrintWriter(err), "quickstart", "--data", data.toString());

    assertThat(code).isEqualTo(1);
    assertThat(err.toString()).contains(data + ": expected an empty directory or one an earlier quickstart made")
        .contains("--data DIR");
    assertThat(data.resolve("notes.txt")).hasContent("mine");
  }

  @Test
  void bundledM1CarriesMicrosoftsPublishedRuleUnchanged() throws Exception {
    byte[] bundled;
    try (InputStream in = QuickstartCommand.class.getResourceAsStream("M1.json")) {
      assertThat(in).as("M1.json inside the jar").isNotNull();
      bundled = in.readAllBytes();
    }
    Mitigation m1 = MitigationParser.parse(bundled);
    String fixture = Files.readString(ROOT.resolve("../shared/fixtures/microsoft/eems-m1.1-cve-2022-41040.xml").normalize());

    assertThat(m1.id()).isEqualTo("M1");
    assertThat(m1.applicability().product()).isEqualTo(Demo.PRODUCT);
    assertThat(((Action.RequestRules) m1.actions().get(0)).rules()).isEqualTo(RuleXmlReader.read(fixture, "fixture"));
  }

  // ------------------------------------------------------------------------------------------- helpers

  private void start(String... options) throws IOException {
    output = dir.resolve("quickstart.out");
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
        Main.class.getName(), "quickstart", "--data", "qs"));
    command.addAll(List.of(options));
    process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(output.toFile()).start();
  }

  /** Whether a process ignores SIGINT (signal 2), from the SigIgn mask in {@code /proc/PID/status}. */
  private static boolean ignoresSigint(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
      if (line.startsWith("SigIgn:")) {
        return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << 1)) != 0;
      }
    }
    return false;
  }

  /** Presses Enter on the command's standard input: it goes on to the next step at once. */
  private void press() throws IOException {
    OutputStream in = process.getOutputStream();
    in.write('\n');
    in.flush();
  }

  /** Waits until the output holds the text; fails with the output if the command ends or takes too long. */
  private String awaitOutput(String text) throws Exception {
    long deadline = System.nanoTime() + STEP.toNanos();
    while (true) {
      String out = Files.readString(output);
      if (out.contains(text)) {
        return out;
      }
      if (!process.isAlive() || System.nanoTime() > deadline) {
        throw new AssertionError("expected \"" + text + "\" in the output within " + STEP.toSeconds() + " s"
            + (process.isAlive() ? "" : " (the command exited with " + process.exitValue() + ")") + ":\n" + out);
      }
      process.waitFor(100, TimeUnit.MILLISECONDS);
    }
  }

  private static String find(String out, String regex) {
    Matcher m = Pattern.compile(regex).matcher(out);
    assertThat(m.find()).as("output matching " + regex + " in:\n" + out).isTrue();
    return m.group(1);
  }

  /** A GET sent exactly as written; returns every byte received until the server closed. */
  private static String get(int port, String target) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(("GET " + target + " HTTP/1.1\r\nHost: mail.contoso.com\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      byte[] buffer = new byte[8192];
      try {
        for (int n; (n = socket.getInputStream().read(buffer)) > 0; ) {
          received.write(buffer, 0, n);
        }
      } catch (SocketException reset) {
        // An aborted request may end in a reset rather than a clean close.
      }
      return received.toString(StandardCharsets.ISO_8859_1);
    }
  }

  private JsonNode admin(URI server, String token, String path) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(server.resolve("/api/v1/admin/" + path))
        .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  private JsonNode reported(URI server, String token, String id) throws Exception {
    for (JsonNode m : admin(server, token, "servers/demo-exchange").path("mitigations")) {
      if (m.path("id").asText().equals(id)) {
        return m;
      }
    }
    throw new AssertionError("expected " + id + " in demo-exchange's report on the fleet server");
  }

  /** Logs in to the dashboard with the token, as a person does, and returns the page. */
  private String dashboard(URI server, String token) throws Exception {
    HttpResponse<String> login = DashboardLogin.logIn(http, server, token);
    assertThat(login.statusCode()).as(login.body()).isEqualTo(303);
    String cookie = login.headers().firstValue("Set-Cookie").orElseThrow().split(";", 2)[0];
    HttpResponse<String> page = http.send(HttpRequest.newBuilder(server.resolve("/dashboard")).header("Cookie", cookie)
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(page.statusCode()).isEqualTo(200);
    return page.body();
  }
}
