package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A property test over random rule sets and requests: compiling throws nothing but
 * {@link RuleValidationException}, evaluating nothing but {@link RequestException}, and the prefiltered
 * evaluator always reaches the same decision as the plain ordered one. The seed is fixed so a failure
 * reproduces; the message names the rule set and request.
 */
class RandomRulesTest {
  private static final String[] WORDS = {"admin", "autodiscover", "powershell", "ab", "x", "login", "api", "cmd", "ſ", "K"};
  private static final String[] FRAGMENTS = {
    "admin", "autodiscover", "powershell", "ab", "x", "login", "api/v[12]", "cmd=", "\\.aspx", ".*", ".+", "[a-z]+", "\\d*",
    "(a|b)", "(login|admin)", "^", "$", "(.*)", "[^/]+", "(?i)ADMIN",
    "a{2,3}", "\\bapi\\b", "k", "s",
  };
  /** Lookahead conjunctions, valid only at the start of a pattern. */
  private static final String[] CONJUNCTIONS = {"(?=.*admin)(?=.*x)", "^(?=.*api)(?=.*cmd)", "(?=.*autodiscover)(?=.*powershell)"};
  /** Constructs the compiler must reject; drawn rarely so that most rule sets compile. */
  private static final String[] INVALID_FRAGMENTS = {"(?<=a)", "\\1", "(", "admin(?=x)", "[z-a]"};
  private static final String[] INPUTS = {
    "{URL}", "{QUERY_STRING}", "{REQUEST_URI}", "{UrlDecode:{REQUEST_URI}}", "{HTTP_COOKIE}", "{HTTP_X_A}",
    "{ToLower:{HTTP_USER_AGENT}}", "{R:0}", "{C:1}", "{HTTP_HOST}{URL}", "{REQUEST_METHOD}",
  };
  private static final String[] INVALID_INPUTS = {"{NOPE}", "{R:7}", "{Map:{URL}}", "{URL"};

  @Test
  void randomRuleSetsThenOnlyDocumentedErrorsAndPrefilterAgreesWithSequentialOrder() {
    Random random = new Random(1128L);
    int compiled = 0;
    int evaluated = 0;
    // The fast paths the plain evaluator does not take: guards, header presence, decision shortcuts.
    int guards = 0;
    int presence = 0;
    int shortcuts = 0;
    int skipScanned = 0;
    for (int round = 0; round < 600; round++) {
      RuleSet set = randomRuleSet(random);
      CompiledRules rules;
      try {
        rules = RuleCompiler.compile(set);
      } catch (RuleValidationException e) {
        assertThat(e.problems()).isNotEmpty();
        continue;
      }
      compiled++;
      guards += rules.guardCount();
      presence += rules.presenceTriggeredCount();
      skipScanned += rules.skipScannedInputCount();
      shortcuts += (int) rules.decisionShapes().stream().filter(shape -> !shape.equals("search")).count();
      for (int i = 0; i < 40; i++) {
        HttpRequest request = randomRequest(random);
        Decision fast;
        try {
          fast = rules.evaluate(request);
        } catch (RequestException e) {
          assertThat(e.suggestedStatus()).isIn(400, 414, 431);
          continue;
        }
        Decision plain = rules.evaluateSequentially(request);
        assertThat(fast).as("rule set %s%nrequest %s", RuleJson.write(set), request).isEqualTo(plain);
        List<Header> out = rules.evaluateResponse(request, new HttpResponse(200,
            List.of(new Header("Content-Type", random.nextBoolean() ? "text/html" : "application/json"),
                new Header("Server", "test"))));
        assertThat(out).isNotNull();
        evaluated++;
      }
    }
    assertThat(compiled).isGreaterThan(100);
    assertThat(evaluated).isGreaterThan(4000);
    assertThat(guards).isGreaterThan(10);
    assertThat(presence).isGreaterThan(10);
    assertThat(shortcuts).isGreaterThan(500);
    assertThat(skipScanned).isGreaterThan(50);
  }

