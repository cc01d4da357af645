package dev.tourniquet.agent.fleet;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.agent.AgentConfig;
import dev.tourniquet.agent.AgentControl;
import dev.tourniquet.agent.AgentStatus;
import dev.tourniquet.agent.MitigationStatus;
import dev.tourniquet.agent.OrgPolicy;
import dev.tourniquet.agent.PolicySource;
import dev.tourniquet.agent.Reporter;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.tuf.Fetchers;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The agent's side of the fleet server contract (v1, docs/server.md): enrolment with a one-time token,
 * then, with the agent's own credential, its effective policy ({@link PolicySource}), its reports
 * ({@link Reporter}) and the push listener ({@link #listen(AgentControl)}).
 *
 * <pre>{@code
 * FleetClient.enrol(serverUrl, token, "web-01", Map.of("ring", "canary"), credentialFile);
 * FleetClient fleet = FleetClient.open(serverUrl, credentialFile, dataCollection);
 * Agent agent = Agent.builder(config).policySource(fleet).reporter(fleet).build();
 * try (PushListener push = fleet.listen(agent)) { ... }
 * }</pre>
 *
 * <p>Nothing from the server is trusted for mitigations themselves: the policy only blocks, disables,
 * changes modes or holds back what the agent verified from the signed feed. Use HTTPS: the credential is
 * a bearer secret.
 */
public final class FleetClient implements PolicySource, Reporter {
  static final ObjectMapper JSON = new ObjectMapper();
  /** Answers larger than this are refused: a policy is small. */
  static final int MAX_ANSWER_BYTES = 1024 * 1024;
  /** How long a request without a timeout of its own may wait for the headers, then for the body. */
  private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
  /** A held mitigation's reason goes into the agent's status and report: the server's are one line. */
  private static final int MAX_HELD_REASON_CHARS = 300;
  /** The longest reason the fleet server takes per mitigation; a longer one would make it refuse the report. */
  static final int MAX_REASON_CHARS = 2000;
  /** The longest feed health and product version the fleet server takes. */
  static final int MAX_FEED_HEALTH_CHARS = 2000;
  static final int MAX_VERSION_CHARS = 128;

  private final URI base;
  private final String credential;
  private final boolean dataCollection;
  private final HttpClient http;
  private final Duration timeout;

  private FleetClient(URI base, String credential, boolean dataCollection, HttpClient http, Duration timeout) {
    this.base = base;
    this.credential = credential;
    this.dataCollection = dataCollection;
    this.http = http;
    this.timeout = timeout;
  }

  /**
   * Exchanges a one-time enrolment token for this agent's credential and writes it to a file readable by
   * the owner only.
   *
   * @param server the fleet server's base URL
   * @param token the enrolment token an administrator issued
   * @param serverName this server's name in the fleet
   * @param labels this server's labels ({@code ring} chooses its rollout ring)
   * @param credentialFile where to keep the credential
   * @return the agent id the server assigned
   * @throws IOException if the server refuses (the message is the server's) or cannot be reached
   */
  public static String enrol(URI server, String token, String serverName, Map<String, String> labels,
      Path credentialFile) throws IOException {
    Enrolled enrolled = exchange(server, token, serverName, labels, httpClient(Optional.empty()));
    CredentialFile.write(credentialFile, enrolled.credential());
    return enrolled.agentId();
  }

  /** What a successful enrolment answers; the credential is a secret shown once. */
  record Enrolled(String agentId, String credential) {
    @Override
    public String toString() {
      return "Enrolled[agentId=" + agentId + "]"; // never the credential
    }
  }

  /** {@code POST /api/v1/enrol}: the token for a credential, nothing written. */
  static Enrolled exchange(URI server, String token, String serverName, Map<String, String> labels, HttpClient http)
      throws IOException {
    URI base = base(server);
    ObjectNode body = JSON.createObjectNode().put("token", token).put("server", serverName);
    ObjectNode l = body.putObject("labels");
    new TreeMap<>(labels).forEach(l::put);
    Answer r = send(http, HttpRequest.newBuilder(base.resolve("api/v1/enrol")).timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build());
    JsonNode answer = answer("enrolment", r, 201);
    String credential = answer.path("credential").asText("");
    if (credential.isEmpty() || credential.length() > 1024 || !credential.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new IOException("enrolment: expected a credential (up to 1024 printable characters) in the server's answer"
          + " but found " + (credential.isEmpty() ? "none" : "something else"));
    }
    return new Enrolled(answer.path("agentId").asText(), credential);
  }

  /**
   * Opens a client with the credential saved by {@link #enrol}.
   *
   * @param server the fleet server's base URL
   * @param credentialFile the credential file
   * @param dataCollection whether this agent reports its status; when false it sends only a heartbeat
   *     (with each policy fetch) so that the server knows it is alive, and {@link #report} sends nothing
   * @return the client
   * @throws IOException if the credential file cannot be read or others may read it
   */
  public static FleetClient open(URI server, Path credentialFile, boolean dataCollection) throws IOException {
    return open(server, credentialFile, dataCollection, httpClient(Optional.empty()));
  }

  /**
   * The HTTP client for one agent's requests to its fleet server: direct or through an HTTP proxy, and never
   * following a redirect (the credential goes to the fleet server only).
   */
  static HttpClient httpClient(Optional<URI> proxy) {
    HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
        .followRedirects(HttpClient.Redirect.NEVER);
    proxy.map(AgentConfig::proxySelector).ifPresent(builder::proxy);
    return builder.build();
  }

  /**
   * Opens a client as {@link #open(URI, Path, boolean)} that sends its requests, event stream included,
   * with the given HTTP client. Every {@link HttpClient} holds a selector thread and a connection pool; a
   * process that runs many agents (a fleet simulator, a host serving several applications) shares one.
   * The client should not follow redirects: the credential must go to the fleet server only.
   *
   * @param server the fleet server's base URL
   * @param credentialFile the credential file
   * @param dataCollection as for {@link #open(URI, Path, boolean)}
   * @param http the HTTP client
   * @return the client
   * @throws IOException if the credential file cannot be read or others may read it
   */
  public static FleetClient open(URI server, Path credentialFile, boolean dataCollection, HttpClient http)
      throws IOException {
    return open(server, credentialFile, dataCollection, http, DEFAULT_TIMEOUT);
  }

  /** As {@link #open(URI, Path, boolean, HttpClient)}, waiting {@code timeout} for headers, then for a body. */
  static FleetClient open(URI server, Path credentialFile, boolean dataCollection, HttpClient http, Duration timeout)
      throws IOException {
    return new FleetClient(base(server), CredentialFile.read(credentialFile), dataCollection,
        Objects.requireNonNull(http, "http"), timeout);
  }

  private static URI base(URI server) {
    Objects.requireNonNull(server, "server");
    String scheme = server.getScheme() == null ? "" : server.getScheme().toLowerCase(Locale.ROOT);
    if (!server.isAbsolute() || !(scheme.equals("http") || scheme.equals("https"))) {
      throw new IllegalArgumentException("fleet server: expected an absolute http or https URL but found " + server);
    }
    String text = server.toString();
    return URI.create(text.endsWith("/") ? text : text + "/");
  }

  URI base() {
    return base;
  }

  String credential() {
    return credential;
  }

  HttpClient http() {
    return http;
  }

  /**
   * Fetches this server's effective policy ({@code GET /api/v1/agent/policy}); with data collection off,
   * also sends the heartbeat.
   *
   * @return the policy
   * @throws IOException if the server cannot be reached or answers anything but the policy
   */
  @Override
  public OrgPolicy orgPolicy() throws IOException {
    Answer r = send(http, authorised("api/v1/agent/policy").GET().build());
    JsonNode p = answer("policy", r, 200);
    OrgPolicy policy = parsePolicy(p);
    if (!dataCollection) {
      heartbeat();
    }
    return policy;
  }

  static OrgPolicy parsePolicy(JsonNode p) throws IOException {
    if (!p.path("orgMitigationsEnabled").isBoolean() || !p.path("serverMitigationsEnabled").isBoolean()
        || !p.path("blocked").isArray() || !p.path("modes").isObject() || !p.path("held").isObject()) {
      throw new IOException("policy: expected orgMitigationsEnabled, serverMitigationsEnabled, blocked, modes and"
          + " held but found " + shorten(p.toString(), 200));
    }
    TreeSet<String> blocked = new TreeSet<>();
    for (JsonNode id : p.get("blocked")) {
      blocked.add(id.asText());
    }
    Map<String, Mitigation.Mode> modes = new TreeMap<>();
    Iterator<Map.Entry<String, JsonNode>> it = p.get("modes").properties().iterator();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      switch (e.getValue().asText()) {
        case "audit" -> modes.put(e.getKey(), Mitigation.Mode.AUDIT);
        case "enforce" -> modes.put(e.getKey(), Mitigation.Mode.ENFORCE);
        default -> throw new IOException("policy: modes." + e.getKey() + ": expected \"enforce\" or \"audit\" but found "
            + e.getValue());
      }
    }
    Map<String, String> held = new TreeMap<>();
    for (Map.Entry<String, JsonNode> e : p.get("held").properties()) {
      if (!e.getValue().isTextual()) {
        throw new IOException("policy: held." + e.getKey() + ": expected the reason it is held, a string, but found "
            + shorten(e.getValue().toString(), 200));
      }
      held.put(e.getKey(), shorten(e.getValue().asText(), MAX_HELD_REASON_CHARS));
    }
    return new OrgPolicy(p.get("orgMitigationsEnabled").asBoolean(), p.get("serverMitigationsEnabled").asBoolean(),
        blocked, modes, held);
  }

  /**
   * Sends the status after a check ({@code POST /api/v1/agent/report}); with data collection off, only
   * the heartbeat.
   *
   * @param status the agent's status
   * @throws IOException if the server cannot be reached or refuses the report
   */
  @Override
  public void report(AgentStatus status) throws IOException {
    if (!dataCollection) {
      heartbeat();
      return;
    }
    Answer r = send(http, authorised("api/v1/agent/report").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(reportBody(status)))).build());
    answer("report", r, 204);
  }

  /**
   * Tells the server this agent is alive and sends nothing else ({@code {"dataCollection":false}}).
   *
   * @throws IOException if the server cannot be reached or refuses it
   */
  public void heartbeat() throws IOException {
    Answer r = send(http, authorised("api/v1/agent/report").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"dataCollection\":false}")).build());
    answer("heartbeat", r, 204);
  }

  /**
   * Shortens a text to at most {@code max} characters, ending it with an ellipsis if it was longer.
   *
   * @param text the text
   * @param max the most characters to keep, at least 1
   * @return the text, or its start and {@code …}
   */
  static String shorten(String text, int max) {
    if (text.length() <= max) {
      return text;
    }
    int end = max - 1;
    if (Character.isLowSurrogate(text.charAt(end))) {
      end--; // never split a character
    }
    return text.substring(0, end) + "…";
  }

  /**
   * The text with each control character the fleet server refuses replaced by U+FFFD (line breaks and tabs
   * kept where {@code lines}). Reasons and feed errors carry other programs' output, colour escapes and
   * all: the server refused the whole report for one of them, and a failing server only looked stale.
   */
  static String printable(String text, boolean lines) {
    StringBuilder b = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean control = (c < 0x20 && !(lines && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f;
      b.append(control ? '\ufffd' : c);
    }
    return b.toString();
  }

  /** The report body of the contract from the agent's status. */
  static ObjectNode reportBody(AgentStatus status) {
    ObjectNode body = JSON.createObjectNode();
    body.put("server", status.server());
    String version = FleetClient.class.getPackage().getImplementationVersion();
    body.put("agentVersion", version == null ? "development" : version);
    status.version().ifPresent(v -> body.put("productVersion", shorten(printable(v, false), MAX_VERSION_CHARS)));
    status.lastCheck().ifPresent(t -> body.put("lastCheck", t.toString()));
    body.put("nextCheck", status.nextCheck().toString());
    body.put("feedHealth", shorten(printable(status.feedHealth(), true), MAX_FEED_HEALTH_CHARS));
    body.put("dataCollection", true);
    ArrayNode mitigations = body.putArray("mitigations");
    for (MitigationStatus m : status.mitigations()) {
      ObjectNode row = mitigations.addObject();
      row.put("id", m.id());
      row.put("revision", m.revision());
      row.put("kind", m.kinds());
      row.put("status", m.status().label());
      row.put("reason", shorten(printable(m.reason(), true), MAX_REASON_CHARS));
      // Hit counters are kept per target; the server shows them per mitigation and rule.
      Map<String, Long> hits = new TreeMap<>();
      status.auditHits().values().forEach(byId -> byId.getOrDefault(m.id(), Map.of())
          .forEach((rule, n) -> hits.merge(rule, n, Long::sum)));
      ObjectNode h = row.putObject("auditHits");
      hits.forEach(h::put);
    }
    return body;
  }

  /**
   * Starts listening for the server's push events; each {@code feed} or {@code policy} event, and each
   * reconnection after a lost stream, calls {@link AgentControl#hint()}.
   *
   * @param control the running agent
   * @return the listener; close it to stop
   */
  public PushListener listen(AgentControl control) {
    return PushListener.start(this, control, PushListener.Settings.defaults());
  }

  HttpRequest.Builder authorised(String path) {
    return HttpRequest.newBuilder(base.resolve(path)).timeout(timeout).header("Authorization", "Bearer " + credential);
  }

  /** A fleet server's answer, its body read whole. */
  record Answer(HttpRequest request, URI uri, int statusCode, String body) {}

  /**
   * Sends a request and reads the answer: its headers within the request's timeout, then its body, at most
   * {@link #MAX_ANSWER_BYTES}, within the same time again. Neither a server that answers without end (the
   * agent would run out of memory) nor one that sends a byte now and then (the check, and the operator
   * commands waiting for it, would hang) can hold the agent.
   */
  static Answer send(HttpClient http, HttpRequest request) throws IOException {
    HttpResponse<InputStream> r;
    try {
      r = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while calling " + request.uri());
    } catch (InterruptedIOException e) {
      throw e;
    } catch (IOException e) {
      throw new IOException(request.method() + " " + request.uri() + ": " + Fetchers.describe(e), e);
    }
    String call = request.method() + " " + r.uri();
    byte[] bytes;
    try (InputStream in = Fetchers.withDeadline(r.body(), request.timeout().orElse(DEFAULT_TIMEOUT), call)) {
      bytes = in.readNBytes(MAX_ANSWER_BYTES + 1);
    }
    if (bytes.length > MAX_ANSWER_BYTES) {
      throw new IOException(call + ": expected an answer of at most " + MAX_ANSWER_BYTES + " bytes but found more");
    }
    return new Answer(request, r.uri(), r.statusCode(), new String(bytes, StandardCharsets.UTF_8));
  }

  /** The answer's JSON if the status is the expected one; otherwise the server's error as an exception. */
  static JsonNode answer(String what, Answer r, int expected) throws IOException {
    String text = r.body();
    JsonNode json;
    try {
      json = text.isEmpty() ? JSON.createObjectNode() : JSON.readTree(text);
    } catch (JsonProcessingException e) {
      json = JSON.createObjectNode();
    }
    if (r.statusCode() != expected) {
      throw new IOException(what + ": " + r.request().method() + " " + r.uri() + ": expected HTTP " + expected
          + " but found " + r.statusCode() + json.path("error").asText("").transform(e -> e.isEmpty() ? "" : ": " + e));
    }
    return json;
  }
}
