package dev.tourniquet.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local admin API: HTTP on 127.0.0.1 only, every request authenticated with the bearer token kept in
 * {@code <stateDir>/admin.token} (generated at first start, readable by its owner only). The port is
 * written to {@code <stateDir>/admin.port}. Documented in {@code docs/operating.md}.
 *
 * <pre>
 * GET  /v1/status                      the status
 * POST /v1/check                       check the feed now, then the status
 * POST /v1/enable | /v1/disable        server-level setting, then the status
 * POST /v1/block | /v1/unblock | /v1/remove   body {"id":"M1"}, then the status
 * </pre>
 *
 * <p>Errors are JSON {@code {"error": "..."}}: 401 without the right token (nothing changes), 400 for a bad
 * body, 404 for an unknown path, 405 for a wrong method, 413 for a body over 4 KiB.
 */
final class AdminServer {
  static final String TOKEN_FILE = "admin.token";
  static final String PORT_FILE = "admin.port";
  static final int MAX_BODY = 4096;
  private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpServer server;
  private final ExecutorService executor;
  private final byte[] token;
  private final Agent agent;

  private AdminServer(HttpServer server, ExecutorService executor, byte[] token, Agent agent) {
    this.server = server;
    this.executor = executor;
    this.token = token;
    this.agent = agent;
  }

  static AdminServer start(Agent agent, Path stateDir, int port) throws IOException {
    byte[] token = ("Bearer " + loadOrCreateToken(stateDir)).getBytes(StandardCharsets.US_ASCII);
    HttpServer server;
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
    } catch (IOException e) {
      throw new IOException("admin.port " + port + ": cannot listen on 127.0.0.1: " + e.getMessage(), e);
    }
    ExecutorService executor = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "tourniquet-admin");
      t.setDaemon(true);
      return t;
    });
    AdminServer admin = new AdminServer(server, executor, token, agent);
    server.createContext("/", admin::handle);
    server.setExecutor(executor);
    server.start();
    AtomicWrite.write(stateDir.resolve(PORT_FILE),
        (server.getAddress().getPort() + "\n").getBytes(StandardCharsets.US_ASCII));
    LOG.info("admin API listening on 127.0.0.1:{}", server.getAddress().getPort());
    return admin;
  }

  int port() {
    return server.getAddress().getPort();
  }

  void stop() {
    server.stop(0);
    executor.shutdown();
    try {
      executor.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Reads the token, or creates it owner-only (never readable by others, not even for a moment). */
  static String loadOrCreateToken(Path stateDir) throws IOException {
    Path file = stateDir.resolve(TOKEN_FILE);
    boolean posix = file.getFileSystem().supportedFileAttributeViews().contains("posix");
    if (!Files.exists(file)) {
      byte[] random = new byte[32];
      new SecureRandom().nextBytes(random);
      String value = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
      Path temp = stateDir.resolve(TOKEN_FILE + ".new");
      Files.deleteIfExists(temp);
      if (posix) {
        Files.createFile(temp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      } else {
        Files.createFile(temp);
      }
      Files.write(temp, (value + "\n").getBytes(StandardCharsets.US_ASCII));
      try {
        Files.move(temp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException e) {
        Files.deleteIfExists(temp);
      }
      AtomicWrite.fsyncDirectory(stateDir);
    }
    if (posix) {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      if (!PosixFilePermissions.toString(perms).equals("rw-------")) {
        LOG.warn("{} was readable by others ({}); made it owner-only", file, PosixFilePermissions.toString(perms));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
      }
    }
    String value = Files.readString(file, StandardCharsets.US_ASCII).strip();
    if (value.length() < 32) {
      throw new IOException(file + ": expected a token of at least 32 characters but found " + value.length());
    }
    return value;
  }

  private void handle(HttpExchange exchange) {
    // The exchange is closed after the catch: a try-with-resources would close it before, and the 500 would
    // never be sent.
    try {
      if (!exchange.getRemoteAddress().getAddress().isLoopbackAddress()) {
        send(exchange, 403, error("the admin API answers only on the loopback interface"));
        return;
      }
      if (!authorised(exchange.getRequestHeaders().getFirst("Authorization"))) {
        exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"tourniquet-agent\"");
        send(exchange, 401, error("expected the header Authorization: Bearer <token from admin.token> but "
            + (exchange.getRequestHeaders().containsKey("Authorization") ? "the token is wrong" : "found none")));
        return;
      }
      String path = exchange.getRequestURI().getPath();
      String method = exchange.getRequestMethod();
      String verb = switch (path) {
        case "/v1/status" -> "GET";
        case "/v1/check", "/v1/enable", "/v1/disable", "/v1/block", "/v1/unblock", "/v1/remove" -> "POST";
        default -> null;
      };
      if (verb == null) {
        send(exchange, 404, error("no such endpoint: " + path + "; expected /v1/status, /v1/check, /v1/enable,"
            + " /v1/disable, /v1/block, /v1/unblock or /v1/remove"));
        return;
      }
      if (!verb.equals(method)) {
        exchange.getResponseHeaders().set("Allow", verb);
        send(exchange, 405, error(path + ": expected " + verb + " but found " + method));
        return;
      }
      byte[] body = readBody(exchange);
      if (body == null) {
        send(exchange, 413, error("expected a body of at most " + MAX_BODY + " bytes"));
        return;
      }
      AgentStatus status;
      try {
        status = switch (path) {
          case "/v1/status" -> agent.status();
          case "/v1/check" -> agent.check();
          case "/v1/enable" -> agent.enable();
          case "/v1/disable" -> agent.disable();
          case "/v1/block" -> agent.block(id(body));
          case "/v1/unblock" -> agent.unblock(id(body));
          default -> agent.remove(id(body));
        };
      } catch (IllegalArgumentException e) {
        send(exchange, 400, error(e.getMessage()));
        return;
      }
      send(exchange, 200, StatusJson.write(status));
    } catch (IOException | RuntimeException e) {
      LOG.error("admin API: {} {} failed: {}", exchange.getRequestMethod(), exchange.getRequestURI().getPath(), e.toString(), e);
      try {
        send(exchange, 500, error("the agent failed: " + e.getMessage()));
      } catch (IOException | RuntimeException ignored) {
        // The response was already started; the client sees a broken answer.
      }
    } finally {
      exchange.close();
    }
  }

  private boolean authorised(String header) {
    if (header == null) {
      return false;
    }
    // Constant time: the comparison does not stop at the first differing byte.
    return MessageDigest.isEqual(header.getBytes(StandardCharsets.US_ASCII), token);
  }

  private static byte[] readBody(HttpExchange exchange) throws IOException {
    try (InputStream in = exchange.getRequestBody()) {
      byte[] bytes = in.readNBytes(MAX_BODY + 1);
      return bytes.length > MAX_BODY ? null : bytes;
    }
  }

  private static String id(byte[] body) {
    JsonNode node;
    try {
      node = JSON.readTree(body);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("expected a JSON body {\"id\": \"M1\"} but it does not parse: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new IllegalArgumentException("expected a JSON body {\"id\": \"M1\"} but it could not be read: " + e.getMessage());
    }
    if (node == null || !node.path("id").isTextual()) {
      throw new IllegalArgumentException("expected a JSON body {\"id\": \"M1\"} but found " + (node == null ? "nothing" : node));
    }
    return node.get("id").asText();
  }

  private static byte[] error(String message) {
    try {
      return JSON.writeValueAsBytes(JSON.createObjectNode().put("error", message));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void send(HttpExchange exchange, int code, byte[] body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    exchange.sendResponseHeaders(code, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }
}
