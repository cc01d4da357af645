package dev.tourniquet.feed.tuf;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A real HTTP server on 127.0.0.1 that serves exactly a map of request paths to bytes (404 for anything
 * else, or another status such as an S3 bucket's 403), answers {@code If-None-Match} with 304 when the entity tag matches, and records every request.
 */
final class MapHttpServer implements AutoCloseable {
  private final HttpServer server;
  private final Map<String, byte[]> files = new ConcurrentHashMap<>();
  private final List<String> requests = new CopyOnWriteArrayList<>();
  private volatile int missingStatus = 404;

  MapHttpServer(Map<String, byte[]> initial) {
    files.putAll(initial);
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.createContext("/", this::handle);
    server.start();
  }

  URI base() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/feed/");
  }

  void put(String path, byte[] bytes) {
    files.put(path, bytes);
  }

  /** Answers a path that is not in the map with this status instead of 404. */
  void answerMissingWith(int status) {
    missingStatus = status;
  }

  List<String> requests() {
    return List.copyOf(requests);
  }

  static String etagOf(byte[] bytes) {
    return "\"" + Hashes.hex(Hashes.SHA256, bytes).substring(0, 16) + "\"";
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      String conditional = exchange.getRequestHeaders().getFirst("If-None-Match");
      requests.add(path + (conditional == null ? "" : " If-None-Match: " + conditional));
      byte[] body = path.startsWith("/feed/") ? files.get(path.substring("/feed/".length())) : null;
      if (body == null) {
        exchange.sendResponseHeaders(missingStatus, -1);
        return;
      }
      String etag = etagOf(body);
      exchange.getResponseHeaders().set("ETag", etag);
      if (etag.equals(conditional)) {
        exchange.sendResponseHeaders(304, -1);
        return;
      }
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
