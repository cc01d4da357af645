package dev.tourniquet.agent.enforce.nginx;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.rules.Condition;
import dev.tourniquet.rules.InboundAction;
import dev.tourniquet.rules.InboundRule;
import dev.tourniquet.rules.LogicalGrouping;
import dev.tourniquet.rules.PatternSyntax;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renders the active mitigations into the text of the nginx include file, or refuses a mitigation that
 * nginx cannot enforce exactly. Pure: values in, text out.
 *
 * <h2>How a rule set becomes nginx directives</h2>
 *
 * <p>The include holds only directives of nginx's rewrite module ({@code set}, {@code if}, {@code return})
 * plus, in njs mode, {@code js_import}/{@code js_set}; included in a {@code server} block they run in the
 * server rewrite phase, in file order, before any location is chosen. nginx's {@code if} takes one test
 * and has no AND or OR, so each rule gets an accumulator variable: every test that holds appends
 * {@code 1}, and the action runs only if the accumulator holds as many as there were tests. MatchAny
 * conditions set a second variable that counts as one test. {@code return} ends processing, as
 * AbortRequest, CustomResponse and Redirect do on IIS; a matching {@code None} rule with
 * {@code stopProcessing} sets the rule set's stop variable, which every later rule of that set tests
 * first. Each mitigation's rules keep their own stop variable, as each is its own rule set.
 *
 * <p>Audit mode needs njs. Where a mitigation would answer (return), it instead records a hit: the njs
 * function {@code hit} appends the key {@code <id>/<action>/<rule>} (1-based) as one line to
 * {@code nginx-audit.log} beside the script, and the rule set's stop variable is set, as the answer would
 * have ended it. Nothing is blocked. {@code access_log … if=} is not used: an {@code access_log} in a
 * server block stops it inheriting the http block's, which would change the operator's logging. Without
 * njs, as the Enforcer contract allows, a mitigation in audit mode applies nothing and counts nothing.
 */
final class NginxRenderer {
  /** The njs module's name in the generated {@code js_import}. */
  private static final String NJS_MODULE = "tq_njs";

  private static final Pattern FUNCTION = Pattern.compile("\\{\\s*([A-Za-z]+)\\s*:\\s*(.*?)\\s*\\}", Pattern.DOTALL);
  /** An input whose value nginx holds decoded ({URL}, {UrlDecode:…}): it may contain a line break. */
  private static final Pattern DECODED_INPUT = Pattern.compile("(?i)\\{\\s*(URL\\s*\\}|UrlDecode\\s*:[^}]*\\}\\s*\\})");
  private static final Pattern VARIABLE = Pattern.compile("\\{([A-Za-z0-9_]+)\\}");
  /** The server variables the rendering has an exact nginx equivalent for, as refusals list them. */
  private static final String NGINX_VARIABLES = "REQUEST_URI, UNENCODED_URL, HTTP_URL, QUERY_STRING, REQUEST_METHOD,"
      + " HTTP_METHOD, SERVER_PORT, REMOTE_ADDR, HTTPS, HTTP_COOKIE, HTTP_HOST, HTTP_* (nginx 1.23+) or, in njs mode, URL";
  private static final Set<Integer> REDIRECT_CODES = Set.of(301, 302, 303, 307, 308);

  /** A request line whose target is in origin form: the method, one space, then '/'. */
  private static final String ORIGIN_FORM = "\\A[^\\x{20}]+\\x{20}/";

  /**
   * A raw path (up to '?' or the end) that the rules module refuses as ambiguous where a rule reads the
   * decoded path ({@code AmbiguousPath}): a raw or encoded backslash, a path parameter ({@code ;}), an encoded
   * {@code /}, an empty segment, or a segment that is {@code .} or {@code ..}, raw or encoded. nginx routes
   * {@code /./ecp/x}, {@code /a/../ecp/x} and {@code //ecp/x} as {@code /ecp/x} (and a Java backend strips
   * {@code ;x=1}), while the njs path stays as sent: without this, {@code ^ecp/} would never see them.
   */
  private static final String AMBIGUOUS_PATH =
      "\\A[^?]*?(?:\\x{5c}|;|%2[Ff]|%5[Cc]|//|/(?:\\.|%2[Ee]){1,2}(?:[/?]|\\z))";

