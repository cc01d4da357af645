package dev.tourniquet.rules;

import dev.tourniquet.rules.RuleCompiler.ConditionStep;
import dev.tourniquet.rules.RuleCompiler.InboundStep;
import dev.tourniquet.rules.RuleCompiler.OutboundStep;
import dev.tourniquet.rules.RuleCompiler.PreConditionStep;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A validated rule set, ready to evaluate requests and responses. Immutable and safe to share between
 * threads.
 *
 * <h2>How a request is evaluated</h2>
 *
 * <p>Semantically, exactly as IIS: global rules, then rules, in order; a rule applies when its
 * {@code <match>} and its conditions hold; {@code None} and {@code Rewrite} go on to the next rule unless
 * the rule has {@code stopProcessing}; {@code Redirect}, {@code CustomResponse} and {@code AbortRequest}
 * end processing.
 *
 * <p>Operationally, most rules are never looked at. At compile time each rule gets a trigger: one input
 * (the URL, or a condition's input such as {@code {HTTP_COOKIE}}) and a set of literals, one of which
 * must occur in that input for the rule to match at all (see {@link LiteralExtractor}). Per request, each
 * distinct trigger input is expanded once and scanned once by an Aho-Corasick automaton over all its
 * literals; the hits mark candidate rules in a bit set. The ordered walk then visits only candidates and
 * the few rules without a trigger. So the cost is one pass per distinct input plus the rules that could
 * match, nearly flat in the number of rules. A {@code Rewrite} changes the inputs the triggers were
 * computed from, so after one the walk visits every remaining rule.
 */
public final class CompiledRules {
  /** A literal shorter than this is too common to be worth a trigger. */
  private static final int MIN_TRIGGER_SCORE = 3;
  /** The trigger input key for the {@code <match url>} input. */
  private static final String MATCH_URL = "\0match-url";

  private final RuleSet ruleSet;
  private final Limits limits;
  private final InboundStep[] inbound;
  private final OutboundStep[] outbound;
  private final long[] alwaysCandidates;
  private final TriggerInput[] triggerInputs;
  private final int literalCount;

  /** One distinct input and the automaton over every literal that rules expect in it. */
  private record TriggerInput(String key, Template template, AhoCorasick automaton, int firstLiteral, int[][] rulesByLiteral) {}

  /** One candidate trigger of a rule: an input key, its template (null for the URL) and its literals. */
  private record Trigger(String key, Template template, Set<String> literals) {}

  CompiledRules(RuleSet ruleSet, Limits limits, InboundStep[] inbound, OutboundStep[] outbound) {
    this.ruleSet = ruleSet;
    this.limits = limits;
    this.inbound = inbound;
    this.outbound = outbound;
    this.alwaysCandidates = new long[(inbound.length + 63) / 64];
    // input key -> literal -> rules
    Map<String, Map<String, List<Integer>>> byInput = new LinkedHashMap<>();
    Map<String, Template> templates = new HashMap<>();
    for (int i = 0; i < inbound.length; i++) {
      List<Trigger> triggers = triggers(inbound[i]);
      if (triggers == null) {
        alwaysCandidates[i >>> 6] |= 1L << i;
        continue;
      }
      for (Trigger t : triggers) {
        templates.putIfAbsent(t.key(), t.template());
        Map<String, List<Integer>> literals = byInput.computeIfAbsent(t.key(), k -> new LinkedHashMap<>());
        for (String literal : t.literals()) {
          List<Integer> rules = literals.computeIfAbsent(literal, l -> new ArrayList<>());
          if (rules.isEmpty() || rules.get(rules.size() - 1) != i) {
            rules.add(i);
          }
        }
      }
    }
    List<TriggerInput> inputs = new ArrayList<>();
    int literalIds = 0;
    for (Map.Entry<String, Map<String, List<Integer>>> e : byInput.entrySet()) {
      List<String> literals = new ArrayList<>(e.getValue().keySet());
      int[][] rulesByLiteral = new int[literals.size()][];
      for (int l = 0; l < literals.size(); l++) {
        rulesByLiteral[l] = e.getValue().get(literals.get(l)).stream().mapToInt(Integer::intValue).toArray();
      }
      inputs.add(new TriggerInput(e.getKey(), templates.get(e.getKey()), new AhoCorasick(literals), literalIds, rulesByLiteral));
      literalIds += literals.size();
    }
    this.triggerInputs = inputs.toArray(new TriggerInput[0]);
    this.literalCount = literalIds;
  }

  /**
   * The rule's triggers: it can match only if one of them fires. Null when no useful trigger exists and
   * the rule must always be evaluated.
   */
  private static List<Trigger> triggers(InboundStep step) {
    // Factors that must all hold: the match (unless negated) and, under MatchAll, each plain condition.
    Trigger best = null;
    if (!step.matchNegate()) {
      best = better(best, new Trigger(MATCH_URL, null, step.match().requiredLiterals()));
    }
    ConditionStep[] conditions = step.conditions();
    if (step.grouping() == LogicalGrouping.MATCH_ALL) {
      for (ConditionStep c : conditions) {
        if (usable(c)) {
          best = better(best, new Trigger(c.input().canonical(), c.input(), c.pattern().requiredLiterals()));
        }
      }
    } else if (conditions.length > 0) {
      // MatchAny: the disjunction is a factor only if every condition has a trigger.
      List<Trigger> any = new ArrayList<>();
      int score = Integer.MAX_VALUE;
      for (ConditionStep c : conditions) {
        if (!usable(c) || LiteralExtractor.score(c.pattern().requiredLiterals()) < MIN_TRIGGER_SCORE) {
          any = null;
          break;
        }
        any.add(new Trigger(c.input().canonical(), c.input(), c.pattern().requiredLiterals()));
        score = Math.min(score, LiteralExtractor.score(c.pattern().requiredLiterals()));
      }
      if (any != null && (best == null || score > LiteralExtractor.score(best.literals()))) {
        return any;
      }
    }
    if (best == null || LiteralExtractor.score(best.literals()) < MIN_TRIGGER_SCORE) {
      return null;
    }
    return List.of(best);
  }

  private static boolean usable(ConditionStep c) {
    return !c.negate() && !c.input().usesBackReferences() && c.pattern().requiredLiterals() != null;
  }

  private static Trigger better(Trigger current, Trigger candidate) {
    if (candidate.literals() == null) {
      return current;
    }
    if (current == null) {
      return candidate;
    }
    int a = LiteralExtractor.score(current.literals());
    int b = LiteralExtractor.score(candidate.literals());
    if (b > a || (b == a && candidate.literals().size() < current.literals().size())) {
      return candidate;
    }
    return current;
  }

  /**
   * Returns the rule set this was compiled from.
   *
   * @return the model
   */
  public RuleSet ruleSet() {
    return ruleSet;
  }

  /**
   * Returns the limits enforced on each request.
   *
   * @return the limits
   */
  public Limits limits() {
    return limits;
  }

  /**
   * Evaluates the inbound rules against a request.
   *
   * @param request the request
   * @return the decision
   * @throws RequestException if the request is malformed or over a limit; the caller should answer it
   *     with {@link RequestException#suggestedStatus()} rather than let it through
   */
  public Decision evaluate(HttpRequest request) {
    RequestContext ctx = RequestContext.of(request, null, limits);
    if (inbound.length == 0) {
      return Decision.ALLOW;
    }
    long[] candidates = candidates(ctx);
    return walk(ctx, candidates);
  }

  /** The same decision, computed without the prefilter: every rule is evaluated in order. For tests. */
  Decision evaluateSequentially(HttpRequest request) {
    RequestContext ctx = RequestContext.of(request, null, limits);
    return walk(ctx, null);
  }

  private long[] candidates(RequestContext ctx) {
    long[] candidates = alwaysCandidates.clone();
    if (triggerInputs.length == 0) {
      return candidates;
    }
    long[] seen = new long[(literalCount + 63) / 64];
    for (TriggerInput input : triggerInputs) {
      String value = input.template() == null ? ctx.matchInput() : input.template().expand(ctx);
      int base = input.firstLiteral();
      int[][] rulesByLiteral = input.rulesByLiteral();
      input.automaton().scan(value, literal -> {
        int id = base + literal;
        long bit = 1L << id;
        if ((seen[id >>> 6] & bit) != 0) {
          return;
        }
        seen[id >>> 6] |= bit;
        for (int rule : rulesByLiteral[literal]) {
          candidates[rule >>> 6] |= 1L << rule;
        }
      });
    }
    return candidates;
  }

  /** The ordered walk; {@code candidates} null means every rule. */
  private Decision walk(RequestContext ctx, long[] candidates) {
    Decision rewritten = null;
    int i = candidates == null ? 0 : nextCandidate(candidates, 0);
    while (i >= 0 && i < inbound.length) {
      InboundStep step = inbound[i];
      if (applies(step, ctx)) {
        InboundAction action = step.action();
        if (action instanceof InboundAction.Rewrite rw) {
          rewritten = rewrite(step, rw, ctx);
          // The triggers were computed from the URL before the rewrite: from here on, visit every rule.
          candidates = null;
        } else if (action instanceof InboundAction.Redirect rd) {
          return new Decision.Redirect(step.name(), rd.redirectType().status(),
              withQuery(step.url().expand(ctx), rd.appendQueryString() ? ctx.query() : ""));
        } else if (action instanceof InboundAction.CustomResponse cr) {
          return new Decision.Respond(step.name(), cr.statusCode(), cr.subStatusCode(),
              step.reason().expand(ctx), step.description().expand(ctx));
        } else if (action instanceof InboundAction.AbortRequest) {
          return new Decision.Abort(step.name());
        }
        if (step.stopProcessing()) {
          break;
        }
      }
      i = candidates == null ? i + 1 : nextCandidate(candidates, i + 1);
    }
    return rewritten == null ? Decision.ALLOW : rewritten;
  }

  private static int nextCandidate(long[] bits, int from) {
    int word = from >>> 6;
    if (word >= bits.length) {
      return -1;
    }
    long w = bits[word] & (-1L << from);
    while (true) {
      if (w != 0) {
        return (word << 6) + Long.numberOfTrailingZeros(w);
      }
      if (++word == bits.length) {
        return -1;
      }
      w = bits[word];
    }
  }

  private static Decision rewrite(InboundStep step, InboundAction.Rewrite rw, RequestContext ctx) {
    String url = step.url().expand(ctx);
    String query = "";
    int q = url.indexOf('?');
    if (q >= 0) {
      query = url.substring(q + 1);
      url = url.substring(0, q);
    }
    if (rw.appendQueryString() && !ctx.query().isEmpty()) {
      query = query.isEmpty() ? ctx.query() : query + "&" + ctx.query();
    }
    if (!url.startsWith("/")) {
      url = "/" + url;
    }
    ctx.rewrite(url, query);
    return new Decision.Rewrite(step.name(), query.isEmpty() ? url : url + "?" + query);
  }

  private static String withQuery(String location, String query) {
    if (query.isEmpty()) {
      return location;
    }
    return location + (location.indexOf('?') >= 0 ? "&" : "?") + query;
  }

  /** Whether the rule's match and conditions hold; leaves its captures in the context. */
  private static boolean applies(InboundStep step, RequestContext ctx) {
    ctx.resetCaptures();
    CompiledPattern.Captures m = step.match().match(ctx.matchInput());
    if (step.matchNegate() ? m != null : m == null) {
      return false;
    }
    if (m != null && !step.matchNegate()) {
      ctx.ruleCaptures = m;
    }
    return conditionsHold(step.grouping(), step.trackAllCaptures(), step.conditions(), ctx);
  }

  private static boolean conditionsHold(LogicalGrouping grouping, boolean trackAll, ConditionStep[] conditions,
      RequestContext ctx) {
    if (conditions.length == 0) {
      return true;
    }
    List<String> tracked = trackAll ? new ArrayList<>() : null;
    boolean any = false;
    for (ConditionStep c : conditions) {
      String value = c.input().expand(ctx);
      CompiledPattern.Captures m = c.pattern().match(value);
      boolean holds = c.negate() ? m == null : m != null;
      if (holds && m != null) {
        if (tracked != null) {
          for (int g = 0; g < m.count(); g++) {
            tracked.add(m.group(g));
          }
          ctx.conditionCaptures = CompiledPattern.Captures.of(tracked.toArray(new String[0]));
        } else {
          ctx.conditionCaptures = m;
        }
      }
      if (grouping == LogicalGrouping.MATCH_ALL && !holds) {
        return false;
      }
      if (grouping == LogicalGrouping.MATCH_ANY && holds) {
        any = true;
        break;
      }
    }
    return grouping == LogicalGrouping.MATCH_ALL || any;
  }

  /**
   * Runs the outbound rules on a response and returns its headers as they leave the server.
   *
   * @param request the request the response answers
   * @param response the application's response
   * @return the response headers after every outbound rule, in order (a rewritten header keeps its place;
   *     a header set by a rule that was absent comes last)
   * @throws RequestException if the request is malformed or over a limit
   */
  public List<Header> evaluateResponse(HttpRequest request, HttpResponse response) {
    RequestContext ctx = RequestContext.of(request, response, limits);
    List<Header> headers = new ArrayList<>(response.headers());
    for (OutboundStep step : outbound) {
      ctx.resetCaptures();
      if (step.preCondition() != null
          && !conditionsHold(step.preCondition().grouping(), false, step.preCondition().items(), ctx)) {
        continue;
      }
      ctx.resetCaptures();
      String current = joined(headers, step.headerKey());
      CompiledPattern.Captures m = step.match().match(current);
      if (step.matchNegate() ? m != null : m == null) {
        continue;
      }
      if (m != null && !step.matchNegate()) {
        ctx.ruleCaptures = m;
      }
      if (!conditionsHold(step.grouping(), step.trackAllCaptures(), step.conditions(), ctx)) {
        continue;
      }
      if (step.value() != null) {
        String value = step.value().expand(ctx);
        headers = replaceHeader(headers, step.headerKey(), step.headerName(), value);
        ctx = ctx.withResponse(new HttpResponse(response.status(), headers));
      }
      if (step.stopProcessing()) {
        break;
      }
    }
    return List.copyOf(headers);
  }

  private static String joined(List<Header> headers, String key) {
    String value = RequestContext.index(headers).get(key);
    return value == null ? "" : value;
  }

  /** Sets one header: the first field of that name takes the value, later ones go; empty removes it. */
  private static List<Header> replaceHeader(List<Header> headers, String key, String name, String value) {
    List<Header> out = new ArrayList<>(headers.size() + 1);
    boolean placed = false;
    for (Header h : headers) {
      if (RequestContext.variableSuffix(h.name()).equals(key)) {
        if (!placed && !value.isEmpty()) {
          out.add(new Header(h.name(), value));
        }
        placed = true;
      } else {
        out.add(h);
      }
    }
    if (!placed && !value.isEmpty()) {
      out.add(new Header(name, value));
    }
    return out;
  }

  /** The number of inbound rules evaluated on every request, having no trigger. For benchmarks and tests. */
  int alwaysEvaluatedCount() {
    int n = 0;
    for (long w : alwaysCandidates) {
      n += Long.bitCount(w);
    }
    return n;
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "CompiledRules[%d inbound, %d outbound, %d always evaluated, %d trigger inputs]",
        inbound.length, outbound.length, alwaysEvaluatedCount(), triggerInputs.length);
  }
}
