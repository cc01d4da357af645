package dev.tourniquet.cli.quickstart;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * The fleet server's admin API as the dashboard and {@code tourniquet server …} use it, with the first
 * admin's token: the quickstart issues the agent's enrolment token through it, and reads from it what the
 * dashboard shows (the agent's reports, the revisions the server found in its feed).
 */
final class FleetAdmin {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final URI base;
  private final String token;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  FleetAdmin(URI base, String token) {
    this.base = base;
    this.token = token;
  }

  /** Issues a one-time enrolment token ({@code POST /api/v1/admin/enrolment-tokens}). */
  String enrolmentToken(String note) throws IOException {
    JsonNode answer = call("POST", "api/v1/admin/enrolment-tokens", Map.of("ttl", "PT1H", "note", note), 201);
    String enrolment = answer.path("token").asText("");
    if (enrolment.isEmpty()) {
      throw new IOException("enrolment token: expected a token in the fleet server's answer but found none");
    }
    return enrolment;
  }

  /** What the server holds about one enrolled server ({@code GET /api/v1/admin/servers/NAME}), if enrolled. */
  Optional<JsonNode> server(String name) throws IOException {
    HttpResponse<String> r = send("GET", "api/v1/admin/servers/" + name, null);
    if (r.statusCode() == 404) {
      return Optional.empty();
    }
    return Optional.of(check(r, 200));
  }

  /** The row of one mitigation in a server's last report, if it reported one. */
  Optional<JsonNode> reported(String server, String id) throws IOException {
    Optional<JsonNode> view = server(server);
    if (view.isEmpty()) {
      return Optional.empty();
    }
    for (JsonNode m : view.get().path("mitigations")) {
      if (m.path("id").asText().equals(id)) {
        return Optional.of(m);
      }
    }
    return Optional.empty();
  }

  /** Whether the server's feed watcher has found a revision ({@code GET /api/v1/admin/rollouts}). */
  boolean discovered(String id, int revision) throws IOException {
    for (JsonNode r : check(send("GET", "api/v1/admin/rollouts", null), 200)) {
      if (r.path("id").asText().equals(id) && r.path("revision").asInt() == revision) {
        return true;
      }
    }
    return false;
  }

  private JsonNode call(String method, String path, Object body, int expected) throws IOException {
    return check(send(method, path, body), expected);
  }

  private HttpResponse<String> send(String method, String path, Object body) throws IOException {
    HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + token);
    if (body == null) {
      request.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      request.header("Content-Type", "application/json")
          .method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
    }
    try {
      return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while calling " + base.resolve(path));
    }
  }

  private static JsonNode check(HttpResponse<String> r, int expected) throws IOException {
    JsonNode json = r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
    if (r.statusCode() != expected) {
      throw new IOException(r.request().method() + " " + r.uri() + ": expected HTTP " + expected + " but found "
          + r.statusCode() + " " + json.path("error").asText(""));
    }
    return json;
  }
}