  /**
   * A raw path (up to '?' or the end) whose percent-encoding is well formed and encodes valid UTF-8
   * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), as the rules module's strict
   * decoding demands. Matched on bytes; each step of the loop is decided by the next few bytes, and the
   * atomic group keeps PCRE from backtracking into it.
   */
  private static final String VALID_PATH;

  static {
    String h = "[0-9A-Fa-f]";
    String c = "%[89ABab]" + h;
    String one = "%[0-7]" + h;
    String two = "%(?:[Cc][2-9A-Fa-f]|[Dd]" + h + ")" + c;
    String three = "%(?:[Ee]0%[ABab]" + h + "|[Ee][1-9A-Ca-cEeFf]" + c + "|[Ee][Dd]%[89]" + h + ")" + c;
    String four = "%(?:[Ff]0%[9ABab]" + h + "|[Ff][1-3]" + c + "|[Ff]4%8" + h + ")" + c + c;
    VALID_PATH = "\\A(?>(?:[^%?]|" + one + "|" + two + "|" + three + "|" + four + ")*)(?:\\?|\\z)";
  }

  /**
   * What the renderer may use.
   *
   * @param njsScript where the njs script is (njs mode), or empty for core nginx only
   * @param joinsRepeatedHeaders whether nginx's {@code $http_*} variables join a header sent several times
   *     with {@code ", "} (nginx 1.23.0 and later); before, they hold only the first field
   */
  record Options(Optional<Path> njsScript, boolean joinsRepeatedHeaders) {
    Options {
      Objects.requireNonNull(njsScript, "njsScript");
    }
  }

  /** A mitigation nginx cannot enforce exactly; the message names the mitigation, where and why. */
  static final class Refusal extends Exception {
    private static final long serialVersionUID = 1L;

    Refusal(String message) {
      super(message);
    }
  }

  private final Options options;
  private final StringBuilder body = new StringBuilder();
  private final Set<String> njsVariables = new LinkedHashSet<>();
  private boolean needsHttps;
  private boolean hasRequestRules;
  /** An enforced rule reads the decoded path (njs {@code path} or {@code url}). */
  private boolean readsDecodedPath;
  private int hits;
  private int headers;
  /** The mitigation being rendered records hits instead of answering. */
  private boolean auditing;
  /** The audit key prefix of the action being rendered: {@code <id>/<action>}. */
  private String keyPrefix;
  private int nextRule;
  private int nextStop;

  private NginxRenderer(Options options) {
    this.options = options;
  }

  /**
   * Renders the include for a set of mitigations.
   *
   * @param active the mitigations, in the order they should run (the agent sorts them by id)
   * @param options what nginx offers
   * @return the include's text
   * @throws Refusal naming the first mitigation that cannot be enforced exactly
   */
  static String render(List<ActiveMitigation> active, Options options) throws Refusal {
    NginxRenderer renderer = new NginxRenderer(options);
    for (ActiveMitigation m : active) {
      renderer.mitigation(m);
    }
    return renderer.assemble(active);
  }

  /**
   * Tells why one mitigation cannot be enforced exactly, whatever its mode.
   *
   * @return the reason, or empty
   */
  static Optional<String> refusal(ActiveMitigation mitigation, Options options) {
    try {
      render(List.of(new ActiveMitigation(mitigation.mitigation(), false)), options);
      return Optional.empty();
    } catch (Refusal e) {
      return Optional.of(e.getMessage());
    }
  }