  private static RuleSet randomRuleSet(Random random) {
    List<InboundRule> rules = new ArrayList<>();
    int n = 1 + random.nextInt(25);
    for (int i = 0; i < n; i++) {
      PatternSyntax syntax = random.nextInt(10) == 0 ? PatternSyntax.WILDCARD
          : random.nextInt(10) == 0 ? PatternSyntax.EXACT_MATCH : PatternSyntax.ECMA_SCRIPT;
      List<Condition> conditions = new ArrayList<>();
      for (int c = random.nextInt(4); c > 0; c--) {
        String input = random.nextInt(150) == 0 ? pick(random, INVALID_INPUTS) : pick(random, INPUTS);
        conditions.add(new Condition(input, pattern(random, syntax), random.nextInt(4) != 0, random.nextInt(6) == 0));
      }
      rules.add(new InboundRule("r" + i, random.nextInt(10) != 0, syntax, random.nextInt(3) == 0,
          new UrlMatch(pattern(random, syntax), random.nextInt(4) != 0, random.nextInt(8) == 0),
          new Conditions(random.nextBoolean() ? LogicalGrouping.MATCH_ALL : LogicalGrouping.MATCH_ANY, random.nextInt(5) == 0,
              conditions),
          action(random)));
    }
    List<OutboundRule> outbound = new ArrayList<>();
    List<PreCondition> pre = new ArrayList<>();
    if (random.nextInt(3) == 0) {
      pre.add(new PreCondition("html", LogicalGrouping.MATCH_ALL, PatternSyntax.ECMA_SCRIPT,
          List.of(new Condition("{RESPONSE_CONTENT_TYPE}", "^text/html", true, false))));
      outbound.add(new OutboundRule("csp", true, PatternSyntax.ECMA_SCRIPT, random.nextBoolean(),
          random.nextBoolean() ? Optional.of("html") : Optional.empty(),
          new HeaderMatch("RESPONSE_Content_Security_Policy", "(.*)", true, false), Conditions.NONE,
          new OutboundAction.Rewrite("{R:1}; script-src-attr 'none'")));
      outbound.add(new OutboundRule("server", true, PatternSyntax.ECMA_SCRIPT, false, Optional.empty(),
          new HeaderMatch("RESPONSE_Server", pattern(random, PatternSyntax.ECMA_SCRIPT), true, random.nextBoolean()),
          Conditions.NONE, new OutboundAction.Rewrite("")));
    }
    List<InboundRule> global = random.nextInt(4) == 0 ? List.of(rules.remove(0)) : List.of();
    return new RuleSet(global, rules, pre, outbound);
  }

  private static String pattern(Random random, PatternSyntax syntax) {
    if (syntax == PatternSyntax.WILDCARD) {
      return (random.nextBoolean() ? "*" : "") + pick(random, WORDS) + (random.nextBoolean() ? "*" : "/*");
    }
    if (syntax == PatternSyntax.EXACT_MATCH) {
      return pick(random, WORDS);
    }
    if (random.nextInt(6) == 0) {
      // A conjunction may be followed only by a part that begins with .* (or be rejected, rarely).
      String rest = random.nextInt(3) == 0 ? ".*" + pick(random, FRAGMENTS) : random.nextInt(100) == 0 ? "[^/]+" : "";
      return pick(random, CONJUNCTIONS) + rest;
    }
    StringBuilder p = new StringBuilder();
    boolean dollar = false;
    for (int k = 1 + random.nextInt(3); k > 0; k--) {
      String fragment = random.nextInt(150) == 0 ? pick(random, INVALID_FRAGMENTS) : pick(random, FRAGMENTS);
      if (fragment.equals("$") && k > 1 && random.nextInt(20) != 0) {
        // A $ with more of the pattern after it is refused (it would not decide as .NET does); mostly move it last.
        dollar = true;
        continue;
      }
      p.append(fragment);
    }
    return dollar ? p.append('$').toString() : p.toString();
  }

  private static InboundAction action(Random random) {
    switch (random.nextInt(5)) {
      case 0:
        return new InboundAction.None();
      case 1:
        return new InboundAction.Rewrite(random.nextBoolean() ? "/rewritten/{R:0}" : "login?from={C:0}", random.nextBoolean());
      case 2:
        return new InboundAction.Redirect("https://{HTTP_HOST}/{R:0}", random.nextBoolean(), RedirectType.FOUND);
      case 3:
        return new InboundAction.CustomResponse(403, 0, "Forbidden", "{URL}");
      default:
        return new InboundAction.AbortRequest();
    }
  }

  private static HttpRequest randomRequest(Random random) {
    StringBuilder target = new StringBuilder("/");
    for (int k = random.nextInt(4); k > 0; k--) {
      target.append(pick(random, new String[] {
          "admin", "API", "autodiscover", "%50owershell", "x", "login", "%0A", "%zz", "cmd=", "v1", "%E2%84%AA", "\u212A", "a.aspx",
          "/", "?", "&", "ab", "%2F",
      }));
    }
    List<Header> headers = new ArrayList<>();
    headers.add(new Header("Host", "example.com"));
    if (random.nextBoolean()) {
      headers.add(new Header("Cookie", random.nextInt(3) == 0 ? longValue(random)
          : pick(random, WORDS) + "=" + pick(random, WORDS)));
    }
    if (random.nextBoolean()) {
      headers.add(new Header("X-A", pick(random, WORDS)));
    }
    if (random.nextBoolean()) {
      headers.add(new Header("User-Agent", random.nextInt(3) == 0 ? longValue(random)
          : pick(random, new String[] {"curl/8", "sqlmap", "Mozilla/5.0 ADMIN"})));
    }
    return new HttpRequest(random.nextBoolean() ? "GET" : "POST", target.toString(), HttpRequest.HTTP_1_1, headers, "203.0.113.9",
        random.nextBoolean(), 443);
  }

  /** A value long enough for the skip scan to split it in two halves, words anywhere in it. */
  private static String longValue(Random random) {
    StringBuilder value = new StringBuilder();
    while (value.length() < 64 + random.nextInt(80)) {
      value.append(random.nextInt(4) == 0 ? pick(random, WORDS) : "q0=").append(random.nextBoolean() ? "; " : "");
    }
    return value.toString();
  }

  private static String pick(Random random, String[] from) {
    return from[random.nextInt(from.length)];
  }
}
