package dev.tourniquet.rules;

import dev.tourniquet.rules.json.Json;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The native JSON form of a {@link RuleSet}, documented in {@code docs/rules-format.md}. It has the same
 * model as IIS XML, with the same names and defaults, so a rule set converts either way without loss:
 * {@code read(write(r))} equals {@code r}. Reading is strict: an unknown key, a value of the wrong type,
 * {@code null} (never taken for an absent key) or an unknown enum name is a {@link Problem} naming its path,
 * such as {@code rules[2].conditions.items[0].pattern}.
 */
public final class RuleJson {
  /** The value of the optional {@code format} key. */
  public static final String FORMAT = "tourniquet-rules/1";

  private RuleJson() {}

  /**
   * Writes a rule set as JSON, with every field explicit except an outbound rule's {@code preCondition}, which
   * is left out when the rule has none.
   *
   * @param ruleSet the rule set
   * @return the JSON text, ending with a newline
   */
  public static String write(RuleSet ruleSet) {
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("format", FORMAT);
    root.put("globalRules", ruleSet.globalRules().stream().map(RuleJson::inbound).toList());
    root.put("rules", ruleSet.rules().stream().map(RuleJson::inbound).toList());
    root.put("preConditions", ruleSet.preConditions().stream().map(RuleJson::preCondition).toList());
    root.put("outboundRules", ruleSet.outboundRules().stream().map(RuleJson::outbound).toList());
    StringBuilder out = new StringBuilder();
    Json.write(root, out, 0);
    return out.append('\n').toString();
  }

