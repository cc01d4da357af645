package dev.tourniquet.feed.mitigation;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.rules.Problem;
import dev.tourniquet.rules.RuleJson;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.RuleValidationException;
import dev.tourniquet.rules.RuleXmlReader;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a mitigation document ({@code tourniquet-mitigation/1}, see {@code docs/mitigation-format.md}),
 * checking everything before anything is applied: the publisher runs it before signing, the agent again
 * before applying.
 *
 * <p>The bytes must be at most 1 MiB of UTF-8 holding one JSON object, nested at most 32 deep, without
 * duplicate keys. Jackson only tokenises; the types are checked here, field by field, so that each
 * problem names its JSON path and what is expected ({@code actions[0].rules: rule "X" <match url>: …},
 * {@code applicability.versions[1].fixed: expected a version … but found "10.1.24-beta" …}). Unknown
 * fields are errors everywhere except inside {@code extensions}. Every problem is collected, not only the
 * first, and every rule set is compiled under the rule engine's linear-time rules.
 */
public final class MitigationParser {
  /** The largest document read, in bytes: 1 MiB. */
  public static final int MAX_BYTES = Fields.MAX_DOCUMENT_BYTES;

  private static final List<String> TOP = List.of("schema", "id", "revision", "title", "description", "cves",
      "severity", "references", "applicability", "actions", "mode", "expires", "extensions");
  private static final Pattern XML_LINE = Pattern.compile(":([0-9]+)$");

  private MitigationParser() {}

