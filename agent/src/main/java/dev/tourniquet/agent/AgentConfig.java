package dev.tourniquet.agent;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.tourniquet.feed.mitigation.Version;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The agent's configuration, read from one YAML file (every key is documented in
 * {@code docs/operating.md}).
 *
 * <pre>
 * server: {name: mail01, labels: {site: paris}}
 * product: {name: Exchange Server, version: 15.2.1118.20}     # or versionFile / versionCommand
 * feed: {url: https://feed.example.org/, trustedRoot: /etc/tourniquet/root.json}   # or fleetFeed: NAME
 * fleet: {url: https://fleet.example.org:8420/, enrolmentTokenFile: /etc/tourniquet/enrol.token}
 * stateDir: /var/lib/tourniquet
 * interval: 1h
 * targets:
 *   - {name: app, type: servlet, enforcementFile: /var/lib/tourniquet-servlet/app.json,
 *      healthProbe: {url: http://127.0.0.1:8080/health, status: 200}}
 * </pre>
 *
 * @param source the file the configuration was read from (for messages)
 * @param serverName the server's name
 * @param labels the server's labels
 * @param product the product name, compared case-insensitively with a mitigation's product
 * @param version how to learn the installed version
 * @param feed where the feed is
 * @param trustedRoot the root metadata file trusted at first start
 * @param proxy an HTTP proxy for the feed, if any
 * @param stateDir the state directory
 * @param interval the check interval (jittered ±10%)
 * @param dataCollection whether status is reported to the fleet server
 * @param adminPort the admin API's port on 127.0.0.1 (0: any free port, written to {@code admin.port})
 * @param targets the enforcement targets
 * @param fleet the fleet server this agent belongs to, if any
 */
public record AgentConfig(Path source, String serverName, Map<String, String> labels, String product,
    VersionSource version, FeedLocation feed, Path trustedRoot, Optional<URI> proxy, Path stateDir,
    Duration interval, boolean dataCollection, int adminPort, List<TargetConfig> targets, Optional<Fleet> fleet) {

  /** The default interval, like Exchange's hourly check. */
  public static final Duration DEFAULT_INTERVAL = Duration.ofHours(1);
  /** The longest interval: a month between checks is already far from what a mitigation service is for. */
  static final Duration MAX_INTERVAL = Duration.ofDays(30);
  /**
   * The default admin API port: 0, a free port the system chooses (the port in use is in {@code admin.port}).
   * A fixed default would let any local user bind it first, so that the agent cannot start, or once it stops,
   * so that clients send their token to him.
   */
  public static final int DEFAULT_ADMIN_PORT = 0;
  private static final long MAX_BYTES = 1 << 20;
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  /**
   * Target keys naming files that are resolved like every path of the file. (nginx refuses a relative
   * {@code includeFile} or {@code configFile} instead: they must match the include line in nginx's own files.)
   */
  private static final Set<String> FILE_OPTIONS = Set.of("enforcementFile");
  /** The fleet server's rules for a server name and labels (docs/server.md, "Enrolment"). */
  private static final Pattern FLEET_SERVER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,252}");
  private static final Pattern FLEET_LABEL_KEY = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
  private static final int FLEET_MAX_LABELS = 32;
  private static final int FLEET_MAX_LABEL_CHARS = 200;
  /** The credential file's name in the state directory. */
  public static final String FLEET_CREDENTIAL_FILE = "fleet.credential";

  /**
   * Copies the collections.
   *
   * @throws NullPointerException if a field is null
   */
  public AgentConfig {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(serverName, "serverName");
    labels = Map.copyOf(labels);
    Objects.requireNonNull(product, "product");
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(feed, "feed");
    Objects.requireNonNull(trustedRoot, "trustedRoot");
    Objects.requireNonNull(proxy, "proxy");
    Objects.requireNonNull(stateDir, "stateDir");
    Objects.requireNonNull(interval, "interval");
    targets = List.copyOf(targets);
    Objects.requireNonNull(fleet, "fleet");
  }

  /**
   * The fleet server this agent belongs to ({@code fleet:} in the file).
   *
   * @param url the fleet server's base URL, http or https
   * @param enrolmentTokenFile the file holding a one-time enrolment token, used only while no credential
   *     exists; absent once the agent is enrolled
   * @param credentialFile where the agent keeps its credential: {@value #FLEET_CREDENTIAL_FILE} in the state
   *     directory, owner-only
   * @param proxy the HTTP proxy for every request to the fleet server (enrolment, policy, reports, the push
   *     stream): {@code fleet.proxy}, or else {@code feed.proxy} when the feed is the fleet server's
   *     ({@code feed.fleetFeed}); empty for direct connections
   */
  public record Fleet(URI url, Optional<Path> enrolmentTokenFile, Path credentialFile, Optional<URI> proxy) {
    /**
     * Checks that no field is null.
     *
     * @throws NullPointerException if a field is null
     */
    public Fleet {
      Objects.requireNonNull(url, "url");
      Objects.requireNonNull(enrolmentTokenFile, "enrolmentTokenFile");
      Objects.requireNonNull(credentialFile, "credentialFile");
      Objects.requireNonNull(proxy, "proxy");
    }
  }

  /**
   * The proxy selector for a proxy URL of this configuration ({@code feed.proxy}, {@code fleet.proxy}): every
   * request goes to that host and port, 80 if the URL names none.
   *
   * @param proxy an {@code http://host[:port]} URL
   * @return the selector
   */
  public static ProxySelector proxySelector(URI proxy) {
    return ProxySelector.of(new InetSocketAddress(proxy.getHost(), proxy.getPort() < 0 ? 80 : proxy.getPort()));
  }

  /** Where the feed is: exactly one of an HTTP(S) URL, a directory, or an offline bundle file. */
  public sealed interface FeedLocation {
    /**
     * A feed served over HTTP(S).
     *
     * @param url the repository base URL
     */
    record Http(URI url) implements FeedLocation {}

    /**
     * A feed in a local directory (a publisher's {@code published/} directory or a mirror).
     *
     * @param dir the directory
     */
    record Directory(Path dir) implements FeedLocation {}

    /**
     * An offline bundle carried in by hand (air-gapped sites); re-read at every check.
     *
     * @param file the bundle file
     */
    record Bundle(Path file) implements FeedLocation {}
  }

  /** How the agent learns the installed product version. */
  public sealed interface VersionSource {
    /**
     * A fixed version written in the configuration.
     *
     * @param version the version
     */
    record Fixed(Version version) implements VersionSource {}

    /**
     * A file whose first line is the version (read at every check).
     *
     * @param file the file
     */
    record FromFile(Path file) implements VersionSource {}

    /**
     * A command whose first line of output is the version (run at every check, 30 s at most).
     *
     * @param command the program and its arguments
     */
    record FromCommand(List<String> command) implements VersionSource {}
  }

  /**
   * One enforcement target.
   *
   * @param name the target's name, unique
   * @param type the enforcer type: {@code servlet}, {@code nginx}, {@code systemd}, {@code windows},
   *     {@code supervisord}
   * @param options the other keys of the target, as text
   * @param probe the health probe, if configured
   */
  public record TargetConfig(String name, String type, Map<String, String> options, Optional<ProbeConfig> probe) {
    /**
     * Copies the options.
     *
     * @throws NullPointerException if a field is null
     */
    public TargetConfig {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(type, "type");
      options = Map.copyOf(options);
      Objects.requireNonNull(probe, "probe");
    }
  }

  /**
   * A health probe.
   *
   * @param url the URL to GET after applying a mitigation
   * @param status the status it must answer
   * @param timeout how long to wait for each answer
   * @param attempts how many times to ask, one second apart, before the probe counts as failed
   */
  public record ProbeConfig(URI url, int status, Duration timeout, int attempts) {}

  /**
   * Reads and validates a configuration file.
   *
   * @param file the YAML file
   * @return the configuration
   * @throws ConfigException if the file is invalid, naming the key
   * @throws IOException if it cannot be read
   */
  public static AgentConfig load(Path file) throws ConfigException, IOException {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes((int) MAX_BYTES + 1);
    }
    if (bytes.length > MAX_BYTES) {
      throw new ConfigException(file + ": expected at most " + MAX_BYTES + " bytes but found more");
    }
    JsonNode root;
    try {
      // A key given twice is refused: taking the last silently dropped the first (a whole targets list).
      root = new ObjectMapper(YAMLFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
          .readTree(bytes);
    } catch (JsonProcessingException e) {
      JsonLocation at = e.getLocation();
      throw new ConfigException(file + ": expected YAML with each key once but it does not parse: "
          + e.getOriginalMessage() + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"),
          e);
    } catch (IOException e) {
      throw new ConfigException(file + ": expected YAML but it does not parse: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new ConfigException(file + ": expected a YAML mapping at the top level");
    }
    return new Reader(file).read(root);
  }

  /** Reads the tree, resolving relative paths against the file's directory. */
  private static final class Reader {
    private final Path file;
    private final Path base;

    Reader(Path file) {
      this.file = file;
      Path parent = file.toAbsolutePath().getParent();
      this.base = parent == null ? Path.of(".") : parent;
    }

    AgentConfig read(JsonNode root) throws ConfigException {
      known(root, "", Set.of("server", "product", "feed", "fleet", "stateDir", "interval", "dataCollection", "admin",
          "targets"));
      JsonNode server = object(root, "server", true);
      known(server, "server.", Set.of("name", "labels"));
      String serverName = text(server, "server.name", true);
      Map<String, String> labels = new TreeMap<>();
      JsonNode labelNode = object(server, "labels", false);
      labelNode.fields().forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));

      JsonNode product = object(root, "product", true);
      known(product, "product.", Set.of("name", "version", "versionFile", "versionCommand"));
      String productName = text(product, "product.name", true);
      VersionSource version = versionSource(product);

      Path stateDir = path(text(root, "stateDir", true));
      Optional<Fleet> fleet = Optional.empty();
      if (root.has("fleet")) {
        fleet = Optional.of(fleet(object(root, "fleet", true), stateDir));
        fleetNames(serverName, labels);
      }

      JsonNode feed = object(root, "feed", true);
      known(feed, "feed.", Set.of("url", "directory", "bundle", "fleetFeed", "trustedRoot", "proxy"));
      FeedLocation location = feedLocation(feed, fleet);
      Path trustedRoot = path(text(feed, "feed.trustedRoot", true));
      Optional<URI> proxy = Optional.empty();
      if (feed.has("proxy")) {
        proxy = Optional.of(uri(text(feed, "feed.proxy", true), "feed.proxy", Set.of("http")));
      }
      if (fleet.isPresent() && fleet.get().proxy().isEmpty() && feed.has("fleetFeed") && proxy.isPresent()) {
        // The feed comes from the fleet server through this proxy: so must everything else sent there.
        Fleet f = fleet.get();
        fleet = Optional.of(new Fleet(f.url(), f.enrolmentTokenFile(), f.credentialFile(), proxy));
      }

      Duration interval = root.has("interval") ? duration(text(root, "interval", true), "interval") : DEFAULT_INTERVAL;
      if (interval.compareTo(Schedule.MIN_RETRY) < 0 || interval.compareTo(MAX_INTERVAL) > 0) {
        throw new ConfigException(file + ": interval: expected from 1m to 30d but found " + root.get("interval").asText());
      }
      boolean dataCollection = bool(root, "dataCollection", true);
      int adminPort = DEFAULT_ADMIN_PORT;
      if (root.has("admin")) {
        JsonNode admin = object(root, "admin", true);
        known(admin, "admin.", Set.of("port"));
        adminPort = integer(admin, "admin.port", DEFAULT_ADMIN_PORT, 0, 65535);
      }

      List<TargetConfig> targets = new ArrayList<>();
      JsonNode list = root.path("targets");
      if (!list.isMissingNode() && !list.isArray()) {
        throw new ConfigException(file + ": targets: expected a list but found " + list.getNodeType());
      }
      Set<String> names = new HashSet<>();
      for (int i = 0; i < list.size(); i++) {
        TargetConfig t = target(list.get(i), "targets[" + i + "]");
        if (!names.add(t.name())) {
          throw new ConfigException(file + ": targets[" + i + "].name: expected a unique name but found \"" + t.name() + "\" again");
        }
        targets.add(t);
      }
      return new AgentConfig(file, serverName, labels, productName, version, location, trustedRoot, proxy,
          stateDir, interval, dataCollection, adminPort, targets, fleet);
    }

    private Fleet fleet(JsonNode node, Path stateDir) throws ConfigException {
      known(node, "fleet.", Set.of("url", "enrolmentTokenFile", "proxy"));
      URI url = uri(text(node, "fleet.url", true), "fleet.url", Set.of("http", "https"));
      if (url.getRawQuery() != null || url.getRawFragment() != null || url.getRawUserInfo() != null) {
        throw new ConfigException(file + ": fleet.url: expected the fleet server's base URL without user, query or"
            + " fragment but found \"" + url + "\"");
      }
      String text = url.toString();
      url = URI.create(text.endsWith("/") ? text : text + "/");
      Optional<Path> token = node.has("enrolmentTokenFile")
          ? Optional.of(path(text(node, "fleet.enrolmentTokenFile", true))) : Optional.empty();
      Optional<URI> proxy = node.has("proxy")
          ? Optional.of(uri(text(node, "fleet.proxy", true), "fleet.proxy", Set.of("http"))) : Optional.empty();
      return new Fleet(url, token, stateDir.resolve(FLEET_CREDENTIAL_FILE), proxy);
    }

    /** The fleet server refuses names and labels outside these rules; say so before any enrolment. */
    private void fleetNames(String serverName, Map<String, String> labels) throws ConfigException {
      if (!FLEET_SERVER_NAME.matcher(serverName).matches()) {
        throw new ConfigException(file + ": server.name: expected 1 to 253 letters, digits, '.', '_' or '-' (a fleet"
            + " server's rule) but found \"" + serverName + "\"");
      }
      if (labels.size() > FLEET_MAX_LABELS) {
        throw new ConfigException(file + ": server.labels: expected at most " + FLEET_MAX_LABELS
            + " labels (a fleet server's rule) but found " + labels.size());
      }
      for (Map.Entry<String, String> e : labels.entrySet()) {
        if (!FLEET_LABEL_KEY.matcher(e.getKey()).matches()) {
          throw new ConfigException(file + ": server.labels." + e.getKey() + ": expected a key of 1 to 63 lowercase"
              + " letters, digits, '.', '_' or '-' (a fleet server's rule) but found \"" + e.getKey() + "\"");
        }
        if (e.getValue().length() > FLEET_MAX_LABEL_CHARS) {
          throw new ConfigException(file + ": server.labels." + e.getKey() + ": expected at most "
              + FLEET_MAX_LABEL_CHARS + " characters (a fleet server's rule) but found " + e.getValue().length());
        }
      }
    }

    private TargetConfig target(JsonNode node, String where) throws ConfigException {
      if (!node.isObject()) {
        throw new ConfigException(file + ": " + where + ": expected a mapping but found " + node.getNodeType());
      }
      String name = text(node, where + ".name", true);
      if (!NAME.matcher(name).matches()) {
        throw new ConfigException(file + ": " + where + ".name: expected 1 to 64 letters, digits, '.', '_' or '-' but found \"" + name + "\"");
      }
      String type = text(node, where + ".type", true);
      Map<String, String> options = new TreeMap<>();
      Optional<ProbeConfig> probe = Optional.empty();
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        String key = e.getKey();
        if (key.equals("name") || key.equals("type")) {
          continue;
        }
        if (key.equals("healthProbe")) {
          probe = Optional.of(probe(e.getValue(), where + ".healthProbe"));
        } else if (e.getValue().isValueNode()) {
          // A relative file, like every path of the file, is relative to its directory, not to wherever the
          // agent happens to run: an enforcement file resolved elsewhere would be written but never enforced.
          options.put(key, FILE_OPTIONS.contains(key) ? path(e.getValue().asText()).toString() : e.getValue().asText());
        } else {
          throw new ConfigException(file + ": " + where + "." + key + ": expected a single value but found a " + e.getValue().getNodeType());
        }
      }
      return new TargetConfig(name, type, options, probe);
    }

    private ProbeConfig probe(JsonNode node, String where) throws ConfigException {
      if (!node.isObject()) {
        throw new ConfigException(file + ": " + where + ": expected a mapping with url and status");
      }
      known(node, where + ".", Set.of("url", "status", "timeout", "attempts"));
      URI url = uri(text(node, where + ".url", true), where + ".url", Set.of("http", "https"));
      int status = integer(node, where + ".status", 200, 100, 599);
      Duration timeout = node.has("timeout") ? duration(text(node, where + ".timeout", true), where + ".timeout")
          : Duration.ofSeconds(10);
      int attempts = integer(node, where + ".attempts", HealthProbe.DEFAULT_ATTEMPTS, 1, 10);
      return new ProbeConfig(url, status, timeout, attempts);
    }

    private VersionSource versionSource(JsonNode product) throws ConfigException {
      int count = (product.has("version") ? 1 : 0) + (product.has("versionFile") ? 1 : 0)
          + (product.has("versionCommand") ? 1 : 0);
      if (count != 1) {
        throw new ConfigException(file + ": product: expected exactly one of version, versionFile, versionCommand but found " + count);
      }
      if (product.has("version")) {
        try {
          return new VersionSource.Fixed(Version.parse(product.get("version").asText()));
        } catch (IllegalArgumentException e) {
          throw new ConfigException(file + ": product.version: " + e.getMessage());
        }
      }
      if (product.has("versionFile")) {
        return new VersionSource.FromFile(path(text(product, "product.versionFile", true)));
      }
      JsonNode cmd = product.get("versionCommand");
      List<String> command = new ArrayList<>();
      if (cmd.isArray()) {
        cmd.forEach(n -> command.add(n.asText()));
      } else if (cmd.isTextual()) {
        command.add(cmd.asText());
      }
      if (command.isEmpty() || command.get(0).isBlank()) {
        throw new ConfigException(file + ": product.versionCommand: expected a program and its arguments as a list but found " + cmd);
      }
      return new VersionSource.FromCommand(command);
    }

    private FeedLocation feedLocation(JsonNode feed, Optional<Fleet> fleet) throws ConfigException {
      int count = (feed.has("url") ? 1 : 0) + (feed.has("directory") ? 1 : 0) + (feed.has("bundle") ? 1 : 0)
          + (feed.has("fleetFeed") ? 1 : 0);
      if (count != 1) {
        throw new ConfigException(file + ": feed: expected exactly one of url, directory, bundle, fleetFeed but found "
            + count);
      }
      if (feed.has("fleetFeed")) {
        String name = text(feed, "feed.fleetFeed", true);
        if (fleet.isEmpty()) {
          throw new ConfigException(file + ": feed.fleetFeed: expected a fleet section (fleet.url) to take the hosted"
              + " feed from but found none");
        }
        if (!NAME.matcher(name).matches()) {
          throw new ConfigException(file + ": feed.fleetFeed: expected a hosted feed's name (1 to 64 letters, digits,"
              + " '.', '_' or '-') but found \"" + name + "\"");
        }
        // The fleet server hosts each feed at /feeds/NAME/ (docs/server.md); trust still comes from trustedRoot.
        return new FeedLocation.Http(fleet.get().url().resolve("feeds/" + name + "/"));
      }
      if (feed.has("url")) {
        return new FeedLocation.Http(uri(text(feed, "feed.url", true), "feed.url", Set.of("http", "https")));
      }
      if (feed.has("directory")) {
        return new FeedLocation.Directory(path(text(feed, "feed.directory", true)));
      }
      return new FeedLocation.Bundle(path(text(feed, "feed.bundle", true)));
    }

    private void known(JsonNode node, String prefix, Set<String> keys) throws ConfigException {
      for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
        String key = it.next();
        if (!keys.contains(key)) {
          throw new ConfigException(file + ": " + prefix + key + ": unknown key; expected one of " + new java.util.TreeSet<>(keys));
        }
      }
    }

    private JsonNode object(JsonNode parent, String key, boolean required) throws ConfigException {
      JsonNode node = parent.get(key);
      if (node == null || node.isNull()) {
        if (required) {
          throw new ConfigException(file + ": " + key + ": expected a mapping but it is missing");
        }
        return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
      }
      if (!node.isObject()) {
        throw new ConfigException(file + ": " + key + ": expected a mapping but found " + node.getNodeType());
      }
      return node;
    }

    private String text(JsonNode parent, String where, boolean required) throws ConfigException {
      String key = where.substring(where.lastIndexOf('.') + 1);
      JsonNode node = parent.get(key);
      if (node == null || node.isNull() || !node.isValueNode() || node.asText().isBlank()) {
        throw new ConfigException(file + ": " + where + ": expected a value but "
            + (node == null || node.isNull() ? "it is missing" : "found " + (node.isValueNode() ? "an empty one" : node.getNodeType())));
      }
      return node.asText();
    }

    private boolean bool(JsonNode parent, String key, boolean def) throws ConfigException {
      JsonNode node = parent.get(key);
      if (node == null) {
        return def;
      }
      if (!node.isBoolean()) {
        throw new ConfigException(file + ": " + key + ": expected true or false but found " + node);
      }
      return node.asBoolean();
    }

    private int integer(JsonNode parent, String where, int def, int min, int max) throws ConfigException {
      String key = where.substring(where.lastIndexOf('.') + 1);
      JsonNode node = parent.get(key);
      if (node == null) {
        return def;
      }
      if (!node.canConvertToInt() || !node.isIntegralNumber() || node.asInt() < min || node.asInt() > max) {
        throw new ConfigException(file + ": " + where + ": expected a whole number from " + min + " to " + max + " but found " + node);
      }
      return node.asInt();
    }

    private Path path(String text) {
      return base.resolve(text).normalize();
    }

    private URI uri(String text, String where, Set<String> schemes) throws ConfigException {
      try {
        URI uri = new URI(text);
        if (uri.getScheme() == null || !schemes.contains(uri.getScheme().toLowerCase(Locale.ROOT)) || uri.getHost() == null) {
          throw new ConfigException(file + ": " + where + ": expected an absolute " + String.join(" or ", new java.util.TreeSet<>(schemes))
              + " URL but found \"" + text + "\"");
        }
        return uri;
      } catch (java.net.URISyntaxException e) {
        throw new ConfigException(file + ": " + where + ": expected a URL but found \"" + text + "\": " + e.getReason());
      }
    }
  }

  private static final Pattern SIMPLE_DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h|d)");

  /**
   * Parses a duration: {@code 90s}, {@code 30m}, {@code 1h}, {@code 1d}, {@code 500ms}, or ISO-8601
   * ({@code PT1H}).
   *
   * @param text the text
   * @param where the key, for the message
   * @return the duration
   * @throws ConfigException if it is not a positive duration
   */
  static Duration duration(String text, String where) throws ConfigException {
    Matcher m = SIMPLE_DURATION.matcher(text.trim());
    Duration d;
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      d = switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      };
    } else {
      try {
        d = Duration.parse(text.trim());
      } catch (DateTimeParseException e) {
        throw new ConfigException(where + ": expected a duration such as 90s, 30m, 1h or PT1H but found \"" + text + "\"");
      }
    }
    if (d.isNegative() || d.isZero()) {
      throw new ConfigException(where + ": expected a positive duration but found \"" + text + "\"");
    }
    return d;
  }
}