  private static Map<String, Object> inbound(InboundRule rule) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", rule.name());
    m.put("enabled", rule.enabled());
    m.put("patternSyntax", rule.patternSyntax().iisName());
    m.put("stopProcessing", rule.stopProcessing());
    Map<String, Object> match = new LinkedHashMap<>();
    match.put("url", rule.match().url());
    match.put("ignoreCase", rule.match().ignoreCase());
    match.put("negate", rule.match().negate());
    m.put("match", match);
    m.put("conditions", conditions(rule.conditions()));
    Map<String, Object> action = new LinkedHashMap<>();
    action.put("type", rule.action().typeName());
    if (rule.action() instanceof InboundAction.Rewrite rw) {
      action.put("url", rw.url());
      action.put("appendQueryString", rw.appendQueryString());
    } else if (rule.action() instanceof InboundAction.Redirect rd) {
      action.put("url", rd.url());
      action.put("appendQueryString", rd.appendQueryString());
      action.put("redirectType", rd.redirectType().iisName());
    } else if (rule.action() instanceof InboundAction.CustomResponse cr) {
      action.put("statusCode", cr.statusCode());
      action.put("subStatusCode", cr.subStatusCode());
      action.put("statusReason", cr.statusReason());
      action.put("statusDescription", cr.statusDescription());
    }
    m.put("action", action);
    return m;
  }

  private static Map<String, Object> conditions(Conditions c) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("logicalGrouping", c.logicalGrouping().iisName());
    m.put("trackAllCaptures", c.trackAllCaptures());
    m.put("items", c.items().stream().map(RuleJson::condition).toList());
    return m;
  }

  private static Map<String, Object> condition(Condition c) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("input", c.input());
    m.put("pattern", c.pattern());
    m.put("ignoreCase", c.ignoreCase());
    m.put("negate", c.negate());
    return m;
  }

  private static Map<String, Object> preCondition(PreCondition pc) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", pc.name());
    m.put("logicalGrouping", pc.logicalGrouping().iisName());
    m.put("patternSyntax", pc.patternSyntax().iisName());
    m.put("items", pc.items().stream().map(RuleJson::condition).toList());
    return m;
  }

  private static Map<String, Object> outbound(OutboundRule rule) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", rule.name());
    m.put("enabled", rule.enabled());
    m.put("patternSyntax", rule.patternSyntax().iisName());
    m.put("stopProcessing", rule.stopProcessing());
    // Absent when the rule has none: the reader takes null for a mistake, never for "none".
    rule.preCondition().ifPresent(p -> m.put("preCondition", p));
    Map<String, Object> match = new LinkedHashMap<>();
    match.put("serverVariable", rule.match().serverVariable());
    match.put("pattern", rule.match().pattern());
    match.put("ignoreCase", rule.match().ignoreCase());
    match.put("negate", rule.match().negate());
    m.put("match", match);
    m.put("conditions", conditions(rule.conditions()));
    Map<String, Object> action = new LinkedHashMap<>();
    action.put("type", rule.action().typeName());
    if (rule.action() instanceof OutboundAction.Rewrite rw) {
      action.put("value", rw.value());
    }
    m.put("action", action);
    return m;
  }

  /**
   * Reads a rule set from its JSON form.
   *
   * @param json the JSON text
   * @param source a name for the text in error messages, such as its file name
   * @return the rule set
   * @throws RuleValidationException if the text is not valid JSON or not a valid rule set, naming each
   *     problem's path
   */
  public static RuleSet read(String json, String source) {
    Object root;
    try {
      root = Json.parse(json);
    } catch (Json.SyntaxError e) {
      throw new RuleValidationException(List.of(new Problem(source, "not valid JSON: " + e.getMessage())));
    }
    return readTree(root, source);
  }

  /**
   * Reads a rule set from JSON another parser has already read, such as a rule set embedded in a larger
   * document, with the same strictness as {@link #read(String, String)} and problems located by their path
   * inside the rule set rather than by a position in text that was never the input.
   *
   * <p>The tree holds what {@link Json#parse} returns: {@code Map<String, Object>}, {@code List<Object>},
   * {@code String}, {@code Long}, {@code Boolean} and {@code null}. A number {@link Json#parse} would refuse
   * is given as it was written: a {@link BigDecimal} when it has a fraction or an exponent ({@code 403.0},
   * {@code 4.03E+2}), a {@link BigInteger} when it has more than 18 digits. Both are problems wherever they
   * appear, as they are in the text form.
   *
   * @param tree the parsed JSON value
   * @param source a name for the rule set in error messages, such as the path of its member
   * @return the rule set
   * @throws RuleValidationException if the tree is not a valid rule set, naming each problem's path
   */
  public static RuleSet readTree(Object tree, String source) {
    Reader reader = new Reader(source);
    RuleSet ruleSet = reader.ruleSet(tree);
    if (!reader.problems.isEmpty()) {
      throw new RuleValidationException(reader.problems);
    }
    return ruleSet;
  }

  /**
   * Walks the parsed tree, recording problems by path. A key that is present must hold a value of its type:
   * {@code null} is a problem, never taken for "absent" (an author who writes {@code "negate": null} meant
   * something, and a silently applied default would be a guess).
   */
  private static final class Reader {
    private final String source;
    private final List<Problem> problems = new ArrayList<>();

    Reader(String source) {
      this.source = source;
    }

    RuleSet ruleSet(Object root) {
      Map<String, Object> m = object(root, "$", Set.of("format", "globalRules", "rules", "preConditions", "outboundRules"));
      if (m == null) {
        return RuleSet.EMPTY;
      }
      if (m.containsKey("format") && !FORMAT.equals(m.get("format"))) {
        Object format = m.get("format");
        problem("format", (format instanceof String ? "\"" + format + "\"" : found(format)) + "; expected \"" + FORMAT + "\"");
      }
      List<InboundRule> global = new ArrayList<>();
      List<InboundRule> rules = new ArrayList<>();
      List<PreCondition> pre = new ArrayList<>();
      List<OutboundRule> out = new ArrayList<>();
      each(m, "globalRules", "", (item, path) -> add(global, inbound(item, path)));
      each(m, "rules", "", (item, path) -> add(rules, inbound(item, path)));
      each(m, "preConditions", "", (item, path) -> add(pre, preCondition(item, path)));
      each(m, "outboundRules", "", (item, path) -> add(out, outbound(item, path)));
      return new RuleSet(global, rules, pre, out);
    }

    private static <T> void add(List<T> list, T item) {
      if (item != null) {
        list.add(item);
      }
    }

    private interface ItemReader {
      void read(Object item, String path);
    }

    /** Reads each item of an optional array member; every item, {@code null} included, is read. */
    private void each(Map<String, Object> m, String key, String path, ItemReader reader) {
      if (!m.containsKey(key)) {
        return;
      }
      String at = at(path, key);
      Object value = m.get(key);
      if (!(value instanceof List<?> list)) {
        problem(at, found(value) + "; expected an array" + (value == null ? " (leave the key out for none)" : ""));
        return;
      }
      for (int i = 0; i < list.size(); i++) {
        reader.read(list.get(i), at + "[" + i + "]");
      }
    }

    private InboundRule inbound(Object item, String path) {
      Map<String, Object> m = object(item, path, Set.of("name", "enabled", "patternSyntax", "stopProcessing", "match",
          "conditions", "action"));
      if (m == null) {
        return null;
      }
      int before = problems.size();
      String name = string(m, "name", path, null);
      boolean enabled = bool(m, "enabled", path, true);
      PatternSyntax syntax = syntax(m, path);
      boolean stop = bool(m, "stopProcessing", path, false);
      UrlMatch match = null;
      Map<String, Object> mm = objectMember(m, "match", path, Set.of("url", "ignoreCase", "negate"));
      if (mm != null) {
        String url = string(mm, "url", path + ".match", null);
        if (url != null) {
          match = new UrlMatch(url, bool(mm, "ignoreCase", path + ".match", true), bool(mm, "negate", path + ".match", false));
        }
      }
      Conditions conditions = conditions(m, path);
      InboundAction action = inboundAction(objectMember(m, "action", path, Set.of("type", "url", "appendQueryString",
          "redirectType", "statusCode", "subStatusCode", "statusReason", "statusDescription")), path + ".action");
      if (problems.size() > before || match == null || action == null) {
        return null;
      }
      return new InboundRule(name, enabled, syntax, stop, match, conditions, action);
    }

    private InboundAction inboundAction(Map<String, Object> m, String path) {
      if (m == null) {
        return null;
      }
      String type = string(m, "type", path, null);
      if (type == null) {
        return null;
      }
      switch (type) {
        case "None":
          return new InboundAction.None();
        case "Rewrite": {
          String url = string(m, "url", path, null);
          return url == null ? null : new InboundAction.Rewrite(url, bool(m, "appendQueryString", path, true));
        }
        case "Redirect": {
          String rt = string(m, "redirectType", path, "Permanent");
          RedirectType redirectType = null;
          for (RedirectType t : RedirectType.values()) {
            if (t.iisName().equals(rt)) {
              redirectType = t;
            }
          }
          if (redirectType == null) {
            problem(path + ".redirectType", "\"" + rt + "\"; expected Permanent, Found, SeeOther or Temporary");
            return null;
          }
          String url = string(m, "url", path, null);
          return url == null ? null : new InboundAction.Redirect(url, bool(m, "appendQueryString", path, true), redirectType);
        }
        case "CustomResponse": {
          Long status = integer(m, "statusCode", path, null);
          Long sub = integer(m, "subStatusCode", path, 0L);
          String reason = string(m, "statusReason", path, "");
          String description = string(m, "statusDescription", path, "");
          if (status == null || sub == null) {
            return null;
          }
          return new InboundAction.CustomResponse(status.intValue(), sub.intValue(), reason, description);
        }
        case "AbortRequest":
          return new InboundAction.AbortRequest();
        default:
          problem(path + ".type", "\"" + type + "\"; expected None, Rewrite, Redirect, CustomResponse or AbortRequest");
          return null;
      }
    }

    /** The optional {@code conditions} member of a rule: none when absent. */
    private Conditions conditions(Map<String, Object> rule, String path) {
      if (!rule.containsKey("conditions")) {
        return Conditions.NONE;
      }
      String at = path + ".conditions";
      Map<String, Object> m = object(rule.get("conditions"), at, Set.of("logicalGrouping", "trackAllCaptures", "items"));
      if (m == null) {
        return Conditions.NONE;
      }
      LogicalGrouping grouping = grouping(m, at);
      boolean trackAll = bool(m, "trackAllCaptures", at, false);
      return new Conditions(grouping, trackAll, items(m, at));
    }

    private List<Condition> items(Map<String, Object> m, String path) {
      List<Condition> items = new ArrayList<>();
      each(m, "items", path, (item, p) -> {
        Map<String, Object> c = object(item, p, Set.of("input", "pattern", "ignoreCase", "negate"));
        if (c != null) {
          String input = string(c, "input", p, null);
          String pattern = string(c, "pattern", p, null);
          boolean ignoreCase = bool(c, "ignoreCase", p, true);
          boolean negate = bool(c, "negate", p, false);
          if (input != null && pattern != null) {
            items.add(new Condition(input, pattern, ignoreCase, negate));
          }
        }
      });
      return items;
    }

    private PreCondition preCondition(Object item, String path) {
      Map<String, Object> m = object(item, path, Set.of("name", "logicalGrouping", "patternSyntax", "items"));
      if (m == null) {
        return null;
      }
      String name = string(m, "name", path, null);
      LogicalGrouping grouping = grouping(m, path);
      PatternSyntax syntax = syntax(m, path);
      List<Condition> items = items(m, path);
      return name == null ? null : new PreCondition(name, grouping, syntax, items);
    }

    private OutboundRule outbound(Object item, String path) {
      Map<String, Object> m = object(item, path, Set.of("name", "enabled", "patternSyntax", "stopProcessing",
          "preCondition", "match", "conditions", "action"));
      if (m == null) {
        return null;
      }
      int before = problems.size();
      String name = string(m, "name", path, null);
      boolean enabled = bool(m, "enabled", path, true);
      PatternSyntax syntax = syntax(m, path);
      boolean stop = bool(m, "stopProcessing", path, false);
      // Absent means none; so does "", as IIS reads preCondition="".
      Optional<String> pre = m.containsKey("preCondition")
          ? Optional.ofNullable(string(m, "preCondition", path, null)).filter(s -> !s.isEmpty())
          : Optional.empty();
      HeaderMatch match = null;
      Map<String, Object> mm = objectMember(m, "match", path, Set.of("serverVariable", "pattern", "ignoreCase", "negate"));
      if (mm != null) {
        String variable = string(mm, "serverVariable", path + ".match", null);
        String pattern = string(mm, "pattern", path + ".match", null);
        boolean ignoreCase = bool(mm, "ignoreCase", path + ".match", true);
        boolean negate = bool(mm, "negate", path + ".match", false);
        if (variable != null && pattern != null) {
          match = new HeaderMatch(variable, pattern, ignoreCase, negate);
        }
      }
      Conditions conditions = conditions(m, path);
      OutboundAction action = null;
      Map<String, Object> am = objectMember(m, "action", path, Set.of("type", "value"));
      if (am != null) {
        String type = string(am, "type", path + ".action", null);
        if ("Rewrite".equals(type)) {
          action = new OutboundAction.Rewrite(string(am, "value", path + ".action", ""));
        } else if ("None".equals(type)) {
          action = new OutboundAction.None();
        } else if (type != null) {
          problem(path + ".action.type", "\"" + type + "\"; expected Rewrite or None");
        }
      }
      if (problems.size() > before || name == null || match == null || action == null) {
        return null;
      }
      return new OutboundRule(name, enabled, syntax, stop, pre, match, conditions, action);
    }

    private PatternSyntax syntax(Map<String, Object> m, String path) {
      String v = string(m, "patternSyntax", path, "ECMAScript");
      for (PatternSyntax s : PatternSyntax.values()) {
        if (s.iisName().equals(v)) {
          return s;
        }
      }
      problem(path + ".patternSyntax", "\"" + v + "\"; expected ECMAScript, Wildcard or ExactMatch");
      return PatternSyntax.ECMA_SCRIPT;
    }

    private LogicalGrouping grouping(Map<String, Object> m, String path) {
      String v = string(m, "logicalGrouping", path, "MatchAll");
      for (LogicalGrouping g : LogicalGrouping.values()) {
        if (g.iisName().equals(v)) {
          return g;
        }
      }
      problem(path + ".logicalGrouping", "\"" + v + "\"; expected MatchAll or MatchAny");
      return LogicalGrouping.MATCH_ALL;
    }

    /** A required member that must hold an object. */
    private Map<String, Object> objectMember(Map<String, Object> m, String key, String path, Set<String> allowed) {
      if (!m.containsKey(key)) {
        problem(path + "." + key, "missing; expected an object");
        return null;
      }
      return object(m.get(key), path + "." + key, allowed);
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> object(Object value, String path, Set<String> allowed) {
      if (!(value instanceof Map<?, ?>)) {
        problem(path, found(value) + "; expected an object");
        return null;
      }
      Map<String, Object> m = (Map<String, Object>) value;
      for (String key : m.keySet()) {
        if (!allowed.contains(key)) {
          problem(path + "." + key, "unknown key; expected one of " + allowed.stream().sorted().toList());
        }
      }
      return m;
    }

    /**
     * A string member; {@code fallback} when absent, which is a problem when the fallback is null (the
     * member is required). Present, it must be a string.
     */
    private String string(Map<String, Object> m, String key, String path, String fallback) {
      if (!m.containsKey(key)) {
        if (fallback == null) {
          problem(path + "." + key, "missing; expected a string");
        }
        return fallback;
      }
      Object v = m.get(key);
      if (!(v instanceof String s)) {
        wrongType(path + "." + key, v, "a string", fallback == null ? null : "\"" + fallback + "\"");
        return fallback;
      }
      return s;
    }

    private boolean bool(Map<String, Object> m, String key, String path, boolean fallback) {
      if (!m.containsKey(key)) {
        return fallback;
      }
      Object v = m.get(key);
      if (!(v instanceof Boolean b)) {
        wrongType(path + "." + key, v, "true or false", Boolean.toString(fallback));
        return fallback;
      }
      return b;
    }

    private Long integer(Map<String, Object> m, String key, String path, Long fallback) {
      if (!m.containsKey(key)) {
        if (fallback == null) {
          problem(path + "." + key, "missing; expected a whole number");
        }
        return fallback;
      }
      Object v = m.get(key);
      if (!(v instanceof Long l) || l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
        wrongType(path + "." + key, v, "a whole number", fallback == null ? null : fallback.toString());
        return null;
      }
      return l;
    }

    /** Reports a value of the wrong type; for {@code null}, names the default that leaving the key out gives. */
    private void wrongType(String path, Object v, String expected, String fallback) {
      String hint = v == null && fallback != null ? " (leave the key out for the default " + fallback + ")" : "";
      problem(path, found(v) + "; expected " + expected + hint);
    }

    /** What a value is, for "… ; expected …": {@code null}, or its kind with an article. */
    private static String found(Object v) {
      if (v == null) {
        return "null";
      }
      if (v instanceof String) {
        return "a string";
      }
      if (v instanceof Boolean) {
        return "a boolean";
      }
      if (v instanceof Long) {
        return "a number";
      }
      // The text form refuses these numbers as it parses them; a tree from another parser may hold them.
      if (v instanceof BigDecimal d) {
        return "the number " + d + ", written with a fraction or exponent";
      }
      if (v instanceof BigInteger i) {
        return "the number " + i + ", of more than 18 digits";
      }
      if (v instanceof List<?>) {
        return "an array";
      }
      return "an object";
    }

    private static String at(String path, String key) {
      return path.isEmpty() ? key : path + "." + key;
    }

    private void problem(String path, String message) {
      problems.add(new Problem(source + ": " + path, message));
    }
  }
}
