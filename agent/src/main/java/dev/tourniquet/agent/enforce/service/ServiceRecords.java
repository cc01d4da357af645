package dev.tourniquet.agent.enforce.service;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.agent.AtomicWrite;
import dev.tourniquet.feed.mitigation.Action.DisableService.Manager;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The enforcer's memory, one file per target: for each service it disabled, keyed by the service's
 * {@linkplain ServiceManager#resolve identity}, the state it found before (what restore puts back) and the
 * mitigations that want it disabled (restore waits for the last one).
 *
 * <pre>
 * {
 *   "format": "tourniquet-service-records/2",
 *   "target": "exchange-services",
 *   "manager": "windows",
 *   "services": {
 *     "msexchangeum": { "startup": "delayed-auto", "activity": "RUNNING", "mitigations": ["M3"] }
 *   }
 * }
 * </pre>
 *
 * <p>Written atomically (temporary file in the same directory, fsync, atomic rename, fsync of the
 * directory), so after a crash the file is the old one or the new one, never a mix. With no services left
 * the file is deleted. Read strictly: an unknown format, another target's or manager's file, or an unknown
 * field is an error, not a guess, since restoring from a misread record would put a service in a state
 * nobody chose.
 *
 * <p>Format 1, written by earlier versions, is the same but keyed by the name a mitigation wrote (its
 * {@linkplain ServiceManager#address address}), so one service could have several records. It is read
 * as it is, {@linkplain Stored#keyedByName marked so}; the enforcer keys it by identity and writes format 2.
 */
final class ServiceRecords {
  static final String FORMAT = "tourniquet-service-records/2";
  /** Earlier versions' format: records keyed by the name a mitigation wrote, not by the service's identity. */
  static final String FORMAT_BY_NAME = "tourniquet-service-records/1";
  /** Far above any real file (a few hundred bytes per service); a larger one is not ours. */
  static final int MAX_BYTES = 1 << 20;

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /**
   * One disabled service.
   *
   * @param previous its state before the first mitigation disabled it
   * @param mitigations the ids of the mitigations that want it disabled, at least one
   */
  record Entry(ServiceState previous, SortedSet<String> mitigations) {
    Entry {
      Objects.requireNonNull(previous, "previous");
      if (mitigations.isEmpty()) {
        throw new IllegalArgumentException("mitigations: expected at least one id but found none");
      }
      mitigations = Collections.unmodifiableSortedSet(new TreeSet<>(mitigations));
    }
  }

  /**
   * What a record file holds.
   *
   * @param entries service identity (with {@code keyedByName}: the name's address) to entry, sorted
   * @param keyedByName true for a file of an earlier version ({@link #FORMAT_BY_NAME}), keyed by names
   */
  record Stored(Map<String, Entry> entries, boolean keyedByName) {
    Stored {
      entries = Collections.unmodifiableMap(new TreeMap<>(entries));
    }
  }

  private final Path file;
  private final String target;
  private final Manager manager;

  ServiceRecords(Path file, String target, Manager manager) {
    this.file = Objects.requireNonNull(file, "file");
    this.target = Objects.requireNonNull(target, "target");
    this.manager = Objects.requireNonNull(manager, "manager");
  }

  Path file() {
    return file;
  }

  /**
   * Reads the records.
   *
   * @return the records; none if there is no file
   * @throws IOException if the file cannot be read or is not a valid record file of this target and manager
   */
  Stored read() throws IOException {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_BYTES + 1);
    } catch (NoSuchFileException e) {
      return new Stored(Map.of(), false);
    }
    if (bytes.length > MAX_BYTES) {
      throw invalid("expected at most " + MAX_BYTES + " bytes but found more");
    }
    JsonNode root;
    try {
      root = JSON.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw invalid("expected JSON but found a syntax error: " + e.getOriginalMessage());
    }
    if (root == null || !root.isObject()) {
      throw invalid("expected a JSON object");
    }
    fields(root, "", Set.of("format", "target", "manager", "services"));
    JsonNode format = root.get("format");
    boolean keyedByName = format != null && format.isTextual() && format.asText().equals(FORMAT_BY_NAME);
    if (!keyedByName) {
      expectText(root, "format", FORMAT, " (or \"" + FORMAT_BY_NAME + "\", of an earlier version)");
    }
    expectText(root, "target", target, "");
    expectText(root, "manager", manager.jsonName(), "");
    JsonNode services = root.get("services");
    if (services == null || !services.isObject()) {
      throw invalid("services: expected an object");
    }
    Map<String, Entry> entries = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = services.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> service = it.next();
      String at = "services." + service.getKey() + ".";
      JsonNode node = service.getValue();
      if (!node.isObject()) {
        throw invalid(at + ": expected an object");
      }
      fields(node, at, Set.of("startup", "activity", "mitigations"));
      JsonNode ids = node.get("mitigations");
      if (ids == null || !ids.isArray() || ids.isEmpty()) {
        throw invalid(at + "mitigations: expected a non-empty array of mitigation ids");
      }
      SortedSet<String> mitigations = new TreeSet<>();
      for (JsonNode id : ids) {
        if (!id.isTextual() || id.asText().isEmpty()) {
          throw invalid(at + "mitigations: expected mitigation ids but found " + id);
        }
        mitigations.add(id.asText());
      }
      try {
        entries.put(service.getKey(), new Entry(new ServiceState(text(node, at + "startup", "startup"),
            text(node, at + "activity", "activity")), mitigations));
      } catch (IllegalArgumentException e) {
        throw invalid(at + e.getMessage());
      }
    }
    return new Stored(entries, keyedByName);
  }

  /**
   * Replaces the records atomically, or deletes the file when there are none; always in {@link #FORMAT}.
   *
   * @param entries service identity to entry
   * @throws IOException if the file could not be written durably
   */
  void write(Map<String, Entry> entries) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    if (entries.isEmpty()) {
      if (Files.deleteIfExists(file)) {
        AtomicWrite.fsyncDirectory(dir);
      }
      return;
    }
    ObjectNode root = JSON.createObjectNode();
    root.put("format", FORMAT);
    root.put("target", target);
    root.put("manager", manager.jsonName());
    ObjectNode services = root.putObject("services");
    for (Map.Entry<String, Entry> e : new TreeMap<>(entries).entrySet()) {
      ObjectNode node = services.putObject(e.getKey());
      node.put("startup", e.getValue().previous().startup());
      node.put("activity", e.getValue().previous().activity());
      ArrayNode ids = node.putArray("mitigations");
      e.getValue().mitigations().forEach(ids::add);
    }
    byte[] bytes = (JSON.writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
    AtomicWrite.write(file, bytes);
  }

  private void fields(JsonNode node, String at, Set<String> allowed) throws IOException {
    for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!allowed.contains(name)) {
        throw invalid(at + name + ": expected only the fields " + new TreeSet<>(allowed) + " but found this one");
      }
    }
  }

  private void expectText(JsonNode root, String field, String expected, String alternative) throws IOException {
    JsonNode value = root.get(field);
    if (value == null || !value.isTextual() || !value.asText().equals(expected)) {
      throw invalid(field + ": expected \"" + expected + "\"" + alternative + " but found "
          + (value == null ? "nothing" : value));
    }
  }

  private String text(JsonNode node, String at, String field) throws IOException {
    JsonNode value = node.get(field);
    if (value == null || !value.isTextual()) {
      throw invalid(at + ": expected a string but found " + (value == null ? "nothing" : value));
    }
    return value.asText();
  }

  private IOException invalid(String problem) {
    return new IOException(file + ": not a valid service record file: " + problem);
  }
}
