package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The triggers that replace "evaluate on every request": literal scans (the automaton, or the skip scan
 * when every literal of an input is long), and for rules without a literal, header presence and shared
 * guards. Each must only skip rules that cannot apply, so the prefiltered evaluator must agree with the
 * plain ordered one (every rule, every pattern searched by RE2 with captures).
 */
class TriggerTest {
  private static final InboundAction ABORT = new InboundAction.AbortRequest();

  @Test
  void identicalNegatedConditionsThenOneSharedGuardAndNoRuleEvaluatedAlways() {
    List<InboundRule> rules = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      rules.add(rule("method allow-list " + i, ".*", LogicalGrouping.MATCH_ALL,
          new Condition("{REQUEST_METHOD}", "^(GET|HEAD|POST)$", true, true)));
    }
    CompiledRules compiled = RuleCompiler.compile(new RuleSet(List.of(), rules, List.of(), List.of()));

    assertThat(compiled.guardCount()).isEqualTo(1);
    assertThat(compiled.alwaysEvaluatedCount()).isZero();
    assertThat(compiled.evaluate(request("get", "/owa/"))).isEqualTo(Decision.ALLOW);
    assertThat(compiled.evaluate(request("DEBUG", "/owa/")).rule()).isEqualTo("method allow-list 0");
  }

  @Test
  void headerPresenceConditionThenTriggeredByTheHeaderInAnyCase() {
    CompiledRules compiled = RuleCompiler.compile(new RuleSet(List.of(), List.of(
        rule("debug token", ".*", LogicalGrouping.MATCH_ALL, new Condition("{HTTP_X_DEBUG_TOKEN}", ".+", true, false))),
        List.of(), List.of()));

    assertThat(compiled.presenceTriggeredCount()).isEqualTo(1);
    assertThat(compiled.alwaysEvaluatedCount()).isZero();
    assertThat(compiled.evaluate(request("GET", "/", new Header("x-debug-token", "1"))).rule()).isEqualTo("debug token");
    assertThat(compiled.evaluate(request("GET", "/", new Header("X-Debug-Token", "1"))).rule()).isEqualTo("debug token");
    assertThat(compiled.evaluate(request("GET", "/", new Header("X-Debug-Token", "")))).isEqualTo(Decision.ALLOW);
    assertThat(compiled.evaluate(request("GET", "/", new Header("X-Debug", "1")))).isEqualTo(Decision.ALLOW);
  }

  @Test
  void conditionThatHoldsOnAnEmptyValueThenNotAPresenceTrigger() {
    CompiledRules compiled = RuleCompiler.compile(new RuleSet(List.of(), List.of(
        rule("no referer", ".*", LogicalGrouping.MATCH_ALL, new Condition("{HTTP_REFERER}", "^$", true, false))),
        List.of(), List.of()));

    assertThat(compiled.presenceTriggeredCount()).isZero();
    assertThat(compiled.evaluate(request("GET", "/")).rule()).isEqualTo("no referer");
    assertThat(compiled.evaluate(request("GET", "/", new Header("Referer", "https://a.example/")))).isEqualTo(Decision.ALLOW);
  }

  @Test
  void randomGuardAndPresenceRuleSetsThenPrefilterAgreesWithSequentialOrder() {
    Random random = new Random(4242L);
    String[] inputs = {"{REQUEST_METHOD}", "{HTTP_HOST}", "{HTTP_X_A}", "{HTTP_X_B}", "{HTTP_COOKIE}", "{URL}", "{QUERY_STRING}"};
    String[] patterns = {".+", ".*", "^$", "^(GET|HEAD)$", "^a", "b$", "^[a-z]+\\.example$", "(.+)", "x", "^.*$", "ab|ba"};
    String[] urls = {".*", "^owa/", "(.*)", ".+", "^$", "admin"};
    int guards = 0;
    int presence = 0;
    int always = 0;
    int compared = 0;
    for (int round = 0; round < 400; round++) {
      List<InboundRule> rules = new ArrayList<>();
      for (int i = 1 + random.nextInt(12); i > 0; i--) {
        List<Condition> conditions = new ArrayList<>();
        for (int c = random.nextInt(3); c > 0; c--) {
          conditions.add(new Condition(pick(random, inputs), pick(random, patterns), random.nextBoolean(), random.nextInt(3) == 0));
        }
        InboundAction action = random.nextInt(4) == 0 ? new InboundAction.Rewrite("/r/{R:0}", false)
            : random.nextBoolean() ? ABORT : new InboundAction.CustomResponse(403, 0, "Forbidden", "{C:0}");
        rules.add(new InboundRule("r" + rules.size(), random.nextBoolean(), PatternSyntax.ECMA_SCRIPT, random.nextBoolean(),
            new UrlMatch(pick(random, urls), true, random.nextInt(6) == 0),
            new Conditions(random.nextInt(3) == 0 ? LogicalGrouping.MATCH_ANY : LogicalGrouping.MATCH_ALL, random.nextInt(4) == 0,
                conditions),
            action));
      }
      CompiledRules compiled = RuleCompiler.compile(new RuleSet(List.of(), rules, List.of(), List.of()));
      guards += compiled.guardCount();
      presence += compiled.presenceTriggeredCount();
      always += compiled.alwaysEvaluatedCount();
      for (int r = 0; r < 30; r++) {
        HttpRequest request = randomRequest(random);
        assertThat(compiled.evaluate(request)).as("rules %s%nrequest %s", RuleJson.write(compiled.ruleSet()), request)
            .isEqualTo(compiled.evaluateSequentially(request));
        compared++;
      }
    }
    assertThat(compared).isEqualTo(12_000);
    assertThat(guards).isGreaterThan(100);
    assertThat(presence).isGreaterThan(50);
    assertThat(always).isGreaterThan(20);
  }

  @Test
  void inputsWhoseLiteralsAreAllLongThenSkipScannedAndAgreeWithSequentialOrder() {
    Random random = new Random(6060L);
    String[] words = {"kestrel", "harbor", "x-beresource", "powershell", "autodiscover", "walnut", "Kelp"};
    String[] inputs = {"{HTTP_COOKIE}", "{HTTP_USER_AGENT}", "{UrlDecode:{REQUEST_URI}}", "{QUERY_STRING}"};
    int skipScanned = 0;
    int automata = 0;
    int stopped = 0;
    int compared = 0;
    for (int round = 0; round < 200; round++) {
      List<InboundRule> rules = new ArrayList<>();
      List<String> used = new ArrayList<>();
      for (int i = 1 + random.nextInt(15); i > 0; i--) {
        String word = pick(random, words) + random.nextInt(100);
        used.add(word);
        // Mostly long literals; now and then a short one, which sends its whole input back to the automaton.
        String pattern = switch (random.nextInt(6)) {
          case 0 -> "(^|;\\s*)" + word + "=[^;]*\\.\\./";
          case 1 -> "(?=.*" + word + ")(?=.*powershell)";
          case 2 -> "^" + word + "/";
          case 3 -> "(" + word + "|" + pick(random, words) + "-debug)";
          case 4 -> random.nextInt(4) == 0 ? "cmd" : word + "\\.json.*powershell";
          default -> ".*" + word + "=(.+)/(.+)~(.+)";
        };
        Condition condition = new Condition(pick(random, inputs), pattern, random.nextInt(4) != 0, false);
        String url = random.nextInt(3) == 0 ? "^(ecp|owa)/" + word : ".*";
        rules.add(new InboundRule("r" + rules.size(), true, PatternSyntax.ECMA_SCRIPT, random.nextBoolean(),
            new UrlMatch(url, true, false), new Conditions(LogicalGrouping.MATCH_ALL, false, List.of(condition)),
            random.nextInt(4) == 0 ? new InboundAction.Rewrite("/r/{R:0}", false) : ABORT));
      }
      CompiledRules compiled = RuleCompiler.compile(new RuleSet(List.of(), rules, List.of(), List.of()));
      skipScanned += compiled.skipScannedInputCount();
      automata += compiled.triggerInputCount() - compiled.skipScannedInputCount();
      for (int r = 0; r < 40; r++) {
        HttpRequest request = longRequest(random, used.toArray(new String[0]));
        // Paths with '../' and '//' are refused (ambiguous) when a rule reads the path: both ways alike.
        Object decision = outcome(() -> compiled.evaluate(request));
        assertThat(decision).as("rules %s%nrequest %s", RuleJson.write(compiled.ruleSet()), request)
            .isEqualTo(outcome(() -> compiled.evaluateSequentially(request)));
        stopped += decision instanceof Decision.Abort ? 1 : 0;
        compared++;
      }
    }
    assertThat(compared).isEqualTo(8_000);
    assertThat(skipScanned).isGreaterThan(300);
    assertThat(automata).isGreaterThan(20);
    assertThat(stopped).isGreaterThan(1000);
  }

  @Test
  void cookieBuiltToSlowTheSkipScanThenTheAutomatonTakesOverAndTheRuleStillFires() {
    List<InboundRule> rules = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      rules.add(rule("r" + i, ".*", LogicalGrouping.MATCH_ALL,
          new Condition("{HTTP_COOKIE}", String.format(java.util.Locale.ROOT, "(^|;\\s*)x-%03d-zzqj", i), true, false)));
    }
    CompiledRules compiled = RuleCompiler.compile(new RuleSet(List.of(), rules, List.of(), List.of()));
    assertThat(compiled.skipScannedInputCount()).isEqualTo(1);
    // Every literal's window starts with "x-" and ends in "zqj", so each such window below compares all 300
    // literals (see SkipScanTest).
    String slow = "x-abc-zzqj".repeat(100);
    HttpRequest attack = request("GET", "/", new Header("Cookie", slow + "; x-299-zzqj=1"));
    assertThat(compiled.evaluate(attack)).isEqualTo(new Decision.Abort("r299")).isEqualTo(compiled.evaluateSequentially(attack));
    HttpRequest harmless = request("GET", "/", new Header("Cookie", slow + "; x-299-zzqk=1"));
    assertThat(compiled.evaluate(harmless)).isEqualTo(Decision.ALLOW).isEqualTo(compiled.evaluateSequentially(harmless));
  }

  /** Cookie, user agent and target long enough for two-halves scans, with the rules' words anywhere in them. */
  /** The decision, or the message of the refusal. */
  private static Object outcome(Supplier<Decision> evaluation) {
    try {
      return evaluation.get();
    } catch (RequestException e) {
      return e.getMessage();
    }
  }

  private static HttpRequest longRequest(Random random, String[] words) {
    String[] pieces = {"ClientId=8F2A1C0D4B5E", "; ", "/", "../", "=localhost/owa/?~19", "powershell", "%50ower%53hell", "q", "Mozilla/5.0 "};
    StringBuilder cookie = new StringBuilder();
    StringBuilder agent = new StringBuilder();
    StringBuilder target = new StringBuilder(random.nextBoolean() ? "/owa/" : "/ecp/");
    for (StringBuilder b : List.of(cookie, agent, target)) {
      for (int k = random.nextInt(40); k > 0; k--) {
        String piece = random.nextInt(5) == 0 ? pick(random, words) : pick(random, pieces);
        // A ".." segment in the path makes the request unevaluable (IIS resolves it before its rules run):
        // in the target, "../" follows a character, so the path keeps its "../" but never as a segment.
        b.append(b == target && piece.equals("../") ? "x../" : piece);
      }
    }
    String t = target.toString().replace(" ", "%20").replace(";", "%3B").replace("\u212A", "%E2%84%AA");
    return new HttpRequest("GET", t + (random.nextBoolean() ? "?" + pick(random, words) + "=1" : ""), HttpRequest.HTTP_1_1,
        List.of(new Header("Cookie", cookie.toString()), new Header("User-Agent", agent.toString())), "192.0.2.1", false, 80);
  }

  private static HttpRequest randomRequest(Random random) {
    List<Header> headers = new ArrayList<>();
    String[] names = {"Host", "host", "X-A", "x-a", "X_A", "X-B", "x-B", "Cookie", "X-\u0131", "Referer"};
    String[] values = {"", "a", "ab", "mail.example", "GET", "x", "ba\n", "\u212A"};
    for (int h = random.nextInt(5); h > 0; h--) {
      headers.add(new Header(pick(random, names), pick(random, values)));
    }
    String[] methods = {"GET", "get", "HEAD", "POST", "DEBUG"};
    String[] targets = {"/", "/owa/", "/owa/x?a=1", "/admin", "/ab?ba", "/OWA/%41dmin"};
    return new HttpRequest(pick(random, methods), pick(random, targets), HttpRequest.HTTP_1_1, headers, "192.0.2.1", false, 80);
  }

  private static InboundRule rule(String name, String url, LogicalGrouping grouping, Condition... conditions) {
    return new InboundRule(name, true, PatternSyntax.ECMA_SCRIPT, true, new UrlMatch(url, true, false),
        new Conditions(grouping, false, List.of(conditions)), ABORT);
  }

  private static HttpRequest request(String method, String target, Header... headers) {
    return new HttpRequest(method, target, HttpRequest.HTTP_1_1, List.of(headers), "192.0.2.1", false, 80);
  }

  private static String pick(Random random, String[] from) {
    return from[random.nextInt(from.length)];
  }
}