  private String assemble(List<ActiveMitigation> active) {
    StringBuilder out = new StringBuilder();
    out.append("# Tourniquet nginx enforcement: generated by the agent, do not edit; see docs/nginx.md.\n");
    out.append("# Include this file once in every server {} block to protect.\n");
    out.append("# Active: ");
    out.append(active.isEmpty() ? "none" : String.join(", ", active.stream()
        .map(m -> comment(m.mitigation().appliedId() + (m.audit() ? " (audit" + (options.njsScript().isPresent()
            ? ": counted, never blocked)" : ": no njs, nothing applied)") : ""))).toList()));
    out.append('\n');
    if (!njsVariables.isEmpty() || hits > 0 || headers > 0) {
      Path script = options.njsScript().orElseThrow();
      out.append("js_import ").append(NJS_MODULE).append(" from ").append(quote(script.toString())).append(";\n");
      for (String function : njsVariables) {
        out.append("js_set $tq_njs_").append(function).append(' ').append(NJS_MODULE).append('.').append(function).append(";\n");
      }
      for (int i = 1; i <= headers; i++) {
        out.append("js_set $tq_njs_header_").append(i).append(' ').append(NJS_MODULE).append(".header;\n");
      }
      for (int i = 1; i <= hits; i++) {
        // One variable per place a hit is recorded: nginx evaluates each js_set variable once per request.
        out.append("js_set $tq_njs_hit_").append(i).append(' ').append(NJS_MODULE).append(".hit;\n");
      }
      if (hits > 0) {
        out.append("set $tq_audit_log ").append(quote(auditLog(script).toString())).append(";\n");
      }
    }
    if (hasRequestRules) {
      // The rules module refuses to evaluate a request whose target is not in origin form, or whose path has
      // malformed percent-encoding or encodes invalid UTF-8, and an enforcer answers it 400 rather than let
      // it through unchecked. nginx's $request_uri is only the path for an absolute-form target, so the
      // form is read from the request line.
      out.append("if ($request !~ ").append(quote(ORIGIN_FORM)).append(") { return 400; }\n");
      out.append("if ($request_uri !~ ").append(quote(VALID_PATH)).append(") { return 400; }\n");
    }
    if (readsDecodedPath) {
      out.append("if ($request_uri ~ ").append(quote(AMBIGUOUS_PATH)).append(") { return 400; }\n");
    }
    if (needsHttps) {
      out.append("set $tq_https off;\nif ($https = on) { set $tq_https on; }\n");
    }
    return out.append(body).toString();
  }

  private void mitigation(ActiveMitigation active) throws Refusal {
    String id = active.mitigation().appliedId();
    List<Action> actions = active.mitigation().actions();
    int start = body.length();
    Set<String> njsBefore = new LinkedHashSet<>(njsVariables);
    boolean httpsBefore = needsHttps;
    boolean requestRulesBefore = hasRequestRules;
    boolean readsPathBefore = readsDecodedPath;
    int hitsBefore = hits;
    auditing = active.audit() && options.njsScript().isPresent();
    for (int i = 0; i < actions.size(); i++) {
      Action action = actions.get(i);
      String where = "mitigation " + id + ", action " + (i + 1) + " (" + action.kind() + ")";
      keyPrefix = active.id() + "/" + (i + 1);
      body.append("\n# ").append(comment(where)).append('\n');
      if (action instanceof Action.RequestRules rr) {
        requestRules(rr, where);
      } else if (action instanceof Action.ResponseRules) {
        throw new Refusal(where + ": refused: core nginx cannot rewrite or remove the response headers of the "
            + "application exactly (add_header only adds, and not on every status); expected no response-rules "
            + "action for an nginx target");
      } else if (action instanceof Action.DisableEndpoint de) {
        checkReturnStatus(de.status(), where);
        String test = "$uri ~ " + quote(prefixPattern(de.path()));
        body.append("if (").append(test).append(") { ").append(answer("return " + de.status() + ";", 1, null)).append(" }\n");
      } else if (action instanceof Action.AuthPolicy ap) {
        authPolicy(ap);
      } else {
        body.append("# not handled by an nginx target\n");
      }
    }
    if (active.audit()) {
      // The path guard answers 400, which audit mode must never do.
      hasRequestRules = requestRulesBefore;
      readsDecodedPath = readsPathBefore;
    }
    if (active.audit() && !auditing) {
      // Rendered above to refuse what cannot be enforced; without njs, audit mode applies nothing.
      body.setLength(start);
      njsVariables.retainAll(njsBefore);
      needsHttps = httpsBefore;
      hits = hitsBefore;
      body.append("\n# ").append(comment(id)).append(": audit mode needs njs to count; nothing applied\n");
    }
    auditing = false;
  }

