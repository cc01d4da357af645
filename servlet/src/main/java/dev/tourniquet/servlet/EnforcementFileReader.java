package dev.tourniquet.servlet;

import dev.tourniquet.rules.json.Json;
import dev.tourniquet.rules.Problem;
import dev.tourniquet.rules.RuleJson;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.RuleValidationException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads the enforcement file strictly: unknown keys, missing keys, wrong types, values out of range and
 * duplicate ids are problems naming their path, all collected before failing.
 */
final class EnforcementFileReader {
  private final String source;
  private final List<String> problems = new ArrayList<>();

  EnforcementFileReader(String source) {
    this.source = source;
  }

  EnforcementFile read(String json) {
    if (json.length() > EnforcementFile.MAX_BYTES) {
      fail("$", String.format(Locale.ROOT, "expected at most %d bytes but found %d characters", EnforcementFile.MAX_BYTES, json.length()));
    }
    Object root;
    try {
      root = Json.parse(json);
    } catch (Json.SyntaxError e) {
      throw new EnforcementFileException(List.of(source + ": not valid JSON: " + e.getMessage()));
    }
    Map<String, Object> m = object(root, "$", Set.of("format", "generated", "mitigations"), Set.of("format", "generated", "mitigations"));
    if (m == null) {
      throw new EnforcementFileException(problems);
    }
    String format = string(m, "format", "format");
    if (format != null && !format.equals(EnforcementFile.FORMAT)) {
      problem("format", "expected \"" + EnforcementFile.FORMAT + "\" but found \"" + format + "\"");
    }
    Instant generated = null;
    String g = string(m, "generated", "generated");
    if (g != null) {
      try {
        generated = Instant.parse(g);
      } catch (DateTimeParseException e) {
        problem("generated", "expected an ISO-8601 instant such as 2026-11-28T05:00:00Z but found \"" + g + "\"");
      }
    }
    List<ActiveMitigation> mitigations = new ArrayList<>();
    List<Object> list = list(m.get("mitigations"), "mitigations", EnforcementFile.MAX_MITIGATIONS);
    Set<String> ids = new HashSet<>();
    if (list != null) {
      for (int i = 0; i < list.size(); i++) {
        ActiveMitigation a = mitigation(list.get(i), "mitigations[" + i + "]");
        if (a != null && !ids.add(a.id())) {
          problem("mitigations[" + i + "].id", "expected each id once but found \"" + a.id() + "\" again");
        } else if (a != null) {
          mitigations.add(a);
        }
      }
    }
    if (!problems.isEmpty()) {
      throw new EnforcementFileException(problems);
    }
    return new EnforcementFile(generated, mitigations);
  }

  private ActiveMitigation mitigation(Object item, String path) {
    Map<String, Object> m = object(item, path,
        Set.of("id", "revision", "mode", "requestRules", "responseRules", "disableEndpoints", "authPolicies"),
        Set.of("id", "revision", "mode"));
    if (m == null) {
      return null;
    }
    int before = problems.size();
    String id = string(m, "id", path + ".id");
    if (id != null && ActiveMitigation.idProblem(id) != null) {
      problem(path + ".id", ActiveMitigation.idProblem(id));
    }
    Long revision = integer(m, "revision", path + ".revision", 1, Integer.MAX_VALUE);
    Mode mode = null;
    String modeName = string(m, "mode", path + ".mode");
    if (modeName != null) {
      try {
        mode = Mode.ofJsonName(modeName);
      } catch (IllegalArgumentException e) {
        problem(path + ".mode", e.getMessage());
      }
    }
    RuleSet request = rules(m.get("requestRules"), path + ".requestRules", true);
    RuleSet response = rules(m.get("responseRules"), path + ".responseRules", false);
    List<DisabledEndpoint> endpoints = new ArrayList<>();
    List<Object> el = list(m.get("disableEndpoints"), path + ".disableEndpoints", EnforcementFile.MAX_ACTIONS);
    if (el != null) {
      for (int i = 0; i < el.size(); i++) {
        String p = path + ".disableEndpoints[" + i + "]";
        Map<String, Object> e = object(el.get(i), p, Set.of("pathPrefix", "status"), Set.of("pathPrefix"));
        if (e == null) {
          continue;
        }
        PathPrefix prefix = prefix(e, p);
        Long status = e.containsKey("status") ? integer(e, "status", p + ".status", 400, 599) : Long.valueOf(DisabledEndpoint.DEFAULT_STATUS);
        if (prefix != null && status != null) {
          endpoints.add(new DisabledEndpoint(prefix, status.intValue()));
        }
      }
    }
    List<AuthPolicy> policies = new ArrayList<>();
    List<Object> pl = list(m.get("authPolicies"), path + ".authPolicies", EnforcementFile.MAX_ACTIONS);
    if (pl != null) {
      for (int i = 0; i < pl.size(); i++) {
        String p = path + ".authPolicies[" + i + "]";
        Map<String, Object> e = object(pl.get(i), p, Set.of("pathPrefix", "refuseBasic", "refuseAnonymous"), Set.of("pathPrefix"));
        if (e == null) {
          continue;
        }
        PathPrefix prefix = prefix(e, p);
        Boolean basic = bool(e, "refuseBasic", p + ".refuseBasic");
        Boolean anonymous = bool(e, "refuseAnonymous", p + ".refuseAnonymous");
        if (basic != null && anonymous != null && !basic && !anonymous) {
          problem(p, "expected refuseBasic or refuseAnonymous to be true but found both false");
        } else if (prefix != null && basic != null && anonymous != null) {
          policies.add(new AuthPolicy(prefix, basic, anonymous));
        }
      }
    }
    if (problems.size() > before) {
      return null;
    }
    return new ActiveMitigation(id, revision.intValue(), mode, request, response, endpoints, policies);
  }

