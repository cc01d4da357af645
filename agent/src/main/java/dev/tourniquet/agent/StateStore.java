package dev.tourniquet.agent;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.agent.AgentState.AppliedRef;
import dev.tourniquet.agent.AgentState.TargetFailure;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.MitigationException;
import dev.tourniquet.feed.mitigation.MitigationParser;
import dev.tourniquet.feed.mitigation.MitigationWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Reads and writes the agent's {@code state.json} (policy, applied, failures, probes owed, the highest revision
 * of each id ever applied), always
 * atomically ({@link AtomicWrite}). The last verified feed is not kept here: the TUF store holds it.
 */
final class StateStore {
  static final String STATE_FORMAT = "tourniquet-agent-state/1";
  private static final long MAX_BYTES = 64L << 20;

  private final ObjectMapper json = new ObjectMapper();
  private final Path stateFile;
  /** The documents parsed by the last {@link #parseDocuments}, by applied id. */
  private Map<String, Parsed> parsed = Map.of();

  StateStore(Path stateDir) {
    this.stateFile = stateDir.resolve("state.json");
  }

  Path stateFile() {
    return stateFile;
  }

  AgentState load() throws IOException {
    if (!Files.exists(stateFile)) {
      return AgentState.EMPTY;
    }
    JsonNode root = read(stateFile, STATE_FORMAT);
    JsonNode localNode = root.path("local");
    Set<String> blocked = new TreeSet<>();
    localNode.path("blocked").forEach(n -> blocked.add(n.asText()));
    Map<String, Mitigation.Mode> modes = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = localNode.path("modes").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      modes.put(e.getKey(), mode(e.getValue(), "local.modes." + e.getKey()));
    }
    Map<String, Integer> removed = new TreeMap<>();
    localNode.path("removed").fields().forEachRemaining(e -> removed.put(e.getKey(), e.getValue().asInt()));
    LocalPolicy local = new LocalPolicy(localNode.path("enabled").asBoolean(true), blocked, modes, removed);

