package dev.tourniquet.rules;

import dev.tourniquet.rules.json.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The native JSON form of a {@link RuleSet}, documented in {@code docs/rules-format.md}. It has the same
 * model as IIS XML, with the same names and defaults, so a rule set converts either way without loss:
 * {@code read(write(r))} equals {@code r}. Reading is strict: an unknown key, a value of the wrong type or
 * an unknown enum name is a {@link Problem} naming its path, such as {@code rules[2].conditions.items[0].pattern}.
 */
public final class RuleJson {
  /** The value of the optional {@code format} key. */
  public static final String FORMAT = "tourniquet-rules/1";

  private RuleJson() {}

  /**
   * Writes a rule set as JSON, with every field explicit.
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
    m.put("preCondition", rule.preCondition().orElse(null));
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
    Reader reader = new Reader(source);
    RuleSet ruleSet = reader.ruleSet(root);
    if (!reader.problems.isEmpty()) {
      throw new RuleValidationException(reader.problems);
    }
    return ruleSet;
  }

  /** Walks the parsed tree, recording problems by path. */
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
        problem("format", "\"" + m.get("format") + "\"; expected \"" + FORMAT + "\"");
      }
      List<InboundRule> global = new ArrayList<>();
      List<InboundRule> rules = new ArrayList<>();
      List<PreCondition> pre = new ArrayList<>();
      List<OutboundRule> out = new ArrayList<>();
      each(m, "globalRules", (item, path) -> add(global, inbound(item, path)));
      each(m, "rules", (item, path) -> add(rules, inbound(item, path)));
      each(m, "preConditions", (item, path) -> add(pre, preCondition(item, path)));
      each(m, "outboundRules", (item, path) -> add(out, outbound(item, path)));
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

    private void each(Map<String, Object> m, String key, ItemReader reader) {
      each(m.get(key), key, reader);
    }

    private void each(Object value, String path, ItemReader reader) {
      if (value == null) {
        return;
      }
      if (!(value instanceof List<?> list)) {
        problem(path, "a " + kind(value) + "; expected an array");
        return;
      }
      for (int i = 0; i < list.size(); i++) {
        reader.read(list.get(i), path + "[" + i + "]");
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
      Map<String, Object> mm = object(require(m, "match", path), path + ".match", Set.of("url", "ignoreCase", "negate"));
      if (mm != null) {
        String url = string(mm, "url", path + ".match", null);
        if (url != null) {
          match = new UrlMatch(url, bool(mm, "ignoreCase", path + ".match", true), bool(mm, "negate", path + ".match", false));
        }
      }
      Conditions conditions = conditions(m.get("conditions"), path + ".conditions");
      InboundAction action = inboundAction(require(m, "action", path), path + ".action");
      if (problems.size() > before || match == null || action == null) {
        return null;
      }
      return new InboundRule(name, enabled, syntax, stop, match, conditions, action);
    }

    private InboundAction inboundAction(Object value, String path) {
      Map<String, Object> m = object(value, path, Set.of("type", "url", "appendQueryString", "redirectType", "statusCode",
          "subStatusCode", "statusReason", "statusDescription"));
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
          if (status == null || sub == null) {
            return null;
          }
          return new InboundAction.CustomResponse(status.intValue(), sub.intValue(), string(m, "statusReason", path, ""),
              string(m, "statusDescription", path, ""));
        }
        case "AbortRequest":
          return new InboundAction.AbortRequest();
        default:
          problem(path + ".type", "\"" + type + "\"; expected None, Rewrite, Redirect, CustomResponse or AbortRequest");
          return null;
      }
    }

    private Conditions conditions(Object value, String path) {
      if (value == null) {
        return Conditions.NONE;
      }
      Map<String, Object> m = object(value, path, Set.of("logicalGrouping", "trackAllCaptures", "items"));
      if (m == null) {
        return Conditions.NONE;
      }
      LogicalGrouping grouping = grouping(m, path);
      boolean trackAll = bool(m, "trackAllCaptures", path, false);
      return new Conditions(grouping, trackAll, items(m, path));
    }

    private List<Condition> items(Map<String, Object> m, String path) {
      List<Condition> items = new ArrayList<>();
      each(m.get("items"), path + ".items", (item, p) -> {
        Map<String, Object> c = object(item, p, Set.of("input", "pattern", "ignoreCase", "negate"));
        if (c != null) {
          String input = string(c, "input", p, null);
          String pattern = string(c, "pattern", p, null);
          if (input != null && pattern != null) {
            items.add(new Condition(input, pattern, bool(c, "ignoreCase", p, true), bool(c, "negate", p, false)));
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
      Optional<String> pre = Optional.ofNullable(string(m, "preCondition", path, ""));
      pre = pre.filter(s -> !s.isEmpty());
      HeaderMatch match = null;
      Map<String, Object> mm = object(require(m, "match", path), path + ".match",
          Set.of("serverVariable", "pattern", "ignoreCase", "negate"));
      if (mm != null) {
        String variable = string(mm, "serverVariable", path + ".match", null);
        String pattern = string(mm, "pattern", path + ".match", null);
        if (variable != null && pattern != null) {
          match = new HeaderMatch(variable, pattern, bool(mm, "ignoreCase", path + ".match", true),
              bool(mm, "negate", path + ".match", false));
        }
      }
      Conditions conditions = conditions(m.get("conditions"), path + ".conditions");
      OutboundAction action = null;
      Map<String, Object> am = object(require(m, "action", path), path + ".action", Set.of("type", "value"));
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

    private Object require(Map<String, Object> m, String key, String path) {
      Object v = m.get(key);
      if (v == null) {
        problem(path + "." + key, "missing; expected an object");
      }
      return v;
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> object(Object value, String path, Set<String> allowed) {
      if (value == null) {
        return null;
      }
      if (!(value instanceof Map<?, ?>)) {
        problem(path, "a " + kind(value) + "; expected an object");
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

    private String string(Map<String, Object> m, String key, String path, String fallback) {
      Object v = m.get(key);
      if (v == null) {
        if (fallback == null) {
          problem(path + "." + key, "missing; expected a string");
        }
        return fallback;
      }
      if (!(v instanceof String s)) {
        problem(path + "." + key, "a " + kind(v) + "; expected a string");
        return fallback;
      }
      return s;
    }

    private boolean bool(Map<String, Object> m, String key, String path, boolean fallback) {
      Object v = m.get(key);
      if (v == null) {
        return fallback;
      }
      if (!(v instanceof Boolean b)) {
        problem(path + "." + key, "a " + kind(v) + "; expected true or false");
        return fallback;
      }
      return b;
    }

    private Long integer(Map<String, Object> m, String key, String path, Long fallback) {
      Object v = m.get(key);
      if (v == null) {
        if (fallback == null) {
          problem(path + "." + key, "missing; expected a whole number");
        }
        return fallback;
      }
      if (!(v instanceof Long l) || l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
        problem(path + "." + key, "a " + kind(v) + "; expected a whole number");
        return null;
      }
      return l;
    }

    private static String kind(Object v) {
      if (v instanceof String) {
        return "string";
      }
      if (v instanceof Boolean) {
        return "boolean";
      }
      if (v instanceof Long) {
        return "number";
      }
      if (v instanceof List<?>) {
        return "array";
      }
      if (v instanceof Map<?, ?>) {
        return "object";
      }
      return "null";
    }

    private void problem(String path, String message) {
      problems.add(new Problem(source + ": " + path, message));
    }
  }
}
