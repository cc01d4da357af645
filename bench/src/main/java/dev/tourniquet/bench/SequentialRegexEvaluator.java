package dev.tourniquet.bench;

import dev.tourniquet.rules.Condition;
import dev.tourniquet.rules.Decision;
import dev.tourniquet.rules.Header;
import dev.tourniquet.rules.HttpRequest;
import dev.tourniquet.rules.InboundAction;
import dev.tourniquet.rules.InboundRule;
import dev.tourniquet.rules.LogicalGrouping;
import dev.tourniquet.rules.PatternSyntax;
import dev.tourniquet.rules.RuleSet;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The baseline: IIS rules evaluated the way Java servlet containers evaluate rewrite rules today. Tuckey
 * UrlRewriteFilter and Tomcat's RewriteValve hold one {@link Pattern} per rule and condition and, for each
 * request, walk the rules in order, calling {@code pattern.matcher(input).find()} (or {@code matches()})
 * on each until one stops processing. There is no prefilter and no linear-time guarantee: every rule costs
 * at least one backtracking search, and a hostile pattern or input can cost seconds.
 *
 * <p>Semantics are those of the rules module for the features the generator uses: {@code <match url>} sees
 * the percent-decoded path without its leading slash; conditions expand a single server variable or
 * <code>{UrlDecode:{VAR}}</code>; {@code ignoreCase} maps to {@link Pattern#CASE_INSENSITIVE}; lookahead
 * runs natively, as java.util.regex supports it. Repeated header fields are joined with {@code ", "},
 * cookies with {@code "; "}, as the rules module does. Anything else (Wildcard syntax, back-references,
 * Rewrite and Redirect) is refused when the evaluator is built, so a mismatch can never hide behind an
 * unsupported feature.
 */
final class SequentialRegexEvaluator {
  private static final Set<String> PLAIN_VARIABLES = Set.of(
      "URL", "QUERY_STRING", "REQUEST_URI", "UNENCODED_URL", "REQUEST_METHOD", "HTTPS", "SERVER_PORT", "REMOTE_ADDR");

  /** A condition input: one variable, optionally url-decoded. */
  private record Input(String variable, boolean urlDecode) {
    String value(View view) {
      String raw = view.variable(variable);
      return urlDecode ? decodeLenient(raw) : raw;
    }
  }

  private record Check(Input input, Pattern pattern, boolean negate) {}

  private record Step(String name, Pattern match, boolean matchNegate, LogicalGrouping grouping, Check[] checks,
      InboundAction action, boolean stopProcessing) {}

  private final Step[] steps;

  /**
   * Compiles every enabled inbound rule's patterns with java.util.regex.
   *
   * @throws IllegalArgumentException naming the rule, if it uses a feature this baseline does not model
   */
  SequentialRegexEvaluator(RuleSet ruleSet) {
    List<InboundRule> rules = new ArrayList<>(ruleSet.globalRules());
    rules.addAll(ruleSet.rules());
    List<Step> compiled = new ArrayList<>();
    for (InboundRule rule : rules) {
      if (!rule.enabled()) {
        continue;
      }
      if (rule.patternSyntax() != PatternSyntax.ECMA_SCRIPT) {
        throw unsupported(rule, "pattern syntax " + rule.patternSyntax().iisName());
      }
      List<Check> checks = new ArrayList<>();
      for (Condition c : rule.conditions().items()) {
        checks.add(new Check(input(rule, c.input()), compile(c.pattern(), c.ignoreCase()), c.negate()));
      }
      InboundAction action = rule.action();
      if (action instanceof InboundAction.CustomResponse cr
          && (cr.statusReason().indexOf('{') >= 0 || cr.statusDescription().indexOf('{') >= 0)) {
        throw unsupported(rule, "a template in a CustomResponse");
      }
      if (action instanceof InboundAction.Rewrite || action instanceof InboundAction.Redirect) {
        throw unsupported(rule, "the " + action.typeName() + " action");
      }
      compiled.add(new Step(rule.name(), compile(rule.match().url(), rule.match().ignoreCase()), rule.match().negate(),
          rule.conditions().logicalGrouping(), checks.toArray(new Check[0]), action, rule.stopProcessing()));
    }
    this.steps = compiled.toArray(new Step[0]);
  }

  private static Pattern compile(String pattern, boolean ignoreCase) {
    return Pattern.compile(pattern, ignoreCase ? Pattern.CASE_INSENSITIVE : 0);
  }

  private static Input input(InboundRule rule, String template) {
    String t = template.trim();
    boolean decode = false;
    if (t.regionMatches(true, 0, "{UrlDecode:", 0, 11) && t.endsWith("}")) {
      decode = true;
      t = t.substring(11, t.length() - 1).trim();
    }
    if (!t.startsWith("{") || !t.endsWith("}") || t.indexOf('{', 1) >= 0) {
      throw unsupported(rule, "the input template '" + template + "'");
    }
    String variable = t.substring(1, t.length() - 1).trim().toUpperCase(Locale.ROOT);
    // HTTP_URL, HTTP_METHOD and HTTP_VERSION are IIS's own variables, not headers; the baseline reads only headers.
    boolean header = variable.startsWith("HTTP_") && variable.length() > 5
        && !Set.of("HTTP_URL", "HTTP_METHOD", "HTTP_VERSION").contains(variable);
    if (!PLAIN_VARIABLES.contains(variable) && !header) {
      throw unsupported(rule, "the server variable {" + variable + "}");
    }
    return new Input(variable, decode);
  }

  private static IllegalArgumentException unsupported(InboundRule rule, String what) {
    return new IllegalArgumentException("rule \"" + rule.name() + "\" uses " + what
        + ", which the java.util.regex baseline does not model; expected only the generator's features");
  }

  /**
   * Evaluates the rules in order against a request.
   *
   * @throws IllegalArgumentException if the request path has malformed percent-encoding
   */
  Decision evaluate(HttpRequest request) {
    View view = new View(request);
    String url = view.matchInput();
    for (Step step : steps) {
      // Tomcat and Tuckey create a fresh Matcher per rule and request, as here.
      if (step.match().matcher(url).find() == step.matchNegate()) {
        continue;
      }
      if (!conditionsHold(step, view)) {
        continue;
      }
      InboundAction action = step.action();
      if (action instanceof InboundAction.AbortRequest) {
        return new Decision.Abort(step.name());
      }
      if (action instanceof InboundAction.CustomResponse cr) {
        return new Decision.Respond(step.name(), cr.statusCode(), cr.subStatusCode(), cr.statusReason(), cr.statusDescription());
      }
      if (step.stopProcessing()) {
        break;
      }
    }
    return Decision.ALLOW;
  }

  private static boolean conditionsHold(Step step, View view) {
    Check[] checks = step.checks();
    if (checks.length == 0) {
      return true;
    }
    boolean all = step.grouping() == LogicalGrouping.MATCH_ALL;
    for (Check c : checks) {
      boolean holds = c.pattern().matcher(c.input().value(view)).find() != c.negate();
      if (all && !holds) {
        return false;
      }
      if (!all && holds) {
        return true;
      }
    }
    return all;
  }

  /** One request's server variables; header fields are indexed on first use. */
  private static final class View {
    private final HttpRequest request;
    private final String path;
    private final String query;
    private Map<String, String> headers;

    View(HttpRequest request) {
      this.request = request;
      String target = request.target();
      int q = target.indexOf('?');
      this.path = decodeStrict(q < 0 ? target : target.substring(0, q));
      this.query = q < 0 ? "" : target.substring(q + 1);
    }

    String matchInput() {
      return path.isEmpty() ? path : path.substring(1);
    }

    String variable(String name) {
      switch (name) {
        case "URL":
          return path;
        case "QUERY_STRING":
          return query;
        case "REQUEST_URI":
        case "UNENCODED_URL":
          return request.target();
        case "REQUEST_METHOD":
          return request.method();
        case "HTTPS":
          return request.https() ? "on" : "off";
        case "SERVER_PORT":
          return Integer.toString(request.serverPort());
        case "REMOTE_ADDR":
          return request.remoteAddr();
        default:
          if (headers == null) {
            headers = new HashMap<>();
            for (Header h : request.headers()) {
              String key = h.name().toUpperCase(Locale.ROOT).replace('-', '_');
              String separator = key.equals("COOKIE") ? "; " : ", ";
              headers.merge(key, h.value(), (a, b) -> a + separator + b);
            }
          }
          return headers.getOrDefault(name.substring(5), "");
      }
    }
  }

  /** Percent-decodes a request path; malformed escapes or UTF-8 are refused, as a server does. */
  private static String decodeStrict(String raw) {
    if (raw.indexOf('%') < 0) {
      return raw;
    }
    byte[] bytes = percentDecode(raw);
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("request path '" + raw + "' is not UTF-8 once decoded", e);
    }
  }

  /** IIS's UrlDecode: a stray {@code %} stays, invalid UTF-8 becomes U+FFFD, {@code +} is left alone. */
  private static String decodeLenient(String s) {
    if (s.indexOf('%') < 0) {
      return s;
    }
    StringBuilder out = new StringBuilder(s.length());
    ByteArrayOutputStream pending = new ByteArrayOutputStream();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%' && i + 2 < s.length() && hex(s.charAt(i + 1)) >= 0 && hex(s.charAt(i + 2)) >= 0) {
        pending.write(hex(s.charAt(i + 1)) * 16 + hex(s.charAt(i + 2)));
        i += 2;
        continue;
      }
      if (pending.size() > 0) {
        out.append(pending.toString(StandardCharsets.UTF_8));
        pending.reset();
      }
      out.append(c);
    }
    out.append(pending.toString(StandardCharsets.UTF_8));
    return out.toString();
  }

  private static byte[] percentDecode(String raw) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
    int i = 0;
    while (i < raw.length()) {
      if (raw.charAt(i) == '%') {
        if (i + 2 >= raw.length() || hex(raw.charAt(i + 1)) < 0 || hex(raw.charAt(i + 2)) < 0) {
          throw new IllegalArgumentException("malformed percent-encoding at offset " + i + " of '" + raw + "'");
        }
        bytes.write(hex(raw.charAt(i + 1)) * 16 + hex(raw.charAt(i + 2)));
        i += 3;
      } else {
        int end = raw.indexOf('%', i);
        end = end < 0 ? raw.length() : end;
        bytes.writeBytes(raw.substring(i, end).getBytes(StandardCharsets.UTF_8));
        i = end;
      }
    }
    return bytes.toByteArray();
  }

  private static int hex(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  }
}