    Map<String, Map<String, AppliedRef>> targets = new TreeMap<>();
    root.path("targets").fields().forEachRemaining(t -> {
      Map<String, AppliedRef> applied = new TreeMap<>();
      t.getValue().fields().forEachRemaining(e -> applied.put(e.getKey(),
          appliedRef(e.getValue())));
      targets.put(t.getKey(), applied);
    });
    Map<String, byte[]> documents = new TreeMap<>();
    root.path("documents").fields().forEachRemaining(e ->
        documents.put(e.getKey(), e.getValue().asText().getBytes(StandardCharsets.UTF_8)));
    List<TargetFailure> failures = new ArrayList<>();
    root.path("failures").forEach(f -> failures.add(new TargetFailure(f.path("target").asText(), f.path("id").asText(),
        f.path("revision").asInt(), f.path("reason").asText(), f.path("refused").asBoolean())));
    List<AgentState.ProbeDue> probesDue = new ArrayList<>();
    root.path("probesDue").forEach(d -> probesDue.add(new AgentState.ProbeDue(d.path("target").asText(),
        d.path("id").asText(), d.path("revision").asInt(),
        d.path("previous").isObject() ? Optional.of(appliedRef(d.path("previous"))) : Optional.empty())));
    // Absent from a state an earlier version wrote: AgentState starts it from what is applied.
    Map<String, Integer> highestApplied = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.path("highestApplied").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getValue().canConvertToInt() || !e.getValue().isIntegralNumber() || e.getValue().intValue() < 1) {
        throw new IOException(stateFile + ": highestApplied." + e.getKey() + ": expected a revision of at least 1 but"
            + " found " + e.getValue());
      }
      highestApplied.put(e.getKey(), e.getValue().intValue());
    }
    return new AgentState(local, targets, documents, failures, probesDue, highestApplied);
  }

  /**
   * Writes the state atomically. Every document is written back as the bytes it was loaded or recorded
   * with, never re-serialised: one this version cannot read stays exactly as the version that applied it
   * recorded it, for as long as a target has it.
   */
  void save(AgentState state) throws IOException {
    ObjectNode root = json.createObjectNode();
    root.put("format", STATE_FORMAT);
    ObjectNode local = root.putObject("local");
    local.put("enabled", state.local().enabled());
    ArrayNode blocked = local.putArray("blocked");
    state.local().blocked().forEach(blocked::add);
    ObjectNode modes = local.putObject("modes");
    state.local().modes().forEach((k, v) -> modes.put(k, v.jsonName()));
    ObjectNode removed = local.putObject("removed");
    state.local().removed().forEach(removed::put);
    ObjectNode targets = root.putObject("targets");
    state.targets().forEach((t, applied) -> {
      ObjectNode node = targets.putObject(t);
      applied.forEach((id, ref) -> putAppliedRef(node.putObject(id), ref));
    });
    ObjectNode documents = root.putObject("documents");
    state.documents().forEach((k, v) -> documents.put(k, new String(v, StandardCharsets.UTF_8)));
    ArrayNode failures = root.putArray("failures");
    for (TargetFailure f : state.failures()) {
      failures.addObject().put("target", f.target()).put("id", f.id()).put("revision", f.revision())
          .put("reason", f.reason()).put("refused", f.refused());
    }
    ArrayNode probesDue = root.putArray("probesDue");
    for (AgentState.ProbeDue d : state.probesDue()) {
      ObjectNode node = probesDue.addObject().put("target", d.target()).put("id", d.id()).put("revision", d.revision());
      if (d.previous().isPresent()) {
        putAppliedRef(node.putObject("previous"), d.previous().get());
      } else {
        node.putNull("previous");
      }
    }
    ObjectNode highestApplied = root.putObject("highestApplied");
    state.highestApplied().forEach(highestApplied::put);
    AtomicWrite.write(stateFile, json.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
  }

  /** A mode as the file holds it; anything else is an error naming the file and the field, not an enum's. */
  private Mitigation.Mode mode(JsonNode node, String field) throws IOException {
    for (Mitigation.Mode mode : Mitigation.Mode.values()) {
      if (mode.name().equalsIgnoreCase(node.asText())) {
        return mode;
      }
    }
    throw new IOException(stateFile + ": " + field + ": expected \"enforce\" or \"audit\" but found " + node);
  }

  /** An applied revision as the file holds it: {@code {"revision": 2, "audit": false}}. */
  private static AppliedRef appliedRef(JsonNode node) {
    return new AppliedRef(node.path("revision").asInt(), node.path("audit").asBoolean());
  }

  private static void putAppliedRef(ObjectNode node, AppliedRef ref) {
    node.put("revision", ref.revision()).put("audit", ref.audit());
  }

  /**
   * Parses the documents of the applied revisions, by applied id. A check reads them several times and
   * parsing validates each document and compiles its rules, so a document whose bytes are those parsed
   * last time is not parsed again (nor one that did not parse).
   *
   * <p>A document that does not parse is not an error: an earlier agent version recorded it (most likely it
   * validated less strictly than this one; or a hand edit), and the targets that have it keep enforcing it
   * as that version left them. It is returned among the {@link Documents#unreadable() unreadable} ones,
   * with why, and its bytes stay in the state as they are ({@link #save} writes them back verbatim): the
   * {@link Converger} holds those targets for it, and nothing is rendered from it.
   */
  synchronized Documents parseDocuments(AgentState state) {
    Map<String, Mitigation> readable = new HashMap<>();
    Map<String, String> unreadable = new TreeMap<>();
    Map<String, Parsed> next = new HashMap<>();
    for (Map.Entry<String, byte[]> e : state.documents().entrySet()) {
      Parsed p = parsed.get(e.getKey());
      if (p == null || !Arrays.equals(p.bytes(), e.getValue())) {
        try {
          p = new Parsed(e.getValue(), MitigationParser.parse(e.getValue()), null);
        } catch (MitigationException ex) {
          p = new Parsed(e.getValue(), null, stateFile + ": documents." + e.getKey() + ": expected a mitigation"
              + " document that this agent version accepts but found: " + ex.problems().stream()
                  .map(Object::toString).collect(Collectors.joining("; ")));
        }
      }
      if (p.mitigation() != null) {
        readable.put(e.getKey(), p.mitigation());
      } else {
        unreadable.put(e.getKey(), p.problem());
      }
      next.put(e.getKey(), p);
    }
    parsed = next;
    return new Documents(readable, unreadable);
  }

  /**
   * The documents of the applied revisions, by applied id ({@code M1.2}).
   *
   * @param readable those this agent version parses
   * @param unreadable those it does not, with why: the message names {@code state.json}, the document and
   *     the fields the parser refuses
   */
  record Documents(Map<String, Mitigation> readable, Map<String, String> unreadable) {
    Documents {
      readable = Map.copyOf(readable);
      unreadable = Collections.unmodifiableMap(new TreeMap<>(unreadable));
    }
  }

  /**
   * The bytes the state keeps for a document about to be recorded (its canonical form), remembered with
   * the document, so that the next {@link #parseDocuments} does not parse what was just verified: the
   * canonical form parses back to an equal document.
   */
  synchronized byte[] document(Mitigation m) {
    byte[] bytes = MitigationWriter.write(m);
    Map<String, Parsed> next = new HashMap<>(parsed);
    next.put(m.appliedId(), new Parsed(bytes, m, null));
    parsed = next;
    return bytes;
  }

  /** A document of the state and the bytes it was parsed from, or (mitigation null) why they do not parse. */
  private record Parsed(byte[] bytes, Mitigation mitigation, String problem) {}

  private JsonNode read(Path file, String format) throws IOException {
    return read(json, file, format, MAX_BYTES);
  }

  /**
   * Reads one of the agent's JSON files, at most {@code maxBytes}, and checks its {@code format}.
   *
   * @throws IOException if it cannot be read, is too large, or is not of that format; the message names the file
   */
  static JsonNode read(ObjectMapper json, Path file, String format, long maxBytes) throws IOException {
    long size = Files.size(file);
    if (size > maxBytes) {
      throw new IOException(file + ": expected at most " + maxBytes + " bytes but found " + size);
    }
    JsonNode root;
    try {
      root = json.readTree(Files.readAllBytes(file));
    } catch (JsonProcessingException e) {
      // Jackson's message names neither the file nor, for bytes, where: an operator must learn both.
      JsonLocation at = e.getLocation();
      throw new IOException(file + ": expected JSON but it does not parse: " + e.getOriginalMessage()
          + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"), e);
    }
    if (root == null || !format.equals(root.path("format").asText())) {
      throw new IOException(file + ": expected format \"" + format + "\" but found "
          + (root == null ? "an empty file" : root.path("format")));
    }
    return root;
  }
}
