package dev.tourniquet.feed.mitigation;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tourniquet.rules.Problem;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/**
 * A mitigation: what a publisher signs and an agent applies. It is read from a document in the
 * {@code tourniquet-mitigation/1} schema ({@link MitigationParser}, documented field by field in
 * {@code docs/mitigation-format.md}) and written back canonically ({@link MitigationWriter}).
 *
 * <p>The constructor enforces every rule of the schema, so a mitigation built in code is exactly as valid
 * as a parsed one, and {@code MitigationParser.parse(MitigationWriter.write(m))} equals {@code m}.
 *
 * @param id the identifier, e.g. {@code TQ-2026-0001} or a vendor's {@code M1}: 1 to 64 of
 *     {@code [A-Za-z0-9._-]} starting with a letter or digit, without {@code ..}, safe as a file name on
 *     every system; a feed holds it as {@code mitigations/<id>.json} and treats ids that differ only in case
 *     as the same
 * @param revision the revision, from 1; each change to a published mitigation raises it, and
 *     {@link #appliedId()} reads {@code M1.2}
 * @param title a one-line title, 1 to 200 characters
 * @param description what the flaw is, what the mitigation does and what it breaks, 1 to 20,000 characters
 * @param cves the CVE IDs it mitigates, at most 64, each once (may be empty before an ID is assigned)
 * @param severity how urgent it is
 * @param references https URLs of advisories and write-ups, at most 32, each once (the host ignoring case)
 * @param applicability the product and its affected versions
 * @param actions what the mitigation does, 1 to 64 actions, at most one {@code request-rules} and one
 *     {@code response-rules}
 * @param mode the publisher's default: enforce, or only audit (log what would happen)
 * @param expires when the mitigation stops applying, if it should
 * @param extensions publisher-specific data agents ignore: name to compact JSON value, at most 64
 */