  private RuleSet rules(Object value, String path, boolean inbound) {
    if (value == null) {
      return RuleSet.EMPTY;
    }
    if (!(value instanceof Map)) {
      problem(path, "expected an object in the rules JSON form but found " + kind(value));
      return RuleSet.EMPTY;
    }
    RuleSet rules;
    try {
      rules = RuleJson.readTree(value, source + ": " + path);
    } catch (RuleValidationException e) {
      for (Problem p : e.problems()) {
        problems.add(p.toString());
      }
      return RuleSet.EMPTY;
    }
    if (inbound && (!rules.outboundRules().isEmpty() || !rules.preConditions().isEmpty())) {
      problem(path, "expected only inbound rules (globalRules, rules) but found outboundRules or preConditions; put them in responseRules");
    }
    if (!inbound && (!rules.rules().isEmpty() || !rules.globalRules().isEmpty())) {
      problem(path, "expected only outboundRules and preConditions but found inbound rules; put them in requestRules");
    }
    return rules;
  }

  private PathPrefix prefix(Map<String, Object> m, String path) {
    String v = string(m, "pathPrefix", path + ".pathPrefix");
    if (v == null) {
      return null;
    }
    String problem = PathPrefix.problem(v);
    if (problem != null) {
      problem(path + ".pathPrefix", problem);
      return null;
    }
    return new PathPrefix(v);
  }

  @SuppressWarnings("unchecked")
  private Map<String, Object> object(Object value, String path, Set<String> allowed, Set<String> required) {
    if (!(value instanceof Map)) {
      problem(path, "expected an object but found " + kind(value));
      return null;
    }
    Map<String, Object> m = (Map<String, Object>) value;
    boolean ok = true;
    for (String key : m.keySet()) {
      if (!allowed.contains(key)) {
        problem(path.equals("$") ? key : path + "." + key, "unknown key; expected one of " + allowed.stream().sorted().toList());
        ok = false;
      }
    }
    for (String key : required.stream().sorted().toList()) {
      if (!m.containsKey(key)) {
        problem(path, "expected the key \"" + key + "\" but found none");
        ok = false;
      }
    }
    return ok ? m : null;
  }

  @SuppressWarnings("unchecked")
  private List<Object> list(Object value, String path, int max) {
    if (value == null) {
      return null;
    }
    if (!(value instanceof List)) {
      problem(path, "expected an array but found " + kind(value));
      return null;
    }
    List<Object> l = (List<Object>) value;
    if (l.size() > max) {
      problem(path, String.format(Locale.ROOT, "expected at most %d items but found %d", max, l.size()));
      return null;
    }
    return l;
  }

  private String string(Map<String, Object> m, String key, String path) {
    Object v = m.get(key);
    if (v instanceof String s) {
      return s;
    }
    problem(path, "expected a string but found " + kind(v));
    return null;
  }

  private Boolean bool(Map<String, Object> m, String key, String path) {
    if (!m.containsKey(key)) {
      return Boolean.FALSE;
    }
    Object v = m.get(key);
    if (v instanceof Boolean b) {
      return b;
    }
    problem(path, "expected true or false but found " + kind(v));
    return null;
  }

  private Long integer(Map<String, Object> m, String key, String path, long min, long max) {
    Object v = m.get(key);
    if (!(v instanceof Long l)) {
      problem(path, "expected an integer but found " + kind(v));
      return null;
    }
    if (l < min || l > max) {
      problem(path, String.format(Locale.ROOT, "expected an integer from %d to %d but found %d", min, max, l));
      return null;
    }
    return l;
  }

  private static String kind(Object v) {
    if (v == null) {
      return "null";
    }
    if (v instanceof String s) {
      return "the string \"" + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "\"";
    }
    if (v instanceof Long l) {
      return "the number " + l;
    }
    if (v instanceof Boolean b) {
      return b.toString();
    }
    if (v instanceof List) {
      return "an array";
    }
    return "an object";
  }

  private void problem(String path, String message) {
    problems.add(source + ": " + path + ": " + message);
  }

  private void fail(String path, String message) {
    problem(path, message);
    throw new EnforcementFileException(problems);
  }
}
