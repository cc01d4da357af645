package dev.tourniquet.agent.enforce.nginx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.rules.PatternSyntax;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The renderer and the pattern translator as plain values: what each supported construct becomes, what
 * is refused and with which reason, and that nothing a mitigation carries can add a directive to the
 * include (the text is read back with a tokenizer that follows nginx's own quoting rules).
 */
class NginxRendererTest {
  private static final NginxRenderer.Options CORE = new NginxRenderer.Options(Optional.empty(), false);
  private static final NginxRenderer.Options NJS =
      new NginxRenderer.Options(Optional.of(Path.of("/var/lib/tourniquet/nginx/tourniquet.js")), false);
  private static final NginxRenderer.Options NGINX_1_23 = new NginxRenderer.Options(Optional.empty(), true);

  private static ActiveMitigation rules(String rulesXml) {
    return TestMitigations.rulesXml("TQ-1", "<rewrite><rules>" + rulesXml + "</rules></rewrite>");
  }

  private static String rule(String name, String attributes, String match, String conditions, String action) {
    return "<rule name=\"" + name + "\" " + attributes + "><match url=\"" + match + "\" />"
        + (conditions.isEmpty() ? "" : "<conditions" + conditions + "</conditions>") + action + "</rule>";
  }

  private static String render(NginxRenderer.Options options, ActiveMitigation... active) throws Exception {
    return NginxRenderer.render(List.of(active), options);
  }

  private static String refusal(NginxRenderer.Options options, ActiveMitigation active) {
    return NginxRenderer.refusal(active, options).orElseThrow(() -> new AssertionError("expected a refusal"));
  }

  /** The regexes the include tests against an nginx variable, as nginx reads them: {@code if ($var ~ "re")}. */
  private static List<String> regexesOn(String text, String variable) {
    return NginxTokens.statements(text).stream()
        .filter(st -> st.name().equals("if") && st.tokens().size() >= 4 && st.tokens().get(1).equals("(" + variable)
            && st.tokens().get(2).endsWith("~"))
        .map(st -> st.tokens().get(3))
        .toList();
  }

  /** The answers the include can give, besides the 400 for requests the rule engine cannot evaluate. */
  private static List<List<String>> answers(String text) {
    return NginxTokens.statements(text).stream()
        .filter(st -> st.name().equals("return") && !st.tokens().equals(List.of("return", "400")))
        .map(NginxTokens.Statement::tokens)
        .toList();
  }

  private static String onlyRegexOn(String text, String variable) {
    List<String> regexes = regexesOn(text, variable);
    assertThat(regexes).as("regexes tested on %s in %s", variable, text).hasSize(1);
    return regexes.get(0);
  }

  /**
   * Whether a PCRE pattern of the translated subset finds a match, decided with java.util.regex, whose syntax
   * and meaning agree with PCRE's for that subset. With {@code (*UTF)} PCRE matches characters; without, it
   * matches the UTF-8 bytes, which are given to Java as one ISO-8859-1 character per byte.
   */
  static boolean pcreFinds(String pcre, String subject) {
    if (pcre.startsWith("(*UTF)")) {
      return Pattern.compile(pcre.substring("(*UTF)".length())).matcher(subject).find();
    }
    String bytes = new String(subject.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
    return Pattern.compile(pcre).matcher(bytes).find();
  }

  // ------------------------------------------------------------------------------------------- constructs

  @Test
  void renderAbortRequestOnACookieConditionThenReturns444WhenTheConditionHolds() throws Exception {
    String text = render(CORE, rules(rule("cookie", "", ".*",
        "><add input=\"{HTTP_COOKIE}\" pattern=\"X-BEResource=\" />", "<action type=\"AbortRequest\" />")));

    assertThat(text)
        .contains("set $tq_r1 \"\";")
        .contains("if ($tq_r1 = 1) { return 444; }")
        .doesNotContain("js_import");
    String cookie = onlyRegexOn(text, "$http_cookie");
    assertThat(pcreFinds(cookie, "a=1; x-beresource=evil")).isTrue();
    assertThat(pcreFinds(cookie, "a=1; X-BEResource")).isFalse();
  }

  @Test
  void renderMatchAllThenTheActionNeedsOneMarkPerTest() throws Exception {
    String text = render(CORE, rules(rule("two", "", ".*",
        "><add input=\"{REQUEST_METHOD}\" pattern=\"^POST$\" /><add input=\"{QUERY_STRING}\" pattern=\"a=1\" negate=\"true\" />",
        "<action type=\"AbortRequest\" />")));

    assertThat(text)
        .contains("if ($request_method ~ ")
        .contains("if ($args !~ ")
        .contains("if ($tq_r1 = 11) { return 444; }");
  }

  @Test
  void renderMatchAnyThenOneHoldingConditionCountsAsOneTest() throws Exception {
    String text = render(CORE, rules(rule("any", "", ".*",
        " logicalGrouping=\"MatchAny\"><add input=\"{HTTP_COOKIE}\" pattern=\"a\" /><add input=\"{QUERY_STRING}\" pattern=\"b\" />",
        "<action type=\"AbortRequest\" />")));

    assertThat(text)
        .contains("set $tq_r1_any \"\";")
        .containsPattern("if \\(\\$http_cookie ~ \"[^\"]+\"\\) \\{ set \\$tq_r1_any 1; \\}")
        .containsPattern("if \\(\\$args ~ \"[^\"]+\"\\) \\{ set \\$tq_r1_any 1; \\}")
        .contains("if ($tq_r1_any = 1) { set $tq_r1 \"${tq_r1}1\"; }")
        .contains("if ($tq_r1 = 1) { return 444; }");
  }

  @Test
  void renderNoneWithStopProcessingThenLaterRulesOfTheSameSetTestTheStopFlag() throws Exception {
    String text = render(CORE, rules(
        rule("stop", "stopProcessing=\"true\"", ".*", "><add input=\"{REQUEST_METHOD}\" pattern=\"^OPTIONS$\" />",
            "<action type=\"None\" />")
        + rule("later", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"evil\" />", "<action type=\"AbortRequest\" />")));

    assertThat(text)
        .contains("set $tq_s1 \"\";")
        .contains("if ($tq_r1 = 1) { set $tq_s1 1; }")
        .contains("if ($tq_s1 = \"\") { set $tq_r2 \"${tq_r2}1\"; }")
        .contains("if ($tq_r2 = 11) { return 444; }");
  }

  @Test
  void renderNoneWithoutStopProcessingAndADisabledRuleThenNothingIsRenderedForThem() throws Exception {
    String text = render(CORE, rules(
        rule("note", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"a\" />", "<action type=\"None\" />")
        + rule("off", "enabled=\"false\"", ".*", "", "<action type=\"AbortRequest\" />")));

    assertThat(text).doesNotContain("# rule note").doesNotContain("# rule off");
    assertThat(answers(text)).isEmpty();
  }

  @Test
  void renderANegatedMatchUrlThatMatchesEverythingThenTheRuleNeverApplies() throws Exception {
    String text = render(CORE, rules("<rule name=\"never\"><match url=\".*\" negate=\"true\" />"
        + "<action type=\"AbortRequest\" /></rule>"));

    assertThat(text).contains("never matches").doesNotContain("return 444");
  }

  @Test
  void renderCustomResponseThenReturnsTheStatusWithTheDescriptionAsBody() throws Exception {
    String text = render(CORE, rules(rule("r", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"CustomResponse\" statusCode=\"403\" statusReason=\"Forbidden\" statusDescription=\"Scanner blocked\" />")));

    assertThat(text).contains("return 403 \"Scanner blocked\";");
  }

  @Test
  void renderCustomResponseWithAnyReasonThenStatusAndBodyAreEnforcedAndThePhraseIsNginxs() throws Exception {
    String text = render(CORE, rules(rule("m", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"CustomResponse\" statusCode=\"405\" statusReason=\"Method Not Allowed\" statusDescription=\"\" />")));

    assertThat(answers(text)).containsExactly(List.of("return", "405"));
  }

  @Test
  void renderCustomResponseWithATemplateReasonThenTheReasonIsIgnored() throws Exception {
    String text = render(CORE, rules(rule("tr", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"CustomResponse\" statusCode=\"403\" statusReason=\"No {HTTP_HOST}\" statusDescription=\"\" />")));

    assertThat(answers(text)).containsExactly(List.of("return", "403"));
  }

  @Test
  void renderCustomResponseWithADescriptionTemplateThenNginxExpandsTheSameVariables() throws Exception {
    String text = render(CORE, rules(rule("td", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"CustomResponse\" statusCode=\"400\" statusReason=\"\" statusDescription=\"debug={QUERY_STRING} on {HTTP_HOST}\" />")));

    assertThat(answers(text)).containsExactly(List.of("return", "400", "debug=${args} on ${http_host}"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"{R:0}", "{C:1}", "{ToLower:{HTTP_HOST}}", "{SERVER_PROTOCOL}"})
  void renderCustomResponseWithADescriptionTemplateNginxCannotExpandThenRefuses(String template) {
    ActiveMitigation m = rules(rule("tc", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"(x)\" />",
        "<action type=\"CustomResponse\" statusCode=\"400\" statusReason=\"\" statusDescription=\"x" + template + "\" />"));

    assertThat(refusal(NJS, m)).contains("rule \"tc\"", template).doesNotContain("njs, which is off");
  }

  @ParameterizedTest
  @ValueSource(ints = {301, 302, 444, 101})
  void renderCustomResponseWithAStatusReturnCannotAnswerPlainlyThenRefuses(int status) {
    String reason = refusal(CORE, rules(rule("s", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"CustomResponse\" statusCode=\"" + status + "\" statusReason=\"\" statusDescription=\"\" />")));

    assertThat(reason).contains("status " + status);
  }

  @Test
  void renderRedirectToAnAbsoluteUrlThenAppendsTheQueryStringAsIisDoes() throws Exception {
    String text = render(CORE, rules(rule("moved", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"Redirect\" url=\"https://example.com/new\" redirectType=\"Found\" />")));

    assertThat(text).contains("return 302 \"https://example.com/new$is_args$args\";");
  }

  @Test
  void renderRedirectToARelativeUrlThenRefusesBecauseNginxMakesItAbsolute() {
    String reason = refusal(CORE, rules(rule("rel", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"Redirect\" url=\"/down\" />")));

    assertThat(reason).contains("rule \"rel\"", "absolute_redirect", "/down");
  }

  @Test
  void renderRedirectWithAVariableAndNoQueryAppendedThenNginxExpandsIt() throws Exception {
    String text = render(CORE, rules(rule("tpl", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"Redirect\" url=\"https://{HTTP_HOST}/login\" appendQueryString=\"false\" />")));

    assertThat(answers(text)).containsExactly(List.of("return", "301", "https://${http_host}/login"));
  }

  @Test
  void renderRedirectWithAVariableAndTheQueryAppendedThenRefusesBecauseTheSeparatorIsNotKnown() {
    String reason = refusal(CORE, rules(rule("tpl", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"Redirect\" url=\"https://{HTTP_HOST}/x\" />")));

    assertThat(reason).contains("rule \"tpl\"", "appendQueryString");
  }

  @Test
  void renderRedirectWithARuleCaptureThenRefuses() {
    String reason = refusal(NJS, rules(rule("cap", "", "^blog/(.*)$", "",
        "<action type=\"Redirect\" url=\"https://example.com/posts/{R:1}\" appendQueryString=\"false\" />")));

    assertThat(reason).contains("rule \"cap\"", "{R:1}");
  }

  @ParameterizedTest
  @ValueSource(strings = {"{URL}", "{UrlDecode:{REQUEST_URI}}", "{ url }"})
  void renderRedirectToADecodedValueThenRefusesBecauseALineBreakWouldReachTheLocationHeader(String input) {
    String reason = refusal(NJS, rules(rule("crlf", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"Redirect\" url=\"https://example.com" + input + "\" appendQueryString=\"false\" />")));

    assertThat(reason).contains("rule \"crlf\"", input, "decoded value that may hold a line break");
  }

  @Test
  void renderADescriptionWithALineBreakThenRefusesSoThatNoLineCanPassForADirectiveInTheDump() {
    String reason = refusal(CORE, rules(rule("nl", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"CustomResponse\" statusCode=\"403\" statusReason=\"\" statusDescription=\"Blocked.&#10;pid"
            + " /nonexistent/nginx.pid;\" />")));

    assertThat(reason).contains("rule \"nl\"", "control character U+000A");
  }

  @Test
  void renderRewriteThenRefuses() {
    String reason = refusal(CORE, rules(rule("rw", "", "^a$", "", "<action type=\"Rewrite\" url=\"/b\" />")));

    assertThat(reason).contains("mitigation TQ-1.1", "rule \"rw\"", "Rewrite");
  }

  @Test
  void renderDisableEndpointThenReturnsItsStatusOnThePrefixIgnoringCaseOnSegmentBoundaries() throws Exception {
    String text = render(CORE, TestMitigations.enforce("TQ-2", new Action.DisableEndpoint("/ecp", 503, Optional.empty())));

    assertThat(text).containsPattern("if \\(\\$uri ~ \"[^\"]+\"\\) \\{ return 503; \\}");
    String prefix = onlyRegexOn(text, "$uri");
    for (String path : List.of("/ecp", "/ECP/", "/eCp/default.aspx")) {
      assertThat(pcreFinds(prefix, path)).as(path).isTrue();
    }
    for (String path : List.of("/ecpx", "/owa/ecp", "/", "/ec")) {
      assertThat(pcreFinds(prefix, path)).as(path).isFalse();
    }
  }

  @Test
  void renderAuthPolicyThenRefusesBasicAndAnonymousOnThePrefixWith401() throws Exception {
    String text = render(CORE, TestMitigations.enforce("TQ-3",
        new Action.AuthPolicy("/owa", Set.of(Action.AuthPolicy.Refusal.BASIC, Action.AuthPolicy.Refusal.ANONYMOUS))));

    assertThat(text)
        .contains("if ($http_authorization = \"\") { set $tq_r1_any 1; }")
        .contains("return 401;");
    String basic = onlyRegexOn(text, "$http_authorization");
    for (String value : List.of("Basic dTpw", "basic dTpw", "BASIC\tdTpw", "  Basic x", "Basic")) {
      assertThat(pcreFinds(basic, value)).as(value).isTrue();
    }
    for (String value : List.of("Bearer abc", "Basicx", "Negotiate Basic", "")) {
      assertThat(pcreFinds(basic, value)).as(value).isFalse();
    }
    String prefix = onlyRegexOn(text, "$uri");
    assertThat(pcreFinds(prefix, "/OWA/auth")).isTrue();
    assertThat(pcreFinds(prefix, "/owa2")).isFalse();
  }

  @Test
  void renderResponseRulesThenRefusesBecauseCoreNginxCannotRewriteResponseHeaders() {
    ActiveMitigation csp = TestMitigations.enforce("M2", Action.ResponseRules.ofXml(
        "<rewrite><outboundRules><rule name=\"csp\"><match serverVariable=\"RESPONSE_Content_Security_Policy\""
        + " pattern=\"(.*)\" /><action type=\"Rewrite\" value=\"{R:1}; script-src-attr 'none'\" /></rule>"
        + "</outboundRules></rewrite>"));

    assertThat(refusal(CORE, csp)).contains("mitigation M2.1", "response-rules", "response headers");
  }

  @Test
  void renderDisableServiceOnlyThenTheIncludeAppliesNothing() throws Exception {
    String text = render(CORE, TestMitigations.enforce("TQ-4",
        new Action.DisableService("MSExchangeFoo", Set.of(Action.DisableService.Manager.SYSTEMD))));

    assertThat(text).doesNotContain("if (").doesNotContain("return");
  }

  @Test
  void renderAMitigationInAuditModeWithoutNjsThenNothingIsApplied() throws Exception {
    ActiveMitigation audit = TestMitigations.audit("TQ-5", new Action.DisableEndpoint("/ecp", 503, Optional.empty()));

    String text = render(CORE, audit);

    assertThat(text).contains("audit").doesNotContain("return 503");
  }

  @Test
  void renderAMitigationInAuditModeWithNjsThenMatchesRecordAHitAndNothingAnswers() throws Exception {
    ActiveMitigation audit = TestMitigations.audit("TQ-5", new Action.DisableEndpoint("/ecp", 503, Optional.empty()),
        Action.RequestRules.ofXml("<rewrite><rules>" + rule("first", "", ".*",
            "><add input=\"{HTTP_COOKIE}\" pattern=\"a\" />", "<action type=\"AbortRequest\" />")
            + rule("second", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"b\" />", "<action type=\"AbortRequest\" />")
            + "</rules></rewrite>"));

    String text = render(NJS, audit);

    assertThat(NginxTokens.statements(text)).noneMatch(st -> st.name().equals("return"));
    assertThat(text)
        .contains("set $tq_hit_key \"TQ-5/1/1\";")
        .contains("set $tq_hit_key \"TQ-5/2/1\";")
        .contains("set $tq_hit_key \"TQ-5/2/2\";");
    assertThat(NginxRenderer.auditName(audit.mitigation(), "TQ-5/1/1")).hasValue("disable-endpoint /ecp");
    assertThat(NginxRenderer.auditName(audit.mitigation(), "TQ-5/2/2")).hasValue("second");
    assertThat(NginxRenderer.auditName(audit.mitigation(), "TQ-5/2/3")).isEmpty();
    assertThat(NginxRenderer.auditName(audit.mitigation(), "OTHER/1/1")).isEmpty();
    assertThat(NginxRenderer.auditName(audit.mitigation(), "TQ-5/x/1")).isEmpty();
  }

  @Test
  void renderMitigationsThenEachKeepsItsOwnStopFlagInTheGivenOrder() throws Exception {
    ActiveMitigation a = TestMitigations.rulesXml("A", "<rewrite><rules>" + rule("stop-a", "stopProcessing=\"true\"", ".*",
        "><add input=\"{REQUEST_METHOD}\" pattern=\"^GET$\" />", "<action type=\"None\" />")
        + rule("after-a", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"a\" />", "<action type=\"AbortRequest\" />")
        + "</rules></rewrite>");
    ActiveMitigation b = TestMitigations.rulesXml("B", "<rewrite><rules>" + rule("in-b", "", ".*",
        "><add input=\"{HTTP_COOKIE}\" pattern=\"b\" />", "<action type=\"AbortRequest\" />") + "</rules></rewrite>");

    String text = render(CORE, a, b);

    assertThat(text.indexOf("mitigation A.1")).isLessThan(text.indexOf("mitigation B.1"));
    String partB = text.substring(text.indexOf("mitigation B.1"));
    assertThat(partB).as("B's rules are not gated by A's stop flag").doesNotContain("$tq_s1");
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void renderRequestRulesThenRequestsTheRuleEngineCannotEvaluateAreAnswered400First(boolean njs) throws Exception {
    String text = render(njs ? NJS : CORE, rules(rule("c", "", ".*",
        "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />", "<action type=\"AbortRequest\" />")));

    // Every test that answers 400 must come before the first rule.
    List<NginxTokens.Statement> statements = NginxTokens.statements(text);
    int firstRule = text.indexOf("# rule c");
    assertThat(text.lastIndexOf("return 400;")).isLessThan(firstRule);
    List<String> guards = new ArrayList<>();
    for (int i = 0; i + 1 < statements.size(); i++) {
      if (statements.get(i).name().equals("if") && statements.get(i + 1).tokens().equals(List.of("return", "400"))) {
        guards.add(String.join(" ", statements.get(i).tokens()));
      }
    }
    assertThat(guards).as("400 guards in %s", text).isNotEmpty();
    // What the guards refuse, decided with the regexes themselves where they are regexes on core variables.
    List<String> onRequest = regexesOn(text, "$request");
    List<String> onUri = regexesOn(text, "$request_uri");
    if (!njs) {
      assertThat(onRequest).as("core mode checks the request line").hasSize(1);
      assertThat(onUri).as("core mode checks the path's encoding").hasSize(1);
    }
    if (!onRequest.isEmpty()) {
      assertThat(pcreFinds(onRequest.get(0), "GET /x?y HTTP/1.1")).isTrue();
      assertThat(pcreFinds(onRequest.get(0), "GET http://example.com/ HTTP/1.1")).isFalse();
    }
    if (!onUri.isEmpty()) {
      assertThat(pcreFinds(onUri.get(0), "/caf%C3%A9/x?q=%FF")).isTrue();
      assertThat(pcreFinds(onUri.get(0), "/a%F0%9F%98%80")).isTrue();
      assertThat(pcreFinds(onUri.get(0), "/bad%C3%28")).isFalse();
      assertThat(pcreFinds(onUri.get(0), "/bad%C3")).isFalse();
      assertThat(pcreFinds(onUri.get(0), "/surrogate%ED%A0%80")).isFalse();
      assertThat(pcreFinds(onUri.get(0), "/overlong%C0%AF")).isFalse();
      assertThat(pcreFinds(onUri.get(0), "/toolarge%F4%90%80%80")).isFalse();
    }
  }

  // ---------------------------------------------------------------------------------------------- inputs

  @Test
  void renderInputsWithAnExactNginxVariableThenUsesIt() throws Exception {
    String[][] inputs = {
        {"{REQUEST_URI}", "$request_uri"}, {"{UNENCODED_URL}", "$request_uri"}, {"{HTTP_URL}", "$request_uri"},
        {"{QUERY_STRING}", "$args"}, {"{REQUEST_METHOD}", "$request_method"}, {"{HTTP_METHOD}", "$request_method"}, {"{SERVER_PORT}", "$server_port"}, {"{REMOTE_ADDR}", "$remote_addr"},
        {"{HTTP_COOKIE}", "$http_cookie"}, {"{HTTP_HOST}", "$http_host"}, {"{HTTPS}", "$tq_https"}};
    for (String[] io : inputs) {
      String text = render(CORE, rules(rule("in", "", ".*", "><add input=\"" + io[0] + "\" pattern=\"x\" />",
          "<action type=\"AbortRequest\" />")));
      assertThat(text).as(io[0]).contains("if (" + io[1] + " ~ ");
    }
  }

  @Test
  void renderHttpsThenMapsNginxsOnOrEmptyToOnOrOff() throws Exception {
    String text = render(CORE, rules(rule("tls", "", ".*", "><add input=\"{HTTPS}\" pattern=\"^off$\" />",
        "<action type=\"AbortRequest\" />")));

    assertThat(text).contains("set $tq_https off;").contains("if ($https = on) { set $tq_https on; }");
  }

  @Test
  void renderAnotherHeaderOnNginxBefore123ThenRefusesBecauseRepeatedFieldsAreNotJoined() throws Exception {
    ActiveMitigation ua = rules(rule("ua", "", ".*", "><add input=\"{HTTP_USER_AGENT}\" pattern=\"sqlmap\" />",
        "<action type=\"AbortRequest\" />"));

    assertThat(refusal(CORE, ua)).contains("{HTTP_USER_AGENT}", "1.23.0", "first of repeated header fields");
    assertThat(render(NGINX_1_23, ua)).contains("if ($http_user_agent ~ ");
    assertThat(render(NJS, ua)).as("njs joins the fields itself").contains("js_set $tq_njs_header_1 tq_njs.header;");
  }

  @ParameterizedTest
  @ValueSource(strings = {"{ToLower:{REQUEST_URI}}", "{UrlEncode:{QUERY_STRING}}", "{SERVER_PROTOCOL}", "{HTTP_VERSION}",
      "{HTTP_HOST}{REQUEST_URI}", "{R:0}", "{C:1}", "{UrlDecode:{HTTP_COOKIE}}"})
  void renderAnInputWithoutAnExactNginxEquivalentThenRefusesNamingIt(String input) {
    String reason = refusal(NJS, rules(rule("in", "", ".*", "><add input=\"" + input + "\" pattern=\"x\" />",
        "<action type=\"AbortRequest\" />")));

    assertThat(reason).contains("rule \"in\"", "condition 1", input);
  }

  @Test
  void renderUrlDecodeOfTheRequestUriWithoutNjsThenRefusesAndWithNjsImportsTheScript() throws Exception {
    ActiveMitigation m1 = TestMitigations.rules("M1", TestMitigations.read(
        TestMitigations.sharedFixture("eems-m1.1-cve-2022-41040.xml")));

    assertThat(refusal(CORE, m1)).contains("EEMS M1.1 PowerShell - inbound", "{UrlDecode:{REQUEST_URI}}", "njs");
    String text = render(NJS, m1);
    assertThat(text)
        .contains("js_import tq_njs from \"/var/lib/tourniquet/nginx/tourniquet.js\";")
        .contains("js_set $tq_njs_decodedRequestUri tq_njs.decodedRequestUri;")
        .contains("if ($tq_njs_decodedRequestUri ~ ");
    assertThat(answers(text)).containsExactly(List.of("return", "444"));
  }

  @Test
  void renderAMatchUrlPatternWithoutNjsThenRefusesBecauseUriIsNormalised() throws Exception {
    ActiveMitigation path = rules(rule("path", "", "^admin/", "", "<action type=\"AbortRequest\" />"));

    assertThat(refusal(CORE, path)).contains("rule \"path\"", "match url", "njs");
    assertThat(render(NJS, path)).contains("if ($tq_njs_path ~ ");
  }

  // -------------------------------------------------------------------------------------------- patterns

  @Test
  void translateIgnoringCaseThenSpellsOutTheSameOrbitsAsTheRuleEngine() throws Exception {
    String k = PcreTranslator.translate("^k$", PatternSyntax.ECMA_SCRIPT, true);
    assertThat(List.of("k", "K", "\u212A")).allMatch(v -> pcreFinds(k, v));
    String s = PcreTranslator.translate("^s$", PatternSyntax.ECMA_SCRIPT, true);
    assertThat(List.of("s", "S", "\u017F")).allMatch(v -> pcreFinds(s, v));
    String exact = PcreTranslator.translate("^k$", PatternSyntax.ECMA_SCRIPT, false);
    assertThat(pcreFinds(exact, "k")).isTrue();
    assertThat(pcreFinds(exact, "K")).isFalse();
  }

  @Test
  void translateDollarThenKeepsNetsMeaningOfEndOrBeforeAFinalNewline() throws Exception {
    String cmd = PcreTranslator.translate("\\.cmd$", PatternSyntax.ECMA_SCRIPT, false);
    assertThat(pcreFinds(cmd, "x/run.cmd")).isTrue();
    assertThat(pcreFinds(cmd, "x/run.cmd\n")).as("before a final newline").isTrue();
    assertThat(pcreFinds(cmd, "x/run.cmd\nx")).isFalse();
    assertThat(pcreFinds(cmd, "x/runxcmd")).isFalse();
  }

  @Test
  void translateWildcardAndExactMatchThenAnchorsBothEnds() throws Exception {
    String exact = PcreTranslator.translate("exact/Path.aspx", PatternSyntax.EXACT_MATCH, false);
    assertThat(pcreFinds(exact, "exact/Path.aspx")).isTrue();
    assertThat(pcreFinds(exact, "exact/Path.aspx/x")).isFalse();
    assertThat(pcreFinds(exact, "exact/PathXaspx")).as("the dot is literal").isFalse();
    String wildcard = PcreTranslator.translate("files/*.php", PatternSyntax.WILDCARD, false);
    assertThat(pcreFinds(wildcard, "files/a/b.php")).as("* spans slashes").isTrue();
    assertThat(pcreFinds(wildcard, "files/a\nb.php")).as("* spans newlines").isTrue();
    assertThat(pcreFinds(wildcard, "xfiles/a.php")).isFalse();
    assertThat(pcreFinds(wildcard, "files/a.php5")).isFalse();
  }

  @Test
  void translateMicrosoftsPatternsThenAcceptsThem() throws Exception {
    String m1 = PcreTranslator.translate("(?=.*autodiscover)(?=.*powershell)", PatternSyntax.ECMA_SCRIPT, true);
    assertThat(pcreFinds(m1, "/autodiscover/autodiscover.json?@evil.com/PowerShell/")).isTrue();
    assertThat(pcreFinds(m1, "/powershell?x=AutoDiscover")).as("either order").isTrue();
    assertThat(pcreFinds(m1, "/a\n/autodiscover/powershell")).as("on a later line").isTrue();
    assertThat(pcreFinds(m1, "/autodiscover\n/powershell")).as("a newline between the words, as .NET's dot").isFalse();
    assertThat(pcreFinds(m1, "/autodiscover/autodiscover.xml")).isFalse();
    String r1 = PcreTranslator.translate(".*autodiscover\\.json.*\\@.*Powershell.*", PatternSyntax.ECMA_SCRIPT, true);
    assertThat(pcreFinds(r1, "/autodiscover/autodiscover.json?@evil.com/powershell")).isTrue();
    assertThat(pcreFinds(r1, "/autodiscover/autodiscover.json?evil.com/powershell")).isFalse();
    String beresource = PcreTranslator.translate("(.*)X-BEResource=(.+)/(.+)~(.+)", PatternSyntax.ECMA_SCRIPT, true);
    assertThat(pcreFinds(beresource, "a=b; X-BEResource=srv/ews/x~1942062522")).isTrue();
    assertThat(pcreFinds(beresource, "a=b; X-BEResource=srv~1942062522")).isFalse();
    assertThat(PcreTranslator.translate("(.*)X-AnonResource-Backend(.*)", PatternSyntax.ECMA_SCRIPT, true)).isNotEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"(a+)+b", "(a|ab)*c", "(?:x*y*)+z", "(\\w+\\s?)*$"})
  void translateAPatternThatCouldBacktrackExponentiallyThenRefuses(String pattern) {
    assertThatThrownBy(() -> PcreTranslator.translate(pattern, PatternSyntax.ECMA_SCRIPT, true))
        .isInstanceOf(PcreTranslator.Untranslatable.class)
        .hasMessageContaining("quantifier");
  }

  @Test
  void renderAPatternThatCouldBacktrackThenTheRefusalNamesRuleAndPattern() {
    String reason = refusal(CORE, rules(rule("redos", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"(a+)+b\" />",
        "<action type=\"AbortRequest\" />")));

    assertThat(reason).contains("rule \"redos\"", "condition 1", "(a+)+b");
  }

  @ParameterizedTest
  @ValueSource(strings = {"(?i)abc", "a(?=b)c", "(?<=a)b"})
  void translateAConstructOutsideTheTranslatedSubsetThenRefuses(String pattern) {
    assertThatThrownBy(() -> PcreTranslator.translate(pattern, PatternSyntax.ECMA_SCRIPT, false))
        .isInstanceOf(PcreTranslator.Untranslatable.class);
  }

  @Test
  void translateAnyPatternThenTheOutputHoldsNothingNginxQuotingTreatsSpecially() throws Exception {
    for (String pattern : List.of("\"; return 200 pwned; #", "a\\\\b\\$c", "x{2}\\{\\};", "[\"';{}$\\\\]", "\\n\\t\\r")) {
      String pcre = PcreTranslator.translate(pattern, PatternSyntax.ECMA_SCRIPT, false);
      assertThat(pcre).as(pattern).doesNotContain("\"", ";", "'", " ", "$", "#", "\n", "\t");
    }
  }

  // ---------------------------------------------------------------------------------- quoting, injection

  @Test
  void quoteThenNginxReadsBackExactlyTheText() {
    for (String text : List.of("plain", "a\"b", "back\\slash", "\\n is not a newline", "semi; colon } brace {",
        "trailing backslash \\", "multi\nline")) {
      List<String> tokens = NginxTokens.read("return 200 " + NginxRenderer.quote(text) + ";");
      assertThat(tokens).as(text).containsExactly("return", "200", text, ";");
    }
  }

  @Test
  void renderHostileTextInEveryFieldThenTheIncludeHoldsOnlyTheExpectedDirectives() throws Exception {
    String hostile = "x\"; return 200 \"pwned\"; } server { listen 1; # } if (1) { \\";
    String xmlHostile = hostile.replace("&", "&amp;").replace("\"", "&quot;").replace("<", "&lt;").replace("\n", "&#10;");
    ActiveMitigation m = TestMitigations.rulesXml("TQ-6", "<rewrite><rules>"
        + "<rule name=\"" + xmlHostile + "\"><match url=\".*\" /><conditions>"
        + "<add input=\"{HTTP_COOKIE}\" pattern=\"" + xmlHostile.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
            .replace("(", "\\(").replace(")", "\\)") + "\" /></conditions>"
        + "<action type=\"CustomResponse\" statusCode=\"403\" statusReason=\"\" statusDescription=\""
            + xmlHostile.replace("{", "(").replace("}", ")") + "\" /></rule></rules></rewrite>");

    String text = render(CORE, m);

    List<NginxTokens.Statement> statements = NginxTokens.statements(text);
    assertThat(statements).as("top-level directives of %s", text)
        .filteredOn(st -> st.depth() == 0).extracting(NginxTokens.Statement::name).containsOnly("set", "if");
    assertThat(statements).as("directives inside if blocks")
        .filteredOn(st -> st.depth() == 1).extracting(NginxTokens.Statement::name).containsOnly("set", "return");
    assertThat(statements).allMatch(st -> st.depth() <= 1);
    assertThat(answers(text)).containsExactly(List.of("return", "403", hostile.replace("{", "(").replace("}", ")")));
  }

  @Test
  void renderARuleNameWithNginxSyntaxThenItStaysInsideItsComment() throws Exception {
    // The rules module refuses control characters in names, so a name cannot end the comment's line.
    ActiveMitigation m = rules("<rule name=\"a } return 200; { b\"><match url=\".*\" /><conditions>"
        + "<add input=\"{HTTP_COOKIE}\" pattern=\"x\" /></conditions><action type=\"AbortRequest\" /></rule>");

    String text = render(CORE, m);

    assertThat(text).contains("# rule a } return 200; { b\n");
    assertThat(answers(text)).containsExactly(List.of("return", "444"));
  }

  @Test
  void renderADescriptionWithADollarThenRefusesBecauseNginxWouldReadAVariable() {
    String reason = refusal(CORE, rules(rule("d", "", ".*", "><add input=\"{HTTP_COOKIE}\" pattern=\"x\" />",
        "<action type=\"CustomResponse\" statusCode=\"403\" statusReason=\"\" statusDescription=\"costs $5\" />")));

    assertThat(reason).contains("rule \"d\"", "costs $5", "'$'");
  }
}
