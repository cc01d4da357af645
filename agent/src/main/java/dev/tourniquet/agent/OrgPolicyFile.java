package dev.tourniquet.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.feed.mitigation.Mitigation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The organisation policy last obtained from the fleet server, kept in {@code <stateDir>/org-policy.json}
 * so that a restart while the fleet server is unreachable plans with it, not with {@link OrgPolicy#DEFAULT}:
 * otherwise a reboot during an outage would apply what the organisation blocked, or enforce what it set to
 * audit. Written atomically ({@link AtomicWrite}) when the policy obtained changes, not on every check.
 */
final class OrgPolicyFile {
  static final String FORMAT = "tourniquet-org-policy/1";
  private static final long MAX_BYTES = 16L << 20;

  /** A policy and when it was obtained. */
  record Saved(OrgPolicy policy, Instant obtainedAt) {}

  private final ObjectMapper json = new ObjectMapper();
  private final Path file;

  OrgPolicyFile(Path stateDir) {
    this.file = stateDir.resolve("org-policy.json");
  }

  Path file() {
    return file;
  }

  /**
   * Reads the saved policy.
   *
   * @return the policy, or empty if none was ever saved
   * @throws IOException if the file cannot be read or is not a saved policy; the message names the file and
   *     what is wrong
   */
  Optional<Saved> load() throws IOException {
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    JsonNode root = StateStore.read(json, file, FORMAT, MAX_BYTES);
    try {
      Set<String> blocked = new TreeSet<>();
      root.path("blocked").forEach(n -> blocked.add(text(n, "blocked[]")));
      Map<String, Mitigation.Mode> modes = new TreeMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = root.path("modes").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        modes.put(e.getKey(), Mitigation.Mode.valueOf(text(e.getValue(), "modes." + e.getKey()).toUpperCase(Locale.ROOT)));
      }
      Map<String, String> held = new TreeMap<>();
      root.path("held").fields().forEachRemaining(e -> held.put(e.getKey(), text(e.getValue(), "held." + e.getKey())));
      OrgPolicy policy = new OrgPolicy(bool(root, "enabled"), bool(root, "serverEnabled"), blocked, modes, held);
      return Optional.of(new Saved(policy, Instant.parse(text(root.path("obtainedAt"), "obtainedAt"))));
    } catch (IllegalArgumentException | DateTimeParseException e) {
      throw new IOException(file + ": expected a saved organisation policy but " + e.getMessage(), e);
    }
  }

  /**
   * Saves a policy, atomically.
   *
   * @throws IOException if it cannot be written
   */
  void save(OrgPolicy policy, Instant obtainedAt) throws IOException {
    ObjectNode root = json.createObjectNode();
    root.put("format", FORMAT);
    root.put("obtainedAt", obtainedAt.toString());
    root.put("enabled", policy.enabled());
    root.put("serverEnabled", policy.serverEnabled());
    policy.blocked().forEach(root.putArray("blocked")::add);
    ObjectNode modes = root.putObject("modes");
    policy.modes().forEach((id, mode) -> modes.put(id, mode.jsonName()));
    ObjectNode held = root.putObject("held");
    policy.held().forEach(held::put);
    AtomicWrite.write(file, json.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
  }

  private static String text(JsonNode node, String field) {
    if (!node.isTextual()) {
      throw new IllegalArgumentException("field " + field + ": expected a string but found " + node);
    }
    return node.asText();
  }

  private static boolean bool(JsonNode root, String field) {
    JsonNode node = root.path(field);
    if (!node.isBoolean()) {
      throw new IllegalArgumentException("field " + field + ": expected true or false but found " + node);
    }
    return node.asBoolean();
  }
}
