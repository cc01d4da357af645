package dev.tourniquet.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The JSON form of an {@link AgentStatus} ({@code tourniquet-agent-status/1}), as the admin API serves it,
 * {@code tourniquet status --json} prints it and a fleet client may send it. The format is documented in
 * {@code docs/operating.md}.
 */
public final class StatusJson {
  /** The value of the {@code format} field. */
  public static final String FORMAT = "tourniquet-agent-status/1";
  private static final ObjectMapper JSON = new ObjectMapper();

  private StatusJson() {}

  /**
   * Writes a status.
   *
   * @param status the status
   * @return the JSON tree
   */
  public static ObjectNode toJson(AgentStatus status) {
    ObjectNode root = JSON.createObjectNode();
    root.put("format", FORMAT);
    root.put("server", status.server());
    ObjectNode labels = root.putObject("labels");
    status.labels().forEach(labels::put);
    root.put("product", status.product());
    if (status.version().isPresent()) {
      root.put("version", status.version().get());
    } else {
      root.putNull("version");
    }
    root.put("enabled", status.enabled());
    if (status.lastCheck().isPresent()) {
      root.put("lastCheck", status.lastCheck().get().toString());
    } else {
      root.putNull("lastCheck");
    }
    root.put("nextCheck", status.nextCheck().toString());
    root.put("feedHealth", status.feedHealth());
    root.put("policyHealth", status.policyHealth());
    root.put("feedVersion", status.feedVersion());
    ArrayNode rows = root.putArray("mitigations");
    for (MitigationStatus m : status.mitigations()) {
      ObjectNode row = rows.addObject();
      row.put("id", m.id());
      row.put("revision", m.revision());
      row.put("appliedId", m.appliedId());
      row.put("kinds", m.kinds());
      row.put("description", m.description());
      row.put("status", m.status().label());
      row.put("reason", m.reason());
      if (m.appliedRevision().isPresent()) {
        row.put("appliedRevision", m.appliedRevision().get());
      } else {
        row.putNull("appliedRevision");
      }
      if (m.live().isPresent()) {
        row.put("live", m.live().get());
      } else {
        row.putNull("live");
      }
    }
    ObjectNode hits = root.putObject("auditHits");
    status.auditHits().forEach((target, byId) -> {
      ObjectNode t = hits.putObject(target);
      byId.forEach((id, byRule) -> {
        ObjectNode i = t.putObject(id);
        byRule.forEach(i::put);
      });
    });
    return root;
  }

  /**
   * Writes a status as UTF-8 JSON bytes.
   *
   * @param status the status
   * @return the bytes
   */
  public static byte[] write(AgentStatus status) {
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(toJson(status));
    } catch (IOException e) {
      throw new IllegalStateException("writing a JSON tree to bytes cannot fail", e);
    }
  }

  /**
   * Reads a status.
   *
   * @param bytes the JSON
   * @return the status
   * @throws IOException if the bytes are not a status in this format, naming the field
   */
  public static AgentStatus read(byte[] bytes) throws IOException {
    JsonNode root = JSON.readTree(bytes);
    if (root == null || !FORMAT.equals(root.path("format").asText())) {
      throw new IOException("status: expected format \"" + FORMAT + "\" but found "
          + (root == null ? "nothing" : root.path("format").toString()));
    }
    try {
      Map<String, String> labels = new TreeMap<>();
      root.path("labels").fields().forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
      List<MitigationStatus> rows = new ArrayList<>();
      for (JsonNode row : root.path("mitigations")) {
        rows.add(new MitigationStatus(required(row, "id").asText(), row.path("revision").asInt(),
            row.path("kinds").asText(), row.path("description").asText(),
            Status.ofLabel(required(row, "status").asText()), row.path("reason").asText(),
            row.path("appliedRevision").isInt() ? Optional.of(row.path("appliedRevision").asInt()) : Optional.empty(),
            row.path("live").isBoolean() ? Optional.of(row.path("live").asBoolean()) : Optional.empty()));
      }
      Map<String, Map<String, Map<String, Long>>> hits = new TreeMap<>();
      root.path("auditHits").fields().forEachRemaining(t -> {
        Map<String, Map<String, Long>> byId = new TreeMap<>();
        t.getValue().fields().forEachRemaining(i -> {
          Map<String, Long> byRule = new TreeMap<>();
          i.getValue().fields().forEachRemaining(r -> byRule.put(r.getKey(), r.getValue().asLong()));
          byId.put(i.getKey(), byRule);
        });
        hits.put(t.getKey(), byId);
      });
      return new AgentStatus(required(root, "server").asText(), labels, root.path("product").asText(),
          text(root, "version"), root.path("enabled").asBoolean(), text(root, "lastCheck").map(Instant::parse),
          Instant.parse(required(root, "nextCheck").asText()), root.path("feedHealth").asText(),
          root.path("policyHealth").asText(), root.path("feedVersion").asLong(), rows, hits);
    } catch (DateTimeParseException | IllegalArgumentException e) {
      throw new IOException("status: " + e.getMessage(), e);
    }
  }

  private static JsonNode required(JsonNode node, String field) throws IOException {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      throw new IOException("status: expected field \"" + field + "\" but it is missing");
    }
    return v;
  }

  private static Optional<String> text(JsonNode node, String field) {
    JsonNode v = node.get(field);
    return v == null || v.isNull() ? Optional.empty() : Optional.of(v.asText());
  }
}