  /**
   * What a matching rule does: the answer itself, or, in audit mode, record a hit under
   * {@code <keyPrefix>/<rule>} and end the rule set as the answer would have.
   */
  private String answer(String directive, int rule, String stop) {
    if (!auditing) {
      return directive;
    }
    hits++;
    return "set $tq_hit_key \"" + keyPrefix + "/" + rule + "\"; set $tq_hit $tq_njs_hit_" + hits + ";"
        + (stop == null ? "" : " set " + stop + " 1;");
  }

  /** The audit log the njs {@code hit} function appends to: beside the script. */
  static Path auditLog(Path script) {
    return script.resolveSibling(NjsScript.AUDIT_LOG);
  }

  /**
   * Names what an audit key counts: the rule's name for request rules, the action for the others.
   *
   * @param mitigation the mitigation the key's id names
   * @param key {@code <id>/<action>/<rule>}, 1-based
   * @return the name, or empty if the key does not fit the mitigation
   */
  static Optional<String> auditName(dev.tourniquet.feed.mitigation.Mitigation mitigation, String key) {
    String[] parts = key.split("/");
    if (parts.length != 3 || !parts[0].equals(mitigation.id()) || !parts[1].matches("\\d{1,3}") || !parts[2].matches("\\d{1,5}")) {
      return Optional.empty();
    }
    int action = Integer.parseInt(parts[1]) - 1;
    int rule = Integer.parseInt(parts[2]) - 1;
    if (action < 0 || action >= mitigation.actions().size()) {
      return Optional.empty();
    }
    Action a = mitigation.actions().get(action);
    if (a instanceof Action.RequestRules rr) {
      List<InboundRule> rules = new ArrayList<>(rr.rules().globalRules());
      rules.addAll(rr.rules().rules());
      return rule >= 0 && rule < rules.size() ? Optional.of(rules.get(rule).name()) : Optional.empty();
    }
    if (a instanceof Action.DisableEndpoint de && rule == 0) {
      return Optional.of("disable-endpoint " + de.path());
    }
    if (a instanceof Action.AuthPolicy ap && rule == 0) {
      return Optional.of("auth-policy " + ap.path());
    }
    return Optional.empty();
  }

  private void authPolicy(Action.AuthPolicy ap) {
    String acc = "$tq_r" + (++nextRule);
    String any = acc + "_any";
    body.append("set ").append(acc).append(" \"\";\n");
    body.append("set ").append(any).append(" \"\";\n");
    if (ap.refuse().contains(Action.AuthPolicy.Refusal.BASIC)) {
      // As the servlet filter: the scheme Basic, any case, then a space, a tab or the end.
      String basic = "\\A[\\x{9}\\x{20}]*" + foldBytes("basic") + "(?:[\\x{9}\\x{20}]|\\z)";
      body.append("if ($http_authorization ~ ").append(quote(basic)).append(") { set ").append(any).append(" 1; }\n");
    }
    if (ap.refuse().contains(Action.AuthPolicy.Refusal.ANONYMOUS)) {
      body.append("if ($http_authorization = \"\") { set ").append(any).append(" 1; }\n");
    }
    body.append("if ($uri ~ ").append(quote(prefixPattern(ap.path()))).append(") { set ").append(acc)
        .append(" \"${").append(acc.substring(1)).append("}1\"; }\n");
    body.append("if (").append(any).append(" = 1) { set ").append(acc).append(" \"${").append(acc.substring(1)).append("}1\"; }\n");
    body.append("if (").append(acc).append(" = 11) { ").append(answer("return 401;", 1, null)).append(" }\n");
  }