  /**
   * Parses and validates a mitigation document.
   *
   * @param bytes the document, UTF-8 JSON (a leading byte order mark is ignored)
   * @return the mitigation
   * @throws MitigationException if the document is invalid, with every problem found, each located by
   *     its JSON path ({@code document} for the document as a whole)
   */
  public static Mitigation parse(byte[] bytes) throws MitigationException {
    if (bytes.length > MAX_BYTES) {
      throw fail("document", "expected at most " + MAX_BYTES + " bytes but found " + bytes.length);
    }
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw fail("document", "expected UTF-8 text but found bytes that are not UTF-8");
    }
    if (text.startsWith("\uFEFF")) {
      text = text.substring(1);
    }
    JsonNode root;
    try (JsonParser parser = JsonText.MAPPER.createParser(text)) {
      root = JsonText.MAPPER.readTree(parser);
    } catch (JsonProcessingException e) {
      throw syntaxError(e);
    } catch (IOException e) {
      throw new IllegalStateException("reading a string cannot fail", e);
    }
    if (root == null || root.isMissingNode()) {
      throw fail("document", "expected a JSON object but found no content");
    }
    if (!root.isObject()) {
      throw fail("document", "expected a JSON object but found " + kind(root));
    }
    List<Problem> surrogates = new ArrayList<>();
    findUnpairedSurrogates(root, "", surrogates);
    if (!surrogates.isEmpty()) {
      throw new MitigationException(surrogates);
    }
    Reader reader = new Reader();
    Mitigation mitigation = reader.mitigation((ObjectNode) root);
    if (!reader.problems.isEmpty()) {
      throw new MitigationException(reader.problems);
    }
    return mitigation;
  }

  private static MitigationException fail(String location, String message) {
    return new MitigationException(List.of(new Problem(location, message)));
  }

  private static MitigationException syntaxError(JsonProcessingException e) {
    String path = "";
    if (e.getProcessor() instanceof JsonParser p) {
      path = path(p.getParsingContext());
    }
    String message = oneLine(e.getOriginalMessage());
    if (e instanceof StreamConstraintsException && message.contains("nesting depth")) {
      return fail("document", "expected JSON nested at most " + Fields.MAX_DEPTH + " deep but found deeper nesting");
    }
    Matcher duplicate = Pattern.compile("Duplicate (?:field|Object property) [\"']([^\"']*)[\"']").matcher(message);
    if (duplicate.find()) {
      // The parser stands on the repeated key: its path names the field precisely.
      return fail(path.isEmpty() ? "document" : path, "expected each key once but found " + Fields.quote(duplicate.group(1)) + " twice");
    }
    String where = e.getLocation() == null ? ""
        : String.format(Locale.ROOT, " at line %d, column %d", e.getLocation().getLineNr(),
            e.getLocation().getColumnNr());
    if (e instanceof MismatchedInputException && message.startsWith("Trailing token")) {
      // Jackson words this in its own terms (the bound type, the feature's name); a publisher needs
      // only where the second value starts.
      return fail("document", "expected nothing after the JSON object but found more content" + where);
    }
    return fail("document", "expected JSON but found a syntax error" + where + ": " + message);
  }

  /** The JSON path of a parser position, e.g. {@code actions[0].kind}. */
  private static String path(JsonStreamContext context) {
    List<String> parts = new ArrayList<>();
    for (JsonStreamContext c = context; c != null && !c.inRoot(); c = c.getParent()) {
      if (c.inArray()) {
        parts.add(0, "[" + Math.max(c.getCurrentIndex(), 0) + "]");
      } else if (c.inObject() && c.getCurrentName() != null) {
        parts.add(0, "." + c.getCurrentName());
      }
    }
    String joined = String.join("", parts);
    return joined.startsWith(".") ? joined.substring(1) : joined;
  }

  /** Describes the first unpaired surrogate in a JSON value, or returns null. */
  static String unpairedSurrogate(JsonNode node) {
    List<Problem> found = new ArrayList<>();
    findUnpairedSurrogates(node, "", found);
    return found.isEmpty() ? null : found.get(0).message();
  }

  /** JSON escapes can spell a lone surrogate, which no UTF-8 document can carry. */
  private static void findUnpairedSurrogates(JsonNode node, String path, List<Problem> problems) {
    if (node.isTextual()) {
      String bad = Fields.unpairedSurrogate(node.textValue());
      if (bad != null) {
        problems.add(new Problem(path.isEmpty() ? "document" : path, "expected Unicode text but found " + bad));
      }
    } else if (node.isArray()) {
      for (int i = 0; i < node.size(); i++) {
        findUnpairedSurrogates(node.get(i), path + "[" + i + "]", problems);
      }
    } else if (node.isObject()) {
      for (Map.Entry<String, JsonNode> field : node.properties()) {
        String child = child(path, field.getKey());
        String bad = Fields.unpairedSurrogate(field.getKey());
        if (bad != null) {
          problems.add(new Problem(path.isEmpty() ? "document" : path, "expected keys in Unicode text but found "
              + bad));
        }
        findUnpairedSurrogates(field.getValue(), child, problems);
      }
    }
  }

  static String child(String path, String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  /** Describes a JSON value for "but found …". */
  static String kind(JsonNode node) {
    if (node == null || node.isMissingNode()) {
      return "nothing";
    }
    if (node.isObject()) {
      return "an object";
    }
    if (node.isArray()) {
      return "an array";
    }
    if (node.isTextual()) {
      return "the string " + Fields.quote(node.textValue());
    }
    if (node.isNumber()) {
      return "the number " + JsonText.compact(node);
    }
    if (node.isBoolean()) {
      return String.valueOf(node.booleanValue());
    }
    return "null";
  }

  private static String oneLine(String message) {
    return message == null ? "" : message.strip().replaceAll("\\s*\\R\\s*", " ");
  }

  /** Walks the tree, collecting problems by path; returns null where a value could not be read. */
  private static final class Reader {
    final List<Problem> problems = new ArrayList<>();

    void problem(String path, String message) {
      problems.add(new Problem(path.isEmpty() ? "document" : path, message));
    }

    /** Reports a non-null check result. */
    boolean check(String path, String problem) {
      if (problem != null) {
        problem(path, problem);
        return false;
      }
      return true;
    }

    Mitigation mitigation(ObjectNode root) {
      JsonNode schema = root.get("schema");
      if (schema == null || !schema.isTextual()) {
        problem("schema", "expected \"" + Fields.SCHEMA + "\" but found " + kind(schema));
      } else if (!schema.textValue().equals(Fields.SCHEMA)) {
        // Another schema's fields mean other things: nothing more can be checked.
        problem("schema", "expected \"" + Fields.SCHEMA + "\" but found " + Fields.quote(schema.textValue()));
        return null;
      }
      unknownFields(root, "", TOP, "; put publisher data under extensions");
      String id = text(root, "", "id", "a mitigation id such as TQ-2026-0001 or M1", Fields::id);
      Integer revision = integer(root, "", "revision", "a revision from 1", null, Mitigation::revisionProblem);
      String title = text(root, "", "title", "a one-line title", Fields::title);
      String description = text(root, "", "description", "a description", Fields::description);
      List<String> cves = textList(root, "cves", "CVE IDs", Fields.MAX_CVES, Fields::cve, Mitigation::duplicateCveProblem);
      Mitigation.Severity severity = enumValue(root, "", "severity", Mitigation.Severity.values(),
          Mitigation.Severity::jsonName, null);
      List<String> references = textList(root, "references", "references", Fields.MAX_REFERENCES,
          Fields::reference, Mitigation::duplicateReferenceProblem);
      Applicability applicability = applicability(root.get("applicability"));
      List<Action> actions = actions(root.get("actions"));
      Mitigation.Mode mode = enumValue(root, "", "mode", Mitigation.Mode.values(), Mitigation.Mode::jsonName,
          Mitigation.Mode.ENFORCE);
      Optional<Instant> expires = expires(root.get("expires"));
      Map<String, String> extensions = extensions(root.get("extensions"));
      if (!problems.isEmpty()) {
        return null;
      }
      try {
        return new Mitigation(id, revision, title, description, cves, severity, references, applicability,
            actions, mode, expires, extensions);
      } catch (IllegalArgumentException | RuleValidationException e) {
        // Every rule was checked above; a disagreement is a bug, reported rather than thrown raw.
        problem("document", oneLine(e.getMessage()));
        return null;
      }
    }

    void unknownFields(ObjectNode node, String path, List<String> allowed, String hint) {
      for (String key : (Iterable<String>) () -> node.fieldNames()) {
        if (!allowed.contains(key)) {
          problem(child(path, key), "expected one of " + String.join(", ", allowed)
              + " but found the unknown field " + Fields.quote(key) + hint);
        }
      }
    }

    /** A required object member; reports what is missing or of the wrong type. */
    JsonNode required(ObjectNode node, String path, String key, String what) {
      JsonNode value = node.get(key);
      if (value == null) {
        problem(child(path, key), "expected " + what + " but found nothing");
      }
      return value;
    }

    String text(ObjectNode node, String path, String key, String what, Function<String, String> rule) {
      JsonNode value = required(node, path, key, what);
      return value == null ? null : text(value, child(path, key), what, rule);
    }

    String text(JsonNode value, String path, String what, Function<String, String> rule) {
      if (!value.isTextual()) {
        problem(path, "expected " + what + " but found " + kind(value));
        return null;
      }
      return check(path, rule.apply(value.textValue())) ? value.textValue() : null;
    }

    /** An integer member; {@code fallback} when absent, required when the fallback is null. */
    Integer integer(ObjectNode node, String path, String key, String what, Integer fallback,
        Function<Long, String> rule) {
      JsonNode value = node.get(key);
      String at = child(path, key);
      if (value == null) {
        if (fallback == null) {
          problem(at, "expected " + what + " but found nothing");
        }
        return fallback;
      }
      if (!value.isIntegralNumber()) {
        problem(at, "expected " + what + " (a whole number) but found " + kind(value));
        return null;
      }
      BigInteger big = value.bigIntegerValue();
      if (big.bitLength() >= 63) {
        problem(at, "expected " + what + " but found the number " + big);
        return null;
      }
      long n = big.longValue();
      return check(at, rule.apply(n)) ? (int) n : null;
    }

    <E extends Enum<E>> E enumValue(ObjectNode node, String path, String key, E[] values, Function<E, String> name,
        E fallback) {
      JsonNode value = node.get(key);
      String at = child(path, key);
      List<String> names = Arrays.stream(values).map(name).toList();
      String expected = "expected " + Fields.oneOf(new LinkedHashSet<>(names));
      if (value == null) {
        if (fallback == null) {
          problem(at, expected + " but found nothing");
        }
        return fallback;
      }
      return enumOf(value, at, values, name, expected);
    }

    <E extends Enum<E>> E enumOf(JsonNode value, String at, E[] values, Function<E, String> name, String expected) {
      if (value.isTextual()) {
        for (E e : values) {
          if (name.apply(e).equals(value.textValue())) {
            return e;
          }
        }
      }
      problem(at, expected + " but found " + kind(value));
      return null;
    }

    /** An optional array of strings (empty when absent), each checked, and none a duplicate of an earlier one. */
    List<String> textList(ObjectNode node, String key, String what, int max, Function<String, String> rule,
        BiFunction<List<String>, Integer, String> duplicate) {
      JsonNode value = node.get(key);
      if (value == null) {
        return List.of();
      }
      if (!value.isArray()) {
        problem(key, "expected an array of " + what + " but found " + kind(value));
        return null;
      }
      if (!check(key, Mitigation.countProblem(value.size(), max, what))) {
        return null;
      }
      List<String> result = new ArrayList<>();
      boolean ok = true;
      for (int i = 0; i < value.size(); i++) {
        String at = key + "[" + i + "]";
        String item = text(value.get(i), at, "one of the " + what, rule);
        if (item == null) {
          ok = false;
          continue;
        }
        result.add(item);
        ok &= check(at, duplicate.apply(result, result.size() - 1));
      }
      return ok ? result : null;
    }

    ObjectNode object(JsonNode value, String path, String what) {
      if (value == null || !value.isObject()) {
        problem(path, "expected " + what + " but found " + kind(value));
        return null;
      }
      return (ObjectNode) value;
    }

    Applicability applicability(JsonNode value) {
      ObjectNode node = object(value, "applicability", "an object with product and versions");
      if (node == null) {
        return null;
      }
      unknownFields(node, "applicability", List.of("product", "versions"), "");
      String product = text(node, "applicability", "product", "a product name such as microsoft-exchange-server",
          Fields::product);
      JsonNode versions = required(node, "applicability", "versions", "an array of version ranges");
      if (versions == null) {
        return null;
      }
      if (!versions.isArray()) {
        problem("applicability.versions", "expected an array of version ranges but found " + kind(versions));
        return null;
      }
      if (!check("applicability.versions", Applicability.countProblem(versions.size()))) {
        return null;
      }
      List<VersionRange> ranges = new ArrayList<>();
      boolean ok = true;
      for (int i = 0; i < versions.size(); i++) {
        VersionRange range = range(versions.get(i), "applicability.versions[" + i + "]");
        if (range == null) {
          ok = false;
          continue;
        }
        ranges.add(range);
        if (ok) {
          ok = check("applicability.versions[" + i + "]", Applicability.overlapProblem(ranges, i));
        }
      }
      return ok && product != null ? new Applicability(product, ranges) : null;
    }

    VersionRange range(JsonNode value, String path) {
      ObjectNode node = object(value, path, "a version range such as {\"from\": \"15.2.0\", \"fixed\": \"15.2.1118.20\"}");
      if (node == null) {
        return null;
      }
      unknownFields(node, path, List.of("from", "before", "fixed"), "");
      Optional<Version> from = version(node, path, "from");
      Optional<Version> before = version(node, path, "before");
      Optional<Version> fixed = version(node, path, "fixed");
      if (from == null || before == null || fixed == null) {
        return null;
      }
      return check(path, VersionRange.problem(from, before, fixed)) ? new VersionRange(from, before, fixed) : null;
    }

    /** An optional version member: empty when absent, null when invalid. */
    Optional<Version> version(ObjectNode node, String path, String key) {
      JsonNode value = node.get(key);
      if (value == null) {
        return Optional.empty();
      }
      String text = text(value, child(path, key), "a version such as 15.2.1118.20", Version::problem);
      return text == null ? null : Optional.of(Version.parse(text));
    }

    List<Action> actions(JsonNode value) {
      if (value == null || !value.isArray()) {
        problem("actions", "expected an array of actions but found " + kind(value));
        return null;
      }
      if (value.isEmpty() || value.size() > Fields.MAX_ACTIONS) {
        problem("actions", "expected 1 to " + Fields.MAX_ACTIONS + " actions but found " + value.size());
        return null;
      }
      List<Action> actions = new ArrayList<>();
      boolean ok = true;
      for (int i = 0; i < value.size(); i++) {
        Action action = action(value.get(i), "actions[" + i + "]");
        ok &= action != null;
        actions.add(action);
      }
      // Problems across actions (a second request-rules, a service twice), among those that did parse.
      for (Problem p : Mitigation.actionProblems(actions)) {
        problem(p.location(), p.message());
        ok = false;
      }
      return ok ? actions : null;
    }

    Action action(JsonNode value, String path) {
      ObjectNode node = object(value, path, "an action object with a kind");
      if (node == null) {
        return null;
      }
      String kinds = "request-rules, response-rules, disable-service, disable-endpoint or auth-policy";
      JsonNode kind = node.get("kind");
      if (kind == null || !kind.isTextual()) {
        problem(child(path, "kind"), "expected " + kinds + " but found " + kind(kind));
        return null;
      }
      switch (kind.textValue()) {
        case "request-rules":
          return rules(node, path, true);
        case "response-rules":
          return rules(node, path, false);
        case "disable-service":
          return disableService(node, path);
        case "disable-endpoint":
          return disableEndpoint(node, path);
        case "auth-policy":
          return authPolicy(node, path);
        default:
          problem(child(path, "kind"), "expected " + kinds + " but found " + kind(kind));
          return null;
      }
    }

    Action rules(ObjectNode node, String path, boolean inbound) {
      unknownFields(node, path, List.of("kind", "rules"), "");
      String at = child(path, "rules");
      String what = "IIS XML text (starting with '<') or a rule set object in the native JSON form";
      JsonNode value = required(node, path, "rules", what);
      if (value == null) {
        return null;
      }
      RuleSet ruleSet;
      Optional<String> xml;
      try {
        if (value.isTextual() && value.textValue().stripLeading().startsWith("<")) {
          ruleSet = RuleXmlReader.read(value.textValue(), at);
          xml = Optional.of(value.textValue());
        } else if (value.isObject()) {
          // The tree as parsed, not re-serialised text: the same strictness as a standalone rule file
          // (403.0 stays a fraction), and problems at their path inside the document.
          ruleSet = RuleJson.readTree(JsonText.tree(value), at);
          xml = Optional.empty();
        } else {
          problem(at, "expected " + what + " but found " + kind(value));
          return null;
        }
      } catch (RuleValidationException e) {
        ruleProblems(at, e);
        return null;
      }
      if (!check(at, Action.directionProblem(ruleSet, inbound))) {
        return null;
      }
      try {
        return inbound ? new Action.RequestRules(ruleSet, xml) : new Action.ResponseRules(ruleSet, xml);
      } catch (RuleValidationException e) {
        ruleProblems(at, e);
        return null;
      }
    }

    /** Reports the rule engine's problems under the action's path. */
    void ruleProblems(String at, RuleValidationException e) {
      for (Problem p : e.problems()) {
        String location = p.location();
        String message = oneLine(p.message());
        if (location.equals(at) || location.equals(at + ": $")) {
          problem(at, message);
        } else if (location.startsWith(at + ": ")) {
          // The JSON form's own path inside the rule set: rules[0].match.url.
          problem(at + "." + location.substring(at.length() + 2), message);
        } else if (location.startsWith(at + ":")) {
          Matcher line = XML_LINE.matcher(location);
          problem(line.find() ? at + " (XML line " + line.group(1) + ")" : location, message);
        } else {
          // The compiler's location: rule "X" <match url>.
          problem(at + ": " + location, message);
        }
      }
    }

    Action disableService(ObjectNode node, String path) {
      unknownFields(node, path, List.of("kind", "service", "managers"), "");
      String service = text(node, path, "service", "a service name such as MSExchangeUM", Fields::service);
      Set<Action.DisableService.Manager> managers = enumList(node, path, "managers",
          Action.DisableService.Manager.values(), Action.DisableService.Manager::jsonName, "service managers");
      return service != null && managers != null ? new Action.DisableService(service, managers) : null;
    }

    Action disableEndpoint(ObjectNode node, String path) {
      unknownFields(node, path, List.of("kind", "path", "status", "appPool"), "");
      String prefix = text(node, path, "path", "a path prefix such as /ecp", Fields::path);
      Integer status = integer(node, path, "status", "an HTTP status from 400 to 599",
          Action.DisableEndpoint.DEFAULT_STATUS, n -> Fields.status((int) Math.max(Integer.MIN_VALUE,
              Math.min(Integer.MAX_VALUE, n))));
      Optional<String> appPool = Optional.empty();
      JsonNode pool = node.get("appPool");
      if (pool != null) {
        String name = text(pool, child(path, "appPool"), "an application pool name", Fields::appPool);
        if (name == null) {
          return null;
        }
        appPool = Optional.of(name);
      }
      return prefix != null && status != null ? new Action.DisableEndpoint(prefix, status, appPool) : null;
    }

    Action authPolicy(ObjectNode node, String path) {
      unknownFields(node, path, List.of("kind", "path", "refuse"), "");
      String prefix = text(node, path, "path", "a path prefix such as /ews", Fields::path);
      Set<Action.AuthPolicy.Refusal> refuse = enumList(node, path, "refuse", Action.AuthPolicy.Refusal.values(),
          Action.AuthPolicy.Refusal::jsonName, "refusals");
      return prefix != null && refuse != null ? new Action.AuthPolicy(prefix, refuse) : null;
    }

    /** A required, non-empty array of distinct enum names. */
    <E extends Enum<E>> Set<E> enumList(ObjectNode node, String path, String key, E[] values,
        Function<E, String> name, String what) {
      String at = child(path, key);
      String names = Fields.oneOf(new LinkedHashSet<>(Arrays.stream(values).map(name).toList()));
      JsonNode value = required(node, path, key, "an array of " + what + " (" + names + ")");
      if (value == null) {
        return null;
      }
      if (!value.isArray() || value.isEmpty()) {
        problem(at, "expected a non-empty array of " + what + " (" + names + ") but found "
            + (value.isArray() ? "an empty array" : kind(value)));
        return null;
      }
      if (value.size() > values.length) {
        problem(at, "expected at most " + values.length + " " + what + " but found " + value.size());
        return null;
      }
      EnumSet<E> result = EnumSet.noneOf(values[0].getDeclaringClass());
      boolean ok = true;
      for (int i = 0; i < value.size(); i++) {
        E e = enumOf(value.get(i), at + "[" + i + "]", values, name, "expected " + names);
        if (e == null) {
          ok = false;
        } else if (!result.add(e)) {
          problem(at + "[" + i + "]", "expected each value once but found " + Fields.quote(name.apply(e)) + " again");
          ok = false;
        }
      }
      return ok ? result : null;
    }

    Optional<Instant> expires(JsonNode value) {
      if (value == null) {
        return Optional.empty();
      }
      String what = "an ISO-8601 instant such as 2026-03-01T00:00:00Z";
      if (!value.isTextual()) {
        problem("expires", "expected " + what + " but found " + kind(value));
        return null;
      }
      try {
        return Optional.of(Instant.parse(value.textValue()));
      } catch (DateTimeParseException e) {
        problem("expires", "expected " + what + " (with Z or an offset) but found " + kind(value));
        return null;
      }
    }

    Map<String, String> extensions(JsonNode value) {
      if (value == null) {
        return Map.of();
      }
      if (!value.isObject()) {
        problem("extensions", "expected an object of publisher data but found " + kind(value));
        return null;
      }
      if (!check("extensions", Mitigation.countProblem(value.size(), Fields.MAX_EXTENSIONS, "extensions"))) {
        return null;
      }
      Map<String, String> result = new LinkedHashMap<>();
      Set<String> lower = new HashSet<>();
      boolean ok = true;
      for (Map.Entry<String, JsonNode> field : value.properties()) {
        String at = child("extensions", field.getKey());
        if (!check(at, Fields.extensionName(field.getKey()))) {
          ok = false;
        } else if (!lower.add(field.getKey().toLowerCase(Locale.ROOT))) {
          problem(at, "expected each extension name once, ignoring case, but found " + Fields.quote(field.getKey())
              + " twice");
          ok = false;
        } else {
          result.put(field.getKey(), JsonText.compact(field.getValue()));
        }
      }
      return ok ? result : null;
    }
  }
}
