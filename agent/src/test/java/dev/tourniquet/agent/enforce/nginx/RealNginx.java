package dev.tourniquet.agent.enforce.nginx;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A real nginx for tests: its own config, pid file, logs and temp paths in a temporary directory,
 * listening on 127.0.0.1 on a free port, proxying to a JDK HttpServer backend that marks its answers
 * with {@code X-Backend: yes}. The include file the enforcer owns is included in the server block.
 *
 * <p>Public for the agent's end-to-end test, which runs it beside a servlet container and uses
 * {@link #exchange} against both.
 */
public final class RealNginx implements AutoCloseable {
  /** The nginx binary the tests run. */
  public static final Path BINARY = Path.of("/usr/sbin/nginx");
  /** The njs module, loaded by every test nginx. */
  public static final Path NJS_MODULE = Path.of("/usr/lib/nginx/modules/ngx_http_js_module.so");
  private static final Duration DEADLINE = Duration.ofSeconds(20);

  final Path dir;
  /** The nginx.conf written for this nginx. */
  public final Path config;
  /** The include file the enforcer owns, included in the server block. */
  public final Path include;
  final Path pidFile;
  /** The port nginx listens on, on 127.0.0.1. */
  public final int port;
  private final HttpServer backend;

  /**
   * What came back for one request.
   *
   * @param aborted true if the connection closed (or was reset) before a byte of response
   * @param status the status code, 0 when aborted
   * @param headers the response headers, names in lower case
   * @param body the response body
   */
  public record Outcome(boolean aborted, int status, Map<String, String> headers, String body) {
    /**
     * Tells whether the application behind answered.
     *
     * @return true if the response carries {@code X-Backend: yes}
     */
    public boolean fromBackend() {
      return "yes".equals(headers.get("x-backend"));
    }
  }

  /**
   * Starts a backend and nginx.
   *
   * @param dir a private directory for the configuration, pid file, logs and temp paths
   * @param extraHttp directives added to the http block (e.g. a colliding map)
   * @throws IOException if nginx does not start or listen within 20 s
   * @throws InterruptedException if interrupted while waiting for it
   */
  public RealNginx(Path dir, String extraHttp) throws IOException, InterruptedException {
    this.dir = dir;
    this.config = dir.resolve("nginx.conf");
    this.include = dir.resolve("conf.d").resolve("tourniquet.conf");
    this.pidFile = dir.resolve("nginx.pid");
    Files.createDirectories(include.getParent());
    Files.writeString(include, "# empty until the enforcer writes it\n");
    backend = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    backend.createContext("/", exchange -> {
      byte[] body = ("backend saw " + exchange.getRequestURI().getRawPath()).getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("X-Backend", "yes");
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    backend.start();
    port = freePort();
    String conf = String.join("\n",
        "load_module " + NJS_MODULE + ";",
        "user root;",
        "worker_processes 1;",
        "pid " + pidFile + ";",
        "error_log " + dir.resolve("error.log") + " info;",
        "events { worker_connections 64; }",
        "http {",
        "  access_log off;",
        "  client_body_temp_path " + dir.resolve("tmp-body") + ";",
        "  proxy_temp_path " + dir.resolve("tmp-proxy") + ";",
        "  fastcgi_temp_path " + dir.resolve("tmp-fastcgi") + ";",
        "  uwsgi_temp_path " + dir.resolve("tmp-uwsgi") + ";",
        "  scgi_temp_path " + dir.resolve("tmp-scgi") + ";",
        "  " + extraHttp,
        "  server {",
        "    listen 127.0.0.1:" + port + ";",
        "    server_name localhost;",
        "    include " + include + ";",
        "    location / { proxy_pass http://127.0.0.1:" + backend.getAddress().getPort() + "; }",
        "  }",
        "}",
        "");
    Files.writeString(config, conf);
    Process start = new ProcessBuilder(BINARY.toString(), "-c", config.toString(), "-e", dir.resolve("error.log").toString())
        .redirectErrorStream(true).start();
    String output = new String(start.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!start.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS) || start.exitValue() != 0) {
      backend.stop(0);
      throw new IOException("nginx did not start: " + output);
    }
    awaitListening();
  }

  NginxSettings settings(boolean njs) {
    return settings(njs, dir.resolve("state"));
  }

  NginxSettings settings(boolean njs, Path stateDir) {
    return new NginxSettings(include, BINARY, Optional.of(config), stateDir, Duration.ofSeconds(20), njs);
  }

  long masterPid() throws IOException {
    return Long.parseLong(Files.readString(pidFile).strip());
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private void awaitListening() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (System.nanoTime() < deadline) {
      try (Socket socket = new Socket("127.0.0.1", port)) {
        return;
      } catch (IOException e) {
        Thread.sleep(20);
      }
    }
    throw new IOException("nginx did not listen on 127.0.0.1:" + port + " within " + DEADLINE);
  }

  /**
   * Sends one request as written on the wire: the target raw, the headers in order, then
   * {@code Connection: close}; a {@code Host} header is added when the request has none.
   */
  Outcome send(String method, String target, List<String[]> headers) throws IOException {
    return exchange(port, method, target, headers);
  }

  /**
   * Sends one request as written on the wire to any HTTP/1.1 server on 127.0.0.1: the target raw, the
   * headers in order, then {@code Connection: close}; a {@code Host} header is added when the request has
   * none.
   *
   * @param port the server's port on 127.0.0.1
   * @param method the method
   * @param target the request target exactly as sent
   * @param headers name and value pairs
   * @return what came back: aborted if the server closed the connection without a byte of response
   * @throws IOException if the connection fails or the response is not HTTP/1.1
   */
  public static Outcome exchange(int port, String method, String target, List<String[]> headers) throws IOException {
    StringBuilder request = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n");
    boolean host = false;
    for (String[] h : headers) {
      host |= h[0].equalsIgnoreCase("Host");
      request.append(h[0]).append(": ").append(h[1]).append("\r\n");
    }
    if (!host) {
      request.append("Host: localhost\r\n");
    }
    request.append("Connection: close\r\n\r\n");
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout((int) DEADLINE.toMillis());
      socket.getOutputStream().write(request.toString().getBytes(StandardCharsets.UTF_8));
      socket.getOutputStream().flush();
      byte[] response = readAll(socket.getInputStream());
      if (response.length == 0) {
        return new Outcome(true, 0, Map.of(), "");
      }
      return parse(new String(response, StandardCharsets.ISO_8859_1));
    }
  }

  Outcome get(String target) throws IOException {
    return send("GET", target, List.of());
  }

  private static byte[] readAll(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buffer = new byte[8192];
    try {
      for (int n; (n = in.read(buffer)) >= 0; ) {
        out.write(buffer, 0, n);
      }
    } catch (java.net.SocketException e) {
      // A reset after nothing was read is an abort too.
      if (out.size() > 0) {
        throw e;
      }
    }
    return out.toByteArray();
  }

  private static Outcome parse(String response) throws IOException {
    int headerEnd = response.indexOf("\r\n\r\n");
    if (!response.startsWith("HTTP/1.1 ") || headerEnd < 0) {
      throw new IOException("expected an HTTP/1.1 response but found: " + response.substring(0, Math.min(200, response.length())));
    }
    String[] lines = response.substring(0, headerEnd).split("\r\n");
    int status = Integer.parseInt(lines[0].substring(9, 12));
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      headers.put(lines[i].substring(0, colon).toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
    }
    return new Outcome(false, status, headers, response.substring(headerEnd + 4));
  }

  /** Stops nginx with {@code -s quit} and waits until its master has exited; stops the backend. */
  @Override
  public void close() throws IOException, InterruptedException {
    try {
      long master = masterPid();
      Process quit = new ProcessBuilder(BINARY.toString(), "-s", "quit", "-c", config.toString()).redirectErrorStream(true).start();
      quit.getInputStream().readAllBytes();
      quit.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      long deadline = System.nanoTime() + DEADLINE.toNanos();
      while (Files.exists(Path.of("/proc", Long.toString(master))) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      if (Files.exists(Path.of("/proc", Long.toString(master)))) {
        new ProcessBuilder("kill", "-KILL", Long.toString(master)).start().waitFor();
        throw new IOException("nginx master " + master + " did not quit within " + DEADLINE + "; killed it");
      }
    } finally {
      backend.stop(0);
    }
  }

  /**
   * Reads the nginx error log, for failure messages.
   *
   * @return the log, empty if nginx has written none
   * @throws IOException if it cannot be read
   */
  public String errorLog() throws IOException {
    Path log = dir.resolve("error.log");
    return Files.exists(log) ? Files.readString(log) : "";
  }

  /**
   * Pairs names and values.
   *
   * @param nameValues name, value, name, value, ...
   * @return the pairs in order
   */
  public static List<String[]> headers(String... nameValues) {
    List<String[]> out = new ArrayList<>();
    for (int i = 0; i < nameValues.length; i += 2) {
      out.add(new String[] {nameValues[i], nameValues[i + 1]});
    }
    return out;
  }
}