  /**
   * A path prefix covering whole segments, ignoring case: {@code /ecp} covers {@code /ECP/x}, not
   * {@code /ecpx}. Matched on bytes, not in PCRE's UTF mode, so that a path that is not valid UTF-8 is
   * simply not under the prefix instead of failing the match (nginx answers 500 to a failed match).
   */
  private static String prefixPattern(String path) {
    if (path.equals("/")) {
      return "\\A/";
    }
    return "\\A" + foldBytes(path) + "(?:/|\\z)";
  }

  /**
   * ASCII text matched ignoring case as Java's {@code String.regionMatches(true, …)} does (the servlet
   * filter's prefix test), spelled out on UTF-8 bytes: besides the other ASCII case, {@code i} also
   * matches U+0130 and U+0131, {@code k} U+212A and {@code s} U+017F, the only non-ASCII characters
   * whose upper or lower case is an ASCII letter.
   */
  static String foldBytes(String ascii) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < ascii.length(); i++) {
      char c = ascii.charAt(i);
      char lower = Character.toLowerCase(c);
      if (c >= 0x80) {
        throw new IllegalArgumentException("expected ASCII text but found U+" + Integer.toHexString(c));
      }
      if (lower < 'a' || lower > 'z') {
        out.append(c >= '0' && c <= '9' ? String.valueOf(c) : String.format(Locale.ROOT, "\\x{%x}", (int) c));
        continue;
      }
      String pair = "[" + Character.toUpperCase(lower) + lower + "]";
      switch (lower) {
        case 'i' -> out.append("(?:").append(pair).append("|\\x{c4}[\\x{b0}\\x{b1}])");
        case 'k' -> out.append("(?:").append(pair).append("|\\x{e2}\\x{84}\\x{aa})");
        case 's' -> out.append("(?:").append(pair).append("|\\x{c5}\\x{bf})");
        default -> out.append(pair);
      }
    }
    return out.toString();
  }

  private static void checkReturnStatus(int status, String where) throws Refusal {
    if (status == 444 || status < 200 || status > 599 || REDIRECT_CODES.contains(status)) {
      throw new Refusal(where + ": refused: nginx's return cannot answer status " + status
          + " as a plain response; expected 200-599 other than 301, 302, 303, 307, 308 and 444");
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Request rules

  private void requestRules(Action.RequestRules rr, String where) throws Refusal {
    hasRequestRules = true;
    String stop = null;
    List<InboundRule> rules = new ArrayList<>(rr.rules().globalRules());
    rules.addAll(rr.rules().rules());
    if (auditing) {
      // A recorded hit ends the rule set as the answer would have.
      stop = "$tq_s" + (++nextStop);
      body.append("set ").append(stop).append(" \"\";\n");
    }
    int index = 0;
    for (InboundRule rule : rules) {
      index++;
      String ruleWhere = where + ", rule \"" + rule.name() + "\"";
      if (!rule.enabled()) {
        continue;
      }
      if (rule.action() instanceof InboundAction.None && !rule.stopProcessing()) {
        // Changes nothing and stops nothing: nothing to render.
        continue;
      }
      boolean gated = stop != null;
      String action = action(rule, ruleWhere);
      if (!(rule.action() instanceof InboundAction.None)) {
        action = answer(action, index, stop);
      }
      if (rule.action() instanceof InboundAction.None) {
        if (stop == null) {
          stop = "$tq_s" + (++nextStop);
          body.append("set ").append(stop).append(" \"\";\n");
        }
        action = "set " + stop + " 1;";
      }
      body.append("# rule ").append(comment(rule.name())).append('\n');
      List<String> tests = new ArrayList<>();
      if (gated) {
        // An earlier None rule with stopProcessing may have ended this rule set.
        tests.add(stop + " = \"\"");
      }
      if (!PcreTranslator.matchesEverything(rule.match().url(), rule.patternSyntax(), rule.match().ignoreCase())) {
        String input = njs("path", ruleWhere, "match url (the decoded path without its leading slash; nginx's $uri "
            + "merges slashes and resolves dot segments)");
        tests.add(input + (rule.match().negate() ? " !~ " : " ~ ")
            + quote(pattern(rule.match().url(), rule.patternSyntax(), rule.match().ignoreCase(), ruleWhere + ", match url")));
      } else if (rule.match().negate()) {
        body.append("# never matches: the negated match url matches every path\n");
        continue;
      }
      List<String> conditionTests = new ArrayList<>();
      List<Condition> items = rule.conditions().items();
      for (int c = 0; c < items.size(); c++) {
        Condition condition = items.get(c);
        String condWhere = ruleWhere + ", condition " + (c + 1);
        String input = input(condition.input(), condWhere);
        conditionTests.add(input + (condition.negate() ? " !~ " : " ~ ")
            + quote(pattern(condition.pattern(), rule.patternSyntax(), condition.ignoreCase(), condWhere)));
      }
      String acc = "$tq_r" + (++nextRule);
      boolean matchAny = rule.conditions().logicalGrouping() == LogicalGrouping.MATCH_ANY && !conditionTests.isEmpty();
      if (!matchAny) {
        tests.addAll(conditionTests);
      }
      if (tests.isEmpty() && !matchAny) {
        body.append(action).append('\n');
        continue;
      }
      body.append("set ").append(acc).append(" \"\";\n");
      for (String test : tests) {
        append(acc, test);
      }
      int expected = tests.size();
      if (matchAny) {
        String any = acc + "_any";
        body.append("set ").append(any).append(" \"\";\n");
        for (String test : conditionTests) {
          body.append("if (").append(test).append(") { set ").append(any).append(" 1; }\n");
        }
        append(acc, any + " = 1");
        expected++;
      }
      body.append("if (").append(acc).append(" = ").append("1".repeat(expected)).append(") { ").append(action).append(" }\n");
    }
  }

  private void append(String acc, String test) {
    body.append("if (").append(test).append(") { set ").append(acc).append(" \"${").append(acc.substring(1))
        .append("}1\"; }\n");
  }

  private String action(InboundRule rule, String where) throws Refusal {
    InboundAction action = rule.action();
    if (action instanceof InboundAction.AbortRequest) {
      return "return 444;";
    }
    if (action instanceof InboundAction.None) {
      return "";
    }
    if (action instanceof InboundAction.CustomResponse cr) {
      checkReturnStatus(cr.statusCode(), where);
      // nginx sends its own reason phrase (or none) and cannot be given another. The reason phrase carries
      // no meaning (RFC 9112 section 4: a client SHOULD ignore it; HTTP/2 and HTTP/3 have none), so the
      // status and the body are enforced exactly and the phrase is nginx's, as docs/nginx.md says.
      if (cr.statusDescription().isEmpty()) {
        return "return " + cr.statusCode() + ";";
      }
      if (cr.statusCode() == 204 || cr.statusCode() == 304) {
        throw new Refusal(where + ": refused: status " + cr.statusCode() + " has no body, but statusDescription is set");
      }
      return "return " + cr.statusCode() + " \"" + template(cr.statusDescription(), where, "statusDescription") + "\";";
    }
    if (action instanceof InboundAction.Redirect redirect) {
      Matcher decoded = DECODED_INPUT.matcher(redirect.url());
      if (decoded.find()) {
        // nginx sends a variable's value as it is: a decoded one may hold %0D%0A as a line break, and a header.
        throw new Refusal(where + ": refused: the redirect url \"" + redirect.url() + "\" refers to " + decoded.group()
            + ", a decoded value that may hold a line break, which nginx would put in the Location header as it is;"
            + " expected variables that stay encoded, such as {REQUEST_URI} or {QUERY_STRING}");
      }
      String url = template(redirect.url(), where, "redirect url");
      if (!redirect.url().startsWith("http://") && !redirect.url().startsWith("https://")) {
        throw new Refusal(where + ": refused: nginx makes a relative redirect location absolute (absolute_redirect), "
            + "so " + redirect.url() + " would not be sent as written; expected an absolute http:// or https:// url");
      }
      if (redirect.appendQueryString() && (redirect.url().contains("?") || redirect.url().contains("{"))) {
        throw new Refusal(where + ": refused: appending the query string to a url that has one (with &), or may have "
            + "one once its variables are expanded, is not rendered for nginx; expected appendQueryString=\"false\" "
            + "or a literal url without '?'");
      }
      // $is_args is "?" exactly when the request has a query, which IIS appends with "?".
      String suffix = redirect.appendQueryString() ? "$is_args$args" : "";
      return "return " + redirect.redirectType().status() + " \"" + url + suffix + "\";";
    }
    throw new Refusal(where + ": refused: a " + action.typeName() + " action changes the URL that later rules and the "
        + "application see; it is not rendered for nginx (expected AbortRequest, CustomResponse, Redirect or None)");
  }

  /**
   * The inside of an nginx string that expands a response template: literal text escaped for nginx's
   * quoting, and each {@code {…}} as the nginx variable holding exactly that value ({@link #input}), written
   * {@code ${name}}. Refused: a back-reference ({@code {R:n}}, {@code {C:n}}), anything {@link #input}
   * refuses, and a literal '$', which nginx would read as a variable and cannot escape.
   */
  private String template(String text, String where, String what) throws Refusal {
    StringBuilder out = new StringBuilder();
    int i = 0;
    while (i < text.length()) {
      char c = text.charAt(i);
      if (c == '{') {
        int depth = 0;
        int end = i;
        for (; end < text.length(); end++) {
          depth += text.charAt(end) == '{' ? 1 : text.charAt(end) == '}' ? -1 : 0;
          if (depth == 0) {
            break;
          }
        }
        if (end >= text.length()) {
          throw new Refusal(where + ": refused: the " + what + " \"" + text + "\" has an unclosed '{'");
        }
        String expression = text.substring(i, end + 1);
        if (expression.matches("(?s)\\{\\s*[RrCc]\\s*:.*")) {
          throw new Refusal(where + ": refused: the " + what + " \"" + text + "\" refers to " + expression
              + ", a capture of the rule's patterns, which the nginx rendering does not keep; expected server "
              + "variables only");
        }
        String variable = input(expression, where + ", " + what);
        out.append("${").append(variable.substring(1)).append('}');
        i = end + 1;
      } else if (c < 0x20 || c == 0x7f) {
        // A line break would end the directive's line in nginx -T's dump, where the enforcer reads pid and user.
        throw new Refusal(where + ": refused: the " + what + " has the control character "
            + String.format(Locale.ROOT, "U+%04X", (int) c) + "; expected text without control characters");
      } else if (c == '$' || c == '}') {
        throw new Refusal(where + ": refused: the " + what + " \"" + text + "\" has a literal '" + c + "', which "
            + "nginx cannot send as written; expected text without it");
      } else {
        if (c == '\\' || c == '"') {
          out.append('\\');
        }
        out.append(c);
        i++;
      }
    }
    return out.toString();
  }

  private String pattern(String pattern, PatternSyntax syntax, boolean ignoreCase, String where) throws Refusal {
    try {
      return PcreTranslator.translate(pattern, syntax, ignoreCase);
    } catch (PcreTranslator.Untranslatable e) {
      throw new Refusal(where + ": refused: the pattern \"" + pattern + "\": " + e.getMessage());
    }
  }

  /** The nginx variable holding a condition's input, or a refusal. */
  private String input(String template, String where) throws Refusal {
    String t = template.strip();
    Matcher fn = FUNCTION.matcher(t);
    if (fn.matches() && !fn.group(1).equalsIgnoreCase("HTTP") && !fn.group(1).matches("(?i)[RC]")) {
      String function = fn.group(1);
      String argument = fn.group(2).toUpperCase(Locale.ROOT);
      if (function.equalsIgnoreCase("UrlDecode")) {
        if (argument.equals("{REQUEST_URI}") || argument.equals("{UNENCODED_URL}")) {
          return njs("decodedRequestUri", where, "the input " + template);
        }
        if (argument.equals("{QUERY_STRING}")) {
          return njs("decodedArgs", where, "the input " + template);
        }
      }
      throw new Refusal(where + ": refused: the input " + template + " has no exact nginx equivalent; expected one "
          + "variable ({REQUEST_URI}, {QUERY_STRING}, {HTTP_COOKIE}, …) or, in njs mode, {URL}, "
          + "{UrlDecode:{REQUEST_URI}} or {UrlDecode:{QUERY_STRING}}");
    }
    Matcher var = VARIABLE.matcher(t);
    if (!var.matches()) {
      throw new Refusal(where + ": refused: the input " + template + " is not a single variable; nginx's if tests "
          + "one variable, expected for example {REQUEST_URI}");
    }
    String name = var.group(1).toUpperCase(Locale.ROOT);
    switch (name) {
      case "REQUEST_URI":
      case "UNENCODED_URL":
      case "HTTP_URL":
        // HTTP_URL is IIS's raw URL as sent, not a request header named URL.
        return "$request_uri";
      case "QUERY_STRING":
        return "$args";
      case "REQUEST_METHOD":
      case "HTTP_METHOD":
        return "$request_method";
      case "SERVER_PORT":
        return "$server_port";
      case "REMOTE_ADDR":
        return "$remote_addr";
      case "HTTPS":
        needsHttps = true;
        return "$tq_https";
      case "URL":
        return njs("url", where, "the input {URL} (the decoded path; nginx's $uri merges slashes and resolves dot segments)");
      case "HTTP_COOKIE":
        // nginx joins Cookie fields with "; ", as the rules module does.
        return "$http_cookie";
      case "HTTP_HOST":
        // nginx refuses a request with two Host fields (400), so the one field is the value.
        return "$http_host";
      case "HTTP_VERSION":
        // The protocol as sent, like SERVER_PROTOCOL (and not a header named Version): neither has an exact
        // nginx equivalent, which says HTTP/2.0 where the rule sees HTTP/2.
        throw new Refusal(where + ": refused: the input " + template + " has no exact nginx equivalent; expected "
            + NGINX_VARIABLES);
      default:
        if (name.startsWith("HTTP_") && name.length() > 5) {
          String header = name.substring(5).toLowerCase(Locale.ROOT);
          if (options.joinsRepeatedHeaders()) {
            return "$http_" + header;
          }
          if (options.njsScript().isPresent()) {
            // njs joins the fields itself; the header's name goes in through a variable set just before.
            headers++;
            body.append("set $tq_header_name ").append(quote(header.replace('_', '-'))).append("; set $tq_h")
                .append(headers).append(" $tq_njs_header_").append(headers).append(";\n");
            return "$tq_h" + headers;
          }
          throw new Refusal(where + ": refused: the input " + template + ": this nginx (before 1.23.0) gives only the "
              + "first of repeated header fields in $http_…, whereas the rule sees them joined with \", \"; expected "
              + "njs mode, nginx 1.23.0 or later, or only {HTTP_COOKIE} and {HTTP_HOST}");
        }
        throw new Refusal(where + ": refused: the input " + template + " has no exact nginx equivalent; expected "
            + NGINX_VARIABLES);
    }
  }

  private String njs(String function, String where, String what) throws Refusal {
    if (options.njsScript().isEmpty()) {
      throw new Refusal(where + ": refused: " + what + " needs njs, which is off for this target; expected njs mode "
          + "(libnginx-mod-http-js, see docs/nginx.md)");
    }
    njsVariables.add(function);
    readsDecodedPath |= function.equals("path") || function.equals("url");
    return "$tq_njs_" + function;
  }

  // ---------------------------------------------------------------------------------------------------
  // nginx syntax

  /**
   * Quotes a string for nginx's configuration parser: inside double quotes only {@code \} and {@code "}
   * are special ({@code \t \r \n} would become control characters, so every backslash is doubled).
   */
  static String quote(String text) {
    StringBuilder out = new StringBuilder(text.length() + 2).append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\\' || c == '"') {
        out.append('\\');
      }
      out.append(c);
    }
    return out.append('"').toString();
  }

  /** Text safe in a {@code #} comment: one line, printable ASCII. */
  private static String comment(String text) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < text.length() && out.length() < 200; i++) {
      char c = text.charAt(i);
      out.append(c >= 0x20 && c < 0x7F ? c : '?');
    }
    return out.toString();
  }
}