public record Mitigation(
    String id,
    int revision,
    String title,
    String description,
    List<String> cves,
    Severity severity,
    List<String> references,
    Applicability applicability,
    List<Action> actions,
    Mode mode,
    Optional<Instant> expires,
    Map<String, String> extensions) {

  /** The value of the document's {@code schema} field that this version reads and writes. */
  public static final String SCHEMA = Fields.SCHEMA;

  /**
   * Validates every field.
   *
   * @throws IllegalArgumentException naming the first field that breaks the schema's rules (the actions
   *     have validated themselves, rule sets included, when they were built)
   */
  public Mitigation {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(title, "title");
    Objects.requireNonNull(description, "description");
    Objects.requireNonNull(severity, "severity");
    Objects.requireNonNull(applicability, "applicability");
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(expires, "expires");
    cves = List.copyOf(cves);
    references = List.copyOf(references);
    actions = List.copyOf(actions);
    Fields.require("id", Fields.id(id));
    Fields.require("revision", revisionProblem(revision));
    Fields.require("title", Fields.title(title));
    Fields.require("description", Fields.description(description));
    Fields.require("cves", countProblem(cves.size(), Fields.MAX_CVES, "CVE IDs"));
    for (int i = 0; i < cves.size(); i++) {
      Fields.require("cves[" + i + "]", Fields.cve(cves.get(i)));
      Fields.require("cves[" + i + "]", duplicateCveProblem(cves, i));
    }
    Fields.require("references", countProblem(references.size(), Fields.MAX_REFERENCES, "references"));
    for (int i = 0; i < references.size(); i++) {
      Fields.require("references[" + i + "]", Fields.reference(references.get(i)));
      Fields.require("references[" + i + "]", duplicateReferenceProblem(references, i));
    }
    for (int i = 0; i < actions.size(); i++) {
      Objects.requireNonNull(actions.get(i), "actions[" + i + "]");
    }
    List<Problem> problems = actionProblems(actions);
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(problems.get(0).toString());
    }
    extensions = canonicalExtensions(extensions);
  }

  /**
   * What is wrong with a mitigation id, for a caller that takes one from a person (an operator's {@code
   * tourniquet block ID}) before anything is done with it.
   *
   * @param id the id to check
   * @return the problem ("expected 1 to 64 letters, …, but found …"), or empty if it is a valid id
   */
  public static Optional<String> idProblem(String id) {
    return Optional.ofNullable(Fields.id(Objects.requireNonNull(id, "id")));
  }

  /** How urgent a mitigation is. */
  public enum Severity {
    /** Low. */
    LOW,
    /** Medium. */
    MEDIUM,
    /** High. */
    HIGH,
    /** Critical: exploited or trivially exploitable, severe impact. */
    CRITICAL;

    /**
     * Returns the name the document uses.
     *
     * @return e.g. {@code high}
     */
    public String jsonName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** What an agent does with the actions by default; an organisation's policy may override it. */
  public enum Mode {
    /** Apply the actions. */
    ENFORCE,
    /** Apply nothing; log and count what the actions would have done. */
    AUDIT;

    /**
     * Returns the name the document uses.
     *
     * @return e.g. {@code enforce}
     */
    public String jsonName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * Returns the id and revision as agents report an applied mitigation, e.g. {@code M1.2}.
   *
   * @return {@code id.revision}
   */
  public String appliedId() {
    return id + "." + revision;
  }

  /**
   * Returns the feed's target path for this mitigation.
   *
   * @return {@code mitigations/<id>.json}
   */
  public String targetName() {
    return "mitigations/" + id + ".json";
  }

  /**
   * Tells whether the mitigation applies to a version of its product (see {@link Applicability}). The
   * caller checks the product name itself.
   *
   * @param version the installed version
   * @return true if the version is affected
   */
  public boolean applies(Version version) {
    return applicability.applies(version);
  }

  /**
   * Tells whether a version of the product carries the fix, so the mitigation should be removed from it.
   *
   * @param version the installed version
   * @return true if the version is fixed
   */
  public boolean isFixedIn(Version version) {
    return applicability.isFixedIn(version);
  }

  /**
   * Tells whether the mitigation has expired at a given time.
   *
   * @param now the time
   * @return true if it has an expiry at or before {@code now}
   */
  public boolean isExpiredAt(Instant now) {
    return expires.map(e -> !now.isBefore(e)).orElse(false);
  }

  static String revisionProblem(long revision) {
    if (revision < 1 || revision > Integer.MAX_VALUE) {
      return "expected a revision from 1 to " + Integer.MAX_VALUE + " but found " + revision;
    }
    return null;
  }

  static String countProblem(int count, int max, String what) {
    if (count > max) {
      return "expected at most " + max + " " + what + " but found " + count;
    }
    return null;
  }

  /**
   * Returns why CVE ID {@code i} repeats an earlier one, or null. CVE IDs ignore case, as CVE defines them
   * (the format admits only the upper-case form anyway).
   */
  static String duplicateCveProblem(List<String> cves, int i) {
    return duplicateProblem(cves, i, cve -> cve.toUpperCase(Locale.ROOT), "each value once");
  }

  /**
   * Returns why reference {@code i} names the same URL as an earlier one, or null. Only the scheme and the
   * host ignore case (RFC 3986 section 6.2.2.1); two URLs whose paths or queries differ in case are two
   * resources, and a publisher may cite both.
   */
  static String duplicateReferenceProblem(List<String> references, int i) {
    return duplicateProblem(references, i, Fields::referenceKey, "each URL once (the host ignoring case)");
  }

  private static String duplicateProblem(List<String> values, int i, UnaryOperator<String> key, String expected) {
    String k = key.apply(values.get(i));
    for (int j = 0; j < i; j++) {
      if (key.apply(values.get(j)).equals(k)) {
        return "expected " + expected + " but found " + Fields.quote(values.get(i)) + " again after index " + j;
      }
    }
    return null;
  }

  /**
   * The rules across actions: how many, one rule action per direction, no target twice. Null entries
   * (actions that did not parse) are skipped.
   */
  static List<Problem> actionProblems(List<Action> actions) {
    List<Problem> problems = new ArrayList<>();
    if (actions.isEmpty() || actions.size() > Fields.MAX_ACTIONS) {
      problems.add(new Problem("actions", "expected 1 to " + Fields.MAX_ACTIONS + " actions but found "
          + actions.size()));
      return problems;
    }
    Map<String, Integer> seen = new HashMap<>();
    for (int i = 0; i < actions.size(); i++) {
      Action action = actions.get(i);
      if (action == null) {
        continue;
      }
      String key;
      String why;
      if (action instanceof Action.RequestRules) {
        key = "request-rules";
        why = "at most one request-rules action (put every inbound rule in one rule set)";
      } else if (action instanceof Action.ResponseRules) {
        key = "response-rules";
        why = "at most one response-rules action (put every outbound rule in one rule set)";
      } else if (action instanceof Action.DisableService s) {
        key = "disable-service " + s.service().toLowerCase(Locale.ROOT);
        why = "each service disabled once";
      } else if (action instanceof Action.DisableEndpoint e) {
        key = "disable-endpoint " + e.path().toLowerCase(Locale.ROOT);
        why = "each path disabled once";
      } else {
        key = "auth-policy " + ((Action.AuthPolicy) action).path().toLowerCase(Locale.ROOT);
        why = "one auth-policy per path (list every refusal in it)";
      }
      Integer earlier = seen.putIfAbsent(key, i);
      if (earlier != null) {
        problems.add(new Problem("actions[" + i + "]", "expected " + why + " but found another like actions["
            + earlier + "]"));
      }
    }
    return problems;
  }

  /** Validates extensions and rewrites each value compactly, so equal data gives equal mitigations. */
  private static Map<String, String> canonicalExtensions(Map<String, String> extensions) {
    Objects.requireNonNull(extensions, "extensions");
    Fields.require("extensions", countProblem(extensions.size(), Fields.MAX_EXTENSIONS, "extensions"));
    Map<String, String> canonical = new TreeMap<>();
    Set<String> lowerNames = new HashSet<>();
    for (Map.Entry<String, String> entry : extensions.entrySet()) {
      String name = Objects.requireNonNull(entry.getKey(), "extension name");
      String path = "extensions." + name;
      Fields.require(path, Fields.extensionName(name));
      if (!lowerNames.add(name.toLowerCase(Locale.ROOT))) {
        throw new IllegalArgumentException(path + ": expected each extension name once, ignoring case, but found "
            + Fields.quote(name) + " twice");
      }
      JsonNode value;
      try {
        value = JsonText.parse(Objects.requireNonNull(entry.getValue(), path));
      } catch (JsonProcessingException e) {
        throw new IllegalArgumentException(path + ": expected a JSON value but found a syntax error: "
            + e.getOriginalMessage().replaceAll("\\s+", " "));
      }
      if (value == null || value.isMissingNode()) {
        throw new IllegalArgumentException(path + ": expected a JSON value but found nothing");
      }
      // The value sits two levels down in the document (root, extensions), under the same depth cap.
      if (JsonText.depth(value) > Fields.MAX_DEPTH - 2) {
        throw new IllegalArgumentException(path + ": expected a value nested at most " + (Fields.MAX_DEPTH - 2)
            + " deep but found " + JsonText.depth(value));
      }
      String bad = MitigationParser.unpairedSurrogate(value);
      if (bad != null) {
        throw new IllegalArgumentException(path + ": " + bad);
      }
      canonical.put(name, JsonText.compact(value));
    }
    return Collections.unmodifiableMap(canonical);
  }
}
