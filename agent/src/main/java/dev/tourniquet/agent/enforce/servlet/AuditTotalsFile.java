package dev.tourniquet.agent.enforce.servlet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.agent.enforce.StateFiles;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.agent.AtomicWrite;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The {@link AuditTotals} of one servlet target, kept in {@code <stateDir>/}{@value #FILE_NAME} so that an
 * agent restart neither starts the totals again nor counts a run twice; saved atomically ({@link
 * AtomicWrite}: owner-only, temp file, fsync, rename) whenever a reading changed them.
 *
 * <pre>{@code
 * {"format": "tourniquet-servlet-audit-totals/1",
 *  "run": "2026-11-28T09:00:00Z",
 *  "current": {"M1": {"block attack": 3}},
 *  "earlier": {"M1": {"block attack": 5}},
 *  "ended": ["2026-11-28T05:00:00Z"]}
 * }</pre>
 *
 * <p>The file is the agent's own, yet a disk can corrupt it: {@link #load} checks every field and refuses
 * the whole file rather than use part of it (counts without the run they belong to would be added again).
 */
final class AuditTotalsFile {
  /** The file's name in the target's state directory. */
  static final String FILE_NAME = "servlet-audit.totals.json";
  /** The value of its {@code format} key. */
  static final String FORMAT = "tourniquet-servlet-audit-totals/1";
  /** The longest file read. */
  static final int MAX_BYTES = 4 << 20;

  private static final Set<String> FIELDS = Set.of("format", "run", "current", "earlier", "ended");
  private final ObjectMapper json = new ObjectMapper();
  private final Path file;

  AuditTotalsFile(Path file) {
    this.file = Objects.requireNonNull(file, "file");
  }

  Path file() {
    return file;
  }

  /**
   * Reads the saved totals.
   *
   * @return the totals, or empty if none were ever saved
   * @throws IOException if the file cannot be read or is not totals as {@link #save} writes them; the
   *     message names the file, what was expected and what was found
   */
  Optional<AuditTotals.State> load() throws IOException {
    Optional<ObjectNode> read = StateFiles.readObject(file, MAX_BYTES, json);
    if (read.isEmpty()) {
      return Optional.empty();
    }
    JsonNode root = read.get();
    try {
      StateFiles.requireOnlyFields(root, FIELDS, "");
      if (!FORMAT.equals(root.path("format").asText(null))) {
        throw new IllegalArgumentException("expected format \"" + FORMAT + "\" but found " + root.path("format"));
      }
      Optional<Instant> run = root.path("run").isNull() ? Optional.empty() : Optional.of(instant(root.path("run"), "run"));
      JsonNode endedNode = root.path("ended");
      if (!endedNode.isArray()) {
        throw new IllegalArgumentException("expected ended to be an array but found " + shown(endedNode));
      }
      List<Instant> ended = new ArrayList<>();
      for (int i = 0; i < endedNode.size(); i++) {
        ended.add(instant(endedNode.get(i), "ended[" + i + "]"));
      }
      return Optional.of(new AuditTotals.State(run, counts(root.path("current"), "current"),
          counts(root.path("earlier"), "earlier"), ended));
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Saves the totals, atomically and owner-only.
   *
   * @throws IOException if they cannot be written
   */
  void save(AuditTotals.State state) throws IOException {
    ObjectNode root = json.createObjectNode();
    root.put("format", FORMAT);
    if (state.run().isPresent()) {
      root.put("run", state.run().get().toString());
    } else {
      root.putNull("run");
    }
    write(root.putObject("current"), state.current());
    write(root.putObject("earlier"), state.earlier());
    ArrayNode ended = root.putArray("ended");
    state.ended().forEach(i -> ended.add(i.toString()));
    AtomicWrite.write(file, json.writeValueAsBytes(root));
  }

  private static void write(ObjectNode to, Map<String, Map<String, Long>> counts) {
    counts.forEach((id, rules) -> {
      ObjectNode byRule = to.putObject(id);
      rules.forEach(byRule::put);
    });
  }

  /** An instant as {@link Instant#toString} writes it. */
  static Instant instant(JsonNode node, String field) {
    if (node.isTextual()) {
      try {
        return Instant.parse(node.asText());
      } catch (DateTimeParseException e) {
        // said below
      }
    }
    throw new IllegalArgumentException("expected " + field + " to be an ISO-8601 instant such as"
        + " \"2026-11-28T05:00:00Z\" but found " + shown(node));
  }

  private static Map<String, Map<String, Long>> counts(JsonNode node, String field) {
    if (!node.isObject()) {
      throw new IllegalArgumentException("expected " + field + " to be an object but found " + shown(node));
    }
    Map<String, Map<String, Long>> out = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> ids = node.fields(); ids.hasNext(); ) {
      Map.Entry<String, JsonNode> byId = ids.next();
      if (!byId.getValue().isObject()) {
        throw new IllegalArgumentException("expected " + field + "." + byId.getKey() + " to be an object but found "
            + shown(byId.getValue()));
      }
      Map<String, Long> rules = new TreeMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = byId.getValue().fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        JsonNode count = e.getValue();
        if (!count.isIntegralNumber() || !count.canConvertToLong() || count.asLong() < 0) {
          throw new IllegalArgumentException("expected " + field + "." + byId.getKey() + "[\"" + e.getKey()
              + "\"] to be a whole number of at least 0 but found " + shown(count));
        }
        rules.put(e.getKey(), count.asLong());
      }
      out.put(byId.getKey(), rules);
    }
    return out; // names are checked by AuditTotals.State
  }

  private static String shown(JsonNode node) {
    String text = node.isMissingNode() ? "nothing" : node.toString();
    return text.length() > 200 ? text.substring(0, 200) + "…" : text;
  }
}
