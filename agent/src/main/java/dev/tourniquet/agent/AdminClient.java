package dev.tourniquet.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Talks to a running agent's local admin API, as {@code tourniquet status|check|block|unblock|remove|
 * enable|disable} do. It finds the port and the token in the agent's state directory
 * ({@code admin.port}, {@code admin.token}), so only a user who can read that directory can use it.
 */
public final class AdminClient {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_RESPONSE = 16 << 20;

  private final URI base;
  private final String token;
  private final HttpClient http;
  private final Duration timeout;

  private AdminClient(URI base, String token, Duration timeout) {
    this.base = base;
    this.token = token;
    this.timeout = timeout;
    this.http = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).connectTimeout(Duration.ofSeconds(5))
        .followRedirects(HttpClient.Redirect.NEVER).build();
  }

  /**
   * Creates a client for the agent whose state directory this is.
   *
   * @param stateDir the agent's state directory
   * @param timeout how long to wait for an answer (a check may take as long as fetching the feed)
   * @return the client
   * @throws IOException if the directory does not exist, the agent is not running with it (no
   *     {@code admin.port}), or the token or port file is unreadable (is this the right user?)
   */
  public static AdminClient forStateDirectory(Path stateDir, Duration timeout) throws IOException {
    Objects.requireNonNull(timeout, "timeout");
    if (Files.notExists(stateDir)) {
      throw new IOException(stateDir + ": no such directory; expected the agent's state directory (stateDir in its"
          + " configuration)");
    }
    // The token before the port: the agent deletes admin.port before it writes a new token and writes it again
    // only once it listens, so the port read here is never older than the token (AdminServer). Read the other
    // way round, a port left by a killed agent could be sent the token its next run has just written.
    Path tokenFile = stateDir.resolve(AdminServer.TOKEN_FILE);
    Path portFile = stateDir.resolve(AdminServer.PORT_FILE);
    String token = read(tokenFile).orElseThrow(() -> new IOException(tokenFile + ": not found; expected an agent to"
        + " have started with this state directory"));
    String port = read(portFile).orElseThrow(() -> new IOException("the agent is not running with the state directory "
        + stateDir + ": " + portFile + " not found, which the agent writes once its admin API listens and deletes"
        + " when it stops (if it is starting, try again in a moment)"));
    if (!port.matches("[0-9]{1,5}")) {
      throw new IOException(portFile + ": expected a port number but found \"" + port + "\"");
    }
    return new AdminClient(URI.create("http://127.0.0.1:" + port + "/"), token, timeout);
  }

  /** Reads a small file of the state directory, or empty if it does not exist. */
  private static Optional<String> read(Path file) throws IOException {
    try {
      return Optional.of(Files.readString(file, StandardCharsets.US_ASCII).strip());
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (java.nio.file.AccessDeniedException e) {
      throw new IOException(file + ": permission denied; run as the agent's user or an administrator", e);
    }
  }

  /**
   * Returns the agent's status.
   *
   * @return the status
   * @throws IOException if the agent cannot be reached or answers an error (the message is the agent's)
   */
  public AgentStatus status() throws IOException {
    return send("GET", "v1/status", null);
  }

  /**
   * Runs a verb: {@code check}, {@code enable}, {@code disable} (no id) or {@code block}, {@code unblock},
   * {@code remove} (with an id).
   *
   * @param verb the verb
   * @param id the mitigation id, or null for verbs without one
   * @return the status after the verb
   * @throws IOException if the agent cannot be reached or answers an error (the message is the agent's)
   */
  public AgentStatus post(String verb, String id) throws IOException {
    String body = id == null ? "" : JSON.writeValueAsString(JSON.createObjectNode().put("id", id));
    return send("POST", "v1/" + verb, body);
  }

  private AgentStatus send(String method, String path, String body) throws IOException {
    HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).timeout(timeout)
        .header("Authorization", "Bearer " + token);
    if (body == null) {
      request.GET();
    } else {
      request.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
    }
    HttpResponse<java.io.InputStream> response;
    try {
      response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
    } catch (ConnectException e) {
      throw new IOException("cannot reach the agent at " + base + ": connection refused; expected it to listen on the"
          + " port in admin.port, which an agent that was killed leaves behind until it starts again", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for the agent", e);
    }
    byte[] bytes;
    try (java.io.InputStream in = response.body()) {
      bytes = in.readNBytes(MAX_RESPONSE + 1);
    }
    if (bytes.length > MAX_RESPONSE) {
      throw new IOException("the agent's answer is over " + MAX_RESPONSE + " bytes");
    }
    if (response.statusCode() != 200) {
      String message;
      try {
        JsonNode node = JSON.readTree(bytes);
        message = node != null && node.path("error").isTextual() ? node.get("error").asText()
            : new String(bytes, StandardCharsets.UTF_8);
      } catch (IOException e) {
        message = new String(bytes, StandardCharsets.UTF_8);
      }
      throw new IOException("the agent answered " + response.statusCode() + ": " + message);
    }
    return StatusJson.read(bytes);
  }
}
