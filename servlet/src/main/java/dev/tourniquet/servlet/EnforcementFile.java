package dev.tourniquet.servlet;

import dev.tourniquet.rules.json.Json;
import dev.tourniquet.rules.RuleSet;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The enforcement file: what the agent tells the servlet filter to enforce, documented in
 * {@code docs/servlet.md}. The agent writes it with {@link #write(Path)}; the filter reads it with
 * {@link #read(Path)} whenever it changes.
 *
 * <pre>
 * {"format": "tourniquet-enforcement/1", "generated": "2026-11-28T05:00:00Z",
 *  "mitigations": [{"id": "M1", "revision": 1, "mode": "enforce",
 *                   "requestRules": {…rules JSON form…}, "responseRules": {…},
 *                   "disableEndpoints": [{"pathPrefix": "/ecp", "status": 503}],
 *                   "authPolicies": [{"pathPrefix": "/owa", "refuseBasic": true, "refuseAnonymous": false}]}]}
 * </pre>
 *
 * <p>The mitigations are kept sorted by id, the order in which the filter evaluates them; ids are unique.
 *
 * @param generated when the agent wrote the file
 * @param mitigations the active mitigations, sorted by id
 */
public record EnforcementFile(Instant generated, List<ActiveMitigation> mitigations) {
  /** The value of the {@code format} key. */
  public static final String FORMAT = "tourniquet-enforcement/1";
  /** A larger file is refused before it is parsed. */
  public static final int MAX_BYTES = 16 << 20;
  /** At most this many mitigations. */
  public static final int MAX_MITIGATIONS = 1000;
  /** At most this many endpoints or policies in one mitigation. */
  public static final int MAX_ACTIONS = 256;

  /**
   * Creates a file; the mitigations are copied and sorted by id.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if two mitigations share an id, or there are too many
   */
  public EnforcementFile {
    Objects.requireNonNull(generated, "generated");
    List<ActiveMitigation> sorted = new ArrayList<>(mitigations);
    sorted.sort(Comparator.comparing(ActiveMitigation::id));
    if (sorted.size() > MAX_MITIGATIONS) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "expected at most %d mitigations but found %d",
          MAX_MITIGATIONS, sorted.size()));
    }
    for (int i = 1; i < sorted.size(); i++) {
      if (sorted.get(i).id().equals(sorted.get(i - 1).id())) {
        throw new IllegalArgumentException("expected each mitigation id once but found \"" + sorted.get(i).id() + "\" twice");
      }
    }
    mitigations = List.copyOf(sorted);
  }

  /**
   * Reads a file from its JSON text. The rules are read but not compiled; the filter compiles them when it
   * loads the file, and {@link #write(Path)} compiles them before writing.
   *
   * @param json the text
   * @param source a name for the text in error messages, such as its path
   * @return the file
   * @throws EnforcementFileException if the text is not a valid enforcement file, naming every problem's path
   */
  public static EnforcementFile parse(String json, String source) {
    return new EnforcementFileReader(source).read(json);
  }

  /**
   * Reads a file from disk, refusing one over {@link #MAX_BYTES} before reading it whole.
   *
   * @param file the path
   * @return the file
   * @throws IOException if it cannot be read
   * @throws EnforcementFileException if it is too large or not a valid enforcement file
   */
  public static EnforcementFile read(Path file) throws IOException {
    return parse(new String(readCapped(file), StandardCharsets.UTF_8), file.toString());
  }

  /** Reads at most {@link #MAX_BYTES}; a longer file is an error, however its size changes meanwhile. */
  static byte[] readCapped(Path file) throws IOException {
    if (Files.exists(file) && !Files.isRegularFile(file)) {
      // A FIFO put there would block the open below, and with it the filter's start or every reload.
      throw new IOException(file + ": expected a regular file but found something else (a FIFO, a device or a"
          + " directory)");
    }
    try (InputStream in = Files.newInputStream(file)) {
      byte[] bytes = in.readNBytes(MAX_BYTES + 1);
      if (bytes.length > MAX_BYTES) {
        throw new EnforcementFileException(List.of(String.format(Locale.ROOT,
            "%s: expected at most %d bytes but found more", file, MAX_BYTES)));
      }
      return bytes;
    }
  }

  /**
   * Writes the file as JSON, every field explicit except absent rule sets.
   *
   * @return the JSON text, ending with a newline
   */
  public String toJson() {
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("format", FORMAT);
    root.put("generated", generated.toString());
    List<Object> list = new ArrayList<>();
    for (ActiveMitigation m : mitigations) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("id", m.id());
      o.put("revision", (long) m.revision());
      o.put("mode", m.mode().jsonName());
      if (!m.requestRules().equals(RuleSet.EMPTY)) {
        o.put("requestRules", rulesTree(m.requestRules()));
      }
      if (!m.responseRules().equals(RuleSet.EMPTY)) {
        o.put("responseRules", rulesTree(m.responseRules()));
      }
      List<Object> endpoints = new ArrayList<>();
      for (DisabledEndpoint e : m.disableEndpoints()) {
        Map<String, Object> eo = new LinkedHashMap<>();
        eo.put("pathPrefix", e.pathPrefix().value());
        eo.put("status", (long) e.status());
        endpoints.add(eo);
      }
      o.put("disableEndpoints", endpoints);
      List<Object> policies = new ArrayList<>();
      for (AuthPolicy p : m.authPolicies()) {
        Map<String, Object> po = new LinkedHashMap<>();
        po.put("pathPrefix", p.pathPrefix().value());
        po.put("refuseBasic", p.refuseBasic());
        po.put("refuseAnonymous", p.refuseAnonymous());
        policies.add(po);
      }
      o.put("authPolicies", policies);
      list.add(o);
    }
    root.put("mitigations", list);
    return Json.write(root);
  }

  private static Object rulesTree(RuleSet rules) {
    try {
      return Json.parse(dev.tourniquet.rules.RuleJson.write(rules));
    } catch (Json.SyntaxError e) {
      throw new IllegalStateException("RuleJson.write produced text that is not JSON: " + e.getMessage(), e);
    }
  }

  /**
   * Writes the file atomically: to a temporary file in the same directory, fsynced, renamed over
   * {@code file} with {@code ATOMIC_MOVE}, then the directory fsynced. A reader sees the old file or the
   * new one, never a part. The rules are compiled first, so a file the filter would refuse is never
   * written.
   *
   * @param file the path
   * @return the bytes written (the UTF-8 of {@link #toJson()}), for a caller that hashes or compares them
   * @throws IOException if it cannot be written
   * @throws EnforcementFileException if a rule set does not compile
   */
  public byte[] write(Path file) throws IOException {
    Snapshot.compile(this, file.toString());
    return writePrecompiled(file);
  }

  /**
   * Writes the file as {@link #write(Path)} does, without compiling its rules first: for a caller each of whose
   * rule sets this version's {@link dev.tourniquet.rules.RuleCompiler} has compiled already. The agent's come
   * from validated mitigation documents, and a document's rule actions cannot be made without compiling their
   * rules, so compiling every applied mitigation's rules again at every change would repeat the same work to
   * the same outcome. Should such a file not compile after all, the filter refuses it and keeps what it
   * enforced, and its acknowledgement says so.
   *
   * @param file the path
   * @return the bytes written
   * @throws IOException if it cannot be written
   * @throws EnforcementFileException if the file would be larger than {@link #MAX_BYTES}
   */
  public byte[] writePrecompiled(Path file) throws IOException {
    byte[] bytes = toJson().getBytes(StandardCharsets.UTF_8);
    if (bytes.length > MAX_BYTES) {
      throw new EnforcementFileException(List.of(String.format(Locale.ROOT,
          "%s: expected at most %d bytes but found %d", file, MAX_BYTES, bytes.length)));
    }
    AtomicFiles.write(file, bytes);
    return bytes;
  }

}
