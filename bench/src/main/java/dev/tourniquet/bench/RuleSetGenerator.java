package dev.tourniquet.bench;

import dev.tourniquet.rules.Condition;
import dev.tourniquet.rules.Conditions;
import dev.tourniquet.rules.InboundAction;
import dev.tourniquet.rules.InboundRule;
import dev.tourniquet.rules.LogicalGrouping;
import dev.tourniquet.rules.PatternSyntax;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.UrlMatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Generates inbound rule sets shaped like the emergency mitigations vendors publish, deterministically.
 *
 * <p>Each rule is one of the shapes below, with a literal of its own (a word plus the rule's number) so
 * that rules do not trivially share literals, as independent mitigations do not. The shares:
 *
 * <ul>
 *   <li>30% path-prefix blocks: {@code <match url="^api/v1/admin/kestrel000417">} and the like;
 *   <li>15% query-string injection: <code>{QUERY_STRING}</code> with {@code (^|&)harbor000012=};
 *   <li>14% user-agent blocks: <code>{HTTP_USER_AGENT}</code> with {@code ^lantern000031/};
 *   <li>10% ProxyLogon-style cookie rules: <code>{HTTP_COOKIE}</code> with {@code X-Walnut000045=(.+)/(.+)~(.+)}, one in
 *       ten with EOMT's leading {@code (.*)} kept verbatim;
 *   <li>15% M1-style rules on <code>{UrlDecode:{REQUEST_URI}}</code>, half with Microsoft's lookahead idiom
 *       {@code (?=.*quartz000077)(?=.*powershell)}, half as {@code .*quartz000077\.json.*powershell.*};
 *   <li>15% header checks: a header's presence on one path, or a token in a header's value;
 *   <li>1% rules with no literal at all, which no literal prefilter can skip: a {@code .*} match with a
 *       negated condition (a method or host allow-list), or a bare header-presence check.
 * </ul>
 *
 * Half the rules abort the request, the others answer 403, and every rule stops processing, as real
 * mitigations do. The rule with a given index is the same in every set ({@link Random} with a per-index
 * seed), so a smaller set is a prefix of a larger one. Each rule comes with an {@link Attack}: the parts of
 * a request that make it fire, used by {@link RequestMix} for the few percent of hostile traffic.
 */
final class RuleSetGenerator {
  /** The seed of every generated set; changing it changes the published results. */
  static final long SEED = 0x7017_2022L;

  /** The parts of a request that make one generated rule fire. */
  record Attack(String method, String target, Map<String, String> headers) {}

  /** A generated rule and a request that triggers it. */
  record Generated(InboundRule rule, Attack attack) {}

  /** A complete benchmark rule set: Microsoft's rules first, then the generated ones. */
  record Generation(RuleSet ruleSet, List<InboundRule> fixtureRules, List<Generated> generated) {}

  /** Words of five letters or more: with a six-digit number, every rule's own literal is the longest in it. */
  static final String[] WORDS = {
    "kestrel", "harbor", "lantern", "walnut", "quartz", "meadow", "falcon", "cobalt", "juniper", "saffron",
    "granite", "willow", "ember", "tundra", "orchid", "pylon", "glacier", "thistle", "marble", "copper",
    "beacon", "cinder", "dahlia", "fennel", "gazelle", "hollow", "indigo", "jasper", "kelpie", "larch",
    "mistral", "nectar", "obsidian", "pepper", "quill", "raven", "sorrel", "tamarind", "umber", "vortex",
    "wrenfield", "xylem", "yarrow", "zephyr", "acorn", "bramble", "cypress", "drift", "estuary", "fjord",
    "garnet", "heron", "islet", "jackal", "kilnworth", "lichen", "mantis", "nimbus", "oxbow", "plover",
    "quarry", "rapids", "sable", "tarnish", "urchin", "valley", "warbler", "yucca", "zircon", "alder",
    "basalt", "caldera", "dunes", "egret", "flint", "gorse", "hazel", "ibisco", "jetty", "knoll",
    "lagoon", "moraine", "nettle", "osprey", "pumice", "quince", "reedbed", "sedge", "talon", "upland",
  };

  private static final String[] HEADER_VALUE_INPUTS = {
    "HTTP_CONNECTION", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_SERVER", "HTTP_REFERER", "HTTP_CONTENT_TYPE",
  };

  private static final String[] PATH_APPS = {"owa", "ecp", "ews", "mapi", "autodiscover", "api/v1/admin", "oab", "rpc"};

  private RuleSetGenerator() {}

  /**
   * Builds a set of {@code total} inbound rules: every Microsoft fixture rule, then generated rules.
   *
   * @param total the number of inbound rules, fixtures included
   * @throws IllegalArgumentException if {@code total} is smaller than the number of fixture rules
   */
  static Generation generate(int total) {
    List<InboundRule> fixtures = Fixtures.inboundRules();
    if (total < fixtures.size()) {
      throw new IllegalArgumentException(String.format(Locale.ROOT,
          "%d rules requested; expected at least the %d Microsoft fixture rules", total, fixtures.size()));
    }
    List<Generated> generated = new ArrayList<>();
    for (int i = 0; i < total - fixtures.size(); i++) {
      generated.add(rule(i));
    }
    List<InboundRule> all = new ArrayList<>(fixtures);
    generated.forEach(g -> all.add(g.rule()));
    return new Generation(new RuleSet(List.of(), all, List.of(), List.of()), fixtures, generated);
  }

  /** The rule with index {@code i}, the same whatever the size of the set. */
  static Generated rule(int i) {
    Random rng = new Random(SEED * 1_000_003L + i);
    String word = WORDS[rng.nextInt(WORDS.length)];
    String token = String.format(Locale.ROOT, "%s%06d", word, i);
    InboundAction action = rng.nextBoolean()
        ? new InboundAction.AbortRequest()
        : new InboundAction.CustomResponse(403, 0, "Forbidden", "Blocked by an emergency mitigation");
    // Multiplying by 37 (coprime with 100) visits every share bucket once in any 100 consecutive rules,
    // so even the 100-rule set holds exactly one rule without a literal.
    int bucket = (int) ((i * 37L) % 100);
    String name;
    UrlMatch match = new UrlMatch(".*", true, false);
    Conditions conditions = Conditions.NONE;
    Attack attack;
    int shape = rng.nextInt(4);
    if (bucket < 30) {
      name = "TQ path block " + i;
      String app = PATH_APPS[rng.nextInt(PATH_APPS.length)];
      String appPattern = app.equals("ews") || app.equals("mapi") ? "(ews|mapi)" : app;
      switch (shape) {
        case 0 -> match = new UrlMatch("^" + appPattern + "/" + token, true, false);
        case 1 -> match = new UrlMatch("^" + appPattern + "/" + token + "\\.aspx$", true, false);
        case 2 -> match = new UrlMatch("^" + appPattern + "/(" + token + "|" + word + "-debug" + String.format(Locale.ROOT, "%06d", i) + ")/", true, false);
        default -> match = new UrlMatch("^" + appPattern + "/[a-z0-9.]+/" + token + "\\.(aspx|ashx|svc)", true, false);
      }
      String path = switch (shape) {
        case 0 -> "/" + app + "/" + token + "/status";
        case 1 -> "/" + app + "/" + token + ".aspx";
        case 2 -> "/" + app + "/" + token + "/run";
        default -> "/" + app + "/15.2.1118.7/" + token + ".ashx";
      };
      // Evasions the engine must see through: mixed case and a percent-encoded letter in the path.
      if (rng.nextBoolean()) {
        path = path.replace(token, token.substring(0, 1).toUpperCase(Locale.ROOT) + "%" + hex(token.charAt(1)) + token.substring(2));
      }
      attack = new Attack("GET", path + "?diag=1", Map.of());
    } else if (bucket < 45) {
      name = "TQ query injection " + i;
      String pattern = switch (shape) {
        case 0, 1 -> "(^|&)" + token + "=";
        case 2 -> "(^|&)" + token + "=[^&]*(\\.\\./|%2e%2e%2f)";
        default -> token + "=(cmd|powershell|bash)";
      };
      conditions = all(new Condition("{QUERY_STRING}", pattern, true, false));
      String query = switch (shape) {
        case 0, 1 -> "layout=mouse&" + token + "=whoami";
        case 2 -> "a=1&" + token + "=..%2e%2e%2f..%2fetc%2fpasswd";
        default -> "x=" + token.toUpperCase(Locale.ROOT) + "=PowerShell";
      };
      attack = new Attack("GET", "/owa/service.svc?" + query, Map.of());
    } else if (bucket < 59) {
      name = "TQ user agent block " + i;
      String pattern = shape < 2 ? "^" + token + "/" : token + "-scanner";
      conditions = all(new Condition("{HTTP_USER_AGENT}", pattern, true, false));
      String ua = shape < 2 ? token + "/2.31.0" : "Mozilla/5.0 (compatible; " + token + "-Scanner/1.4)";
      attack = new Attack("GET", "/owa/", Map.of("User-Agent", ua));
    } else if (bucket < 69) {
      name = "TQ cookie block " + i;
      String cookieName = "X-" + capitalize(token);
      // One cookie rule in ten keeps EOMT's leading (.*) verbatim; the others are written as a careful
      // author would. The share matters: on a backtracking matcher each (.*) rule costs time quadratic in
      // the cookie's length (about a millisecond on an OWA cookie), and it dominates the baseline.
      int cookieShape = rng.nextInt(10);
      String pattern = cookieShape == 0 ? "(.*)" + cookieName + "=(.+)/(.+)~(.+)"
          : cookieShape < 6 ? cookieName + "=(.+)/(.+)~(.+)"
          : "(^|;\\s*)" + token + "=[^;]*\\.\\./";
      conditions = all(new Condition("{HTTP_COOKIE}", pattern, true, false));
      String cookie = cookieShape < 6 ? cookieName + "=localhost/owa/?~1942062522" : token + "=../../ecp/";
      attack = new Attack("GET", "/ecp/y.js", Map.of("Cookie", "ClientId=8F2A1C0D4B5E6F7A8B9C0D1E2F3A4B5C; " + cookie));
    } else if (bucket < 84) {
      name = "TQ uri mitigation " + i;
      String pattern = shape < 2
          ? "(?=.*" + token + ")(?=.*powershell)"
          : ".*" + token + "\\.json.*powershell.*";
      conditions = all(new Condition(rng.nextBoolean() ? "{UrlDecode:{REQUEST_URI}}" : "{UrlDecode: {REQUEST_URI}}",
          pattern, true, false));
      // ProxyNotShell's shape without the word "autodiscover", which M1 itself would catch first; the
      // second half is percent-encoded, which {UrlDecode:…} undoes.
      String target = shape < 2
          ? "/mapi/nspi/?&Email=" + token + "%40evil.example/%50ower%53hell/?X-Rps-CAT=VgEAVAdXaW5kb3dz"
          : "/ecp/" + token + ".json?@evil.example/PowerShell/";
      attack = new Attack("GET", target, Map.of());
    } else if (bucket < 99) {
      name = "TQ header check " + i;
      if (shape < 2) {
        String header = "X-" + capitalize(word) + "-Auth-Token";
        match = new UrlMatch("^(ecp|owa)/" + token, true, false);
        conditions = all(new Condition("{HTTP_" + header.toUpperCase(Locale.ROOT).replace('-', '_') + "}", ".+", true, false));
        attack = new Attack("POST", "/ecp/" + token + "/bash", Map.of(header, "admin"));
      } else {
        String input = HEADER_VALUE_INPUTS[rng.nextInt(HEADER_VALUE_INPUTS.length)];
        conditions = all(new Condition("{" + input + "}", "(^|[,;/\\s])x-" + token + "(,|;|$|/)", true, false));
        String header = switch (input) {
          case "HTTP_CONNECTION" -> "Connection";
          case "HTTP_X_FORWARDED_HOST" -> "X-Forwarded-Host";
          case "HTTP_X_FORWARDED_SERVER" -> "X-Forwarded-Server";
          case "HTTP_REFERER" -> "Referer";
          default -> "Content-Type";
        };
        String value = switch (input) {
          case "HTTP_CONNECTION" -> "keep-alive, X-" + token;
          case "HTTP_REFERER" -> "https://mail.contoso.com/x-" + token + "/";
          case "HTTP_CONTENT_TYPE" -> "application/x-" + token;
          default -> "x-" + token;
        };
        attack = new Attack("POST", "/owa/service.svc?action=GetItem", Map.of(header, value));
      }
    } else {
      name = "TQ no-literal rule " + i;
      switch (shape) {
        case 0 -> {
          conditions = all(new Condition("{REQUEST_METHOD}",
              "^(GET|HEAD|POST|OPTIONS|PROPFIND|RPC_IN_DATA|RPC_OUT_DATA)$", true, true));
          attack = new Attack("DEBUG", "/owa/", Map.of());
        }
        case 1 -> {
          conditions = all(new Condition("{HTTP_HOST}", "^[a-z0-9-]+\\.contoso\\.com(:[0-9]+)?$", true, true));
          attack = new Attack("GET", "/owa/", Map.of("Host", token + ".evil.example"));
        }
        default -> {
          String header = "X-" + capitalize(token);
          conditions = all(new Condition("{HTTP_" + header.toUpperCase(Locale.ROOT).replace('-', '_') + "}", ".+", true, false));
          attack = new Attack("GET", "/owa/", Map.of(header, "1"));
        }
      }
    }
    InboundRule rule = new InboundRule(name, true, PatternSyntax.ECMA_SCRIPT, true, match, conditions, action);
    return new Generated(rule, attack);
  }

  private static Conditions all(Condition... items) {
    return new Conditions(LogicalGrouping.MATCH_ALL, false, List.of(items));
  }

  private static String capitalize(String s) {
    return Character.toUpperCase(s.charAt(0)) + s.substring(1);
  }

  private static String hex(char c) {
    return String.format(Locale.ROOT, "%02X", (int) c);
  }
}
