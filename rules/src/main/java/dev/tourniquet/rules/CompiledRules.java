package dev.tourniquet.rules;

import dev.tourniquet.rules.RuleCompiler.ConditionStep;
import dev.tourniquet.rules.RuleCompiler.InboundStep;
import dev.tourniquet.rules.RuleCompiler.OutboundStep;
import dev.tourniquet.rules.RuleCompiler.PreConditionStep;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A validated rule set, ready to evaluate requests and responses. Safe to share between threads, and
 * immutable in meaning: the one mutable part is a per-guard memo of recent outcomes, a cache that cannot
 * change a decision (see {@code GuardMemo}); each evaluating thread also keeps a scratch area for it.
 *
 * <h2>How a request is evaluated</h2>
 *
 * <p>Semantically, exactly as IIS: global rules, then rules, in order; a rule applies when its
 * {@code <match>} and its conditions hold; {@code None} and {@code Rewrite} go on to the next rule unless
 * the rule has {@code stopProcessing}; {@code Redirect}, {@code CustomResponse} and {@code AbortRequest}
 * end processing.
 *
 * <p>Operationally, most rules are never looked at, and the cost of a request is driven by the request,
 * not by the number of rules. At compile time each rule gets a <em>trigger</em>, a cheap test that must
 * pass for the rule to apply at all. In order of preference:
 *
 * <ol>
 *   <li><b>literals</b>: one input (the URL, or a condition's input such as {@code {HTTP_COOKIE}}) and a set
 *       of literals, one of which must occur in it (see {@link LiteralExtractor}). Per request, each
 *       distinct input is expanded once and scanned once for all its literals: by a {@link SkipScan},
 *       which reads a few characters per window, when every literal of the input has at least {@value
 *       #SKIP_SCAN_MIN_LENGTH} characters, otherwise (and when the skip scan gives up on an input made to
 *       slow it down) by an Aho-Corasick automaton ({@link AhoCorasick});
 *   <li><b>header presence</b>: a condition on <code>{HTTP_X}</code> that cannot hold on an empty value
 *       needs the header; per request, each header field is looked up once in a table of such headers;
 *   <li><b>guard</b>: any other condition the rule needs (under MatchAll), typically a negated allow-list
 *       such as <code>{REQUEST_METHOD}</code> not matching {@code ^(GET|POST)$} behind a {@code .*} match,
 *       or else its {@code <match url>} when that is not {@code .*}-like. Identical guards of different
 *       rules are evaluated once per request;
 *   <li>otherwise the rule is evaluated on every request (a rule with no necessary condition at all).
 * </ol>
 *
 * The rules whose trigger fired are collected (deduplicated with per-thread stamps, so nothing is
 * cleared or scanned per rule), sorted, and walked in order; a rule is fully evaluated only then. A
 * {@code Rewrite} changes the inputs the triggers were computed from, so after one the walk visits every
 * remaining rule.
 *
 * <p>When a rule reads no <code>{R:n}</code> (or no <code>{C:n}</code>), its match (or its conditions) are
 * decided with {@link CompiledPattern#matches}, which needs no captures and often no search at all.
 */
public final class CompiledRules {
  /** A literal shorter than this is too common to be worth a trigger. */
  private static final int MIN_TRIGGER_SCORE = 3;
  /**
   * An input whose literals are all at least this long is searched with a {@link SkipScan} instead of an
   * automaton. Measured on the benchmark's cookies and user agents: at 5 characters the two cost about the
   * same, from 6 on the skip scan is faster (1.5 times at 6, 3 times at 10). One shorter literal sends the
   * whole input to the automaton, since scanning it twice would cost more than the automaton alone.
   */
  static final int SKIP_SCAN_MIN_LENGTH = 6;
  /** The trigger input key for the {@code <match url>} input. */
  private static final String MATCH_URL = "\0match-url";
  /** Headers nearly every request carries: their presence selects almost nothing, so a guard is preferred. */
  private static final Set<String> COMMON_HEADERS = Set.of("HOST", "USER_AGENT", "ACCEPT", "ACCEPT_ENCODING",
      "ACCEPT_LANGUAGE", "CONNECTION", "COOKIE", "CONTENT_TYPE", "CONTENT_LENGTH", "AUTHORIZATION", "REFERER",
      "CACHE_CONTROL", "ORIGIN", "PRAGMA");

  private final RuleSet ruleSet;
  private final Limits limits;
  private final InboundStep[] inbound;
  private final OutboundStep[] outbound;
  /** Per inbound rule: whether any of its templates reads {R:n}, resp. {C:n}. */
  private final boolean[] readsRuleCaptures;
  private final boolean[] readsConditionCaptures;
  /** Whether any rule reads the decoded path, so that an ambiguous one must be refused (see {@link AmbiguousPath}). */
  private final boolean readsDecodedPath;
  /** Rules without a trigger, in order. */
  private final int[] alwaysCandidates;
  private final TriggerInput[] triggerInputs;
  private final HeaderPresence presence;
  private final Guard[] guards;
  private final int literalCount;
  private final ThreadLocal<Scratch> scratch;
  /**
   * Per guard, {@link GuardMemo#WAYS} remembered outcomes (guard {@code g}'s are at {@code g * WAYS} and
   * on); a cache that never changes a decision (see {@link GuardMemo}).
   */
  private final GuardMemo[] guardMemos;

  /**
   * One distinct input and the search over every literal that rules expect in it: an {@link AhoCorasick}
   * automaton, and a {@link SkipScan} (null unless the shortest literal is long enough for it to pay)
   * tried first; the automaton takes over when the skip scan gives up on an input.
   */
  private record TriggerInput(String key, Template template, AhoCorasick automaton, SkipScan skipScan, int firstLiteral,
      int[][] rulesByLiteral) {}

  /** One candidate trigger of a rule: an input key, its template (null for the URL) and its literals. */
  private record Trigger(String key, Template template, Set<String> literals) {}

  /** A condition (or the URL match, when {@code template} is null) that some rules need to hold. */
  private record Guard(String key, Template template, CompiledPattern pattern, boolean negate, int[] rules) {}

  /**
   * A condition guard's outcome for one input value. Guards read inputs such as the method or the host,
   * which take a handful of values on a server, so a few remembered answers per guard save nearly every
   * search (one remembered answer was not enough: a server's hosts and methods interleave). The slot of a
   * value is its hash modulo {@link #WAYS}, and a new value replaces the slot's old one. The URL varies
   * from request to request, so a guard on the {@code <match url>} is not remembered (it would only make
   * a benchmark that repeats one request look faster than real traffic). Each memo is immutable and
   * replaced whole, so threads racing on a slot see one complete memo or another, never a mix.
   */
  private record GuardMemo(String value, boolean holds) {
    /** Longer values are not remembered: they rarely repeat, and a memo should not pin a large string. */
    static final int MAX_VALUE_LENGTH = 256;
    /** Remembered values per guard, a power of two. */
    static final int WAYS = 8;
  }

  CompiledRules(RuleSet ruleSet, Limits limits, InboundStep[] inbound, OutboundStep[] outbound) {
    this.ruleSet = ruleSet;
    this.limits = limits;
    this.inbound = inbound;
    this.outbound = outbound;
    int n = inbound.length;
    this.readsRuleCaptures = new boolean[n];
    this.readsConditionCaptures = new boolean[n];
    boolean readsPath = false;
    for (int i = 0; i < n; i++) {
      InboundStep step = inbound[i];
      List<Template> templates = new ArrayList<>();
      templates.add(step.url());
      templates.add(step.reason());
      templates.add(step.description());
      for (ConditionStep c : step.conditions()) {
        templates.add(c.input());
      }
      for (Template t : templates) {
        if (t != null) {
          readsRuleCaptures[i] |= t.maxBackReference('R') >= 0;
          readsConditionCaptures[i] |= t.maxBackReference('C') >= 0;
          readsPath |= t.readsUrl();
        }
      }
      // A <match url> that can fail reads the path; so does any {R:n}, the match's captures of it.
      readsPath |= !(step.match().alwaysMatches() && !step.matchNegate()) || readsRuleCaptures[i];
    }
    for (OutboundStep step : outbound) {
      List<ConditionStep> conditions = new ArrayList<>(List.of(step.conditions()));
      if (step.preCondition() != null) {
        conditions.addAll(List.of(step.preCondition().items()));
      }
      for (ConditionStep c : conditions) {
        readsPath |= c.input().readsUrl();
      }
      readsPath |= step.value() != null && step.value().readsUrl();
    }
    this.readsDecodedPath = readsPath;

    // First the literal triggers; the rest is decided once every rule's guard options are known.
    List<Integer> always = new ArrayList<>();
    Map<String, Map<String, List<Integer>>> byInput = new LinkedHashMap<>();
    Map<String, Template> templates = new HashMap<>();
    Map<Integer, List<Guard>> guardOptions = new LinkedHashMap<>();
    Map<String, Integer> guardUse = new HashMap<>();
    Map<String, List<Integer>> presenceRules = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      List<Trigger> triggers = triggers(inbound[i]);
      if (triggers == null) {
        guardOptions.put(i, guardOptions(inbound[i]));
        for (Guard g : guardOptions.get(i)) {
          guardUse.merge(g.key(), 1, Integer::sum);
        }
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
    Map<String, Guard> guardsByKey = new LinkedHashMap<>();
    Map<String, List<Integer>> guardRules = new HashMap<>();
    for (Map.Entry<Integer, List<Guard>> e : guardOptions.entrySet()) {
      int i = e.getKey();
      List<String> headers = presenceKeys(inbound[i]);
      String rare = headers.stream().filter(h -> !COMMON_HEADERS.contains(h)).findFirst().orElse(null);
      Guard guard = e.getValue().stream().max(Comparator.comparingInt(g -> guardUse.get(g.key()))).orElse(null);
      if (rare != null || (guard == null && !headers.isEmpty())) {
        presenceRules.computeIfAbsent(rare != null ? rare : headers.get(0), h -> new ArrayList<>()).add(i);
      } else if (guard != null) {
        guardsByKey.putIfAbsent(guard.key(), guard);
        guardRules.computeIfAbsent(guard.key(), k -> new ArrayList<>()).add(i);
      } else {
        always.add(i);
      }
    }
    this.alwaysCandidates = always.stream().mapToInt(Integer::intValue).toArray();
    this.guards = guardsByKey.values().stream()
        .map(g -> new Guard(g.key(), g.template(), g.pattern(), g.negate(),
            guardRules.get(g.key()).stream().mapToInt(Integer::intValue).toArray()))
        .toArray(Guard[]::new);
    this.presence = presenceRules.isEmpty() ? null : new HeaderPresence(presenceRules);
    this.guardMemos = new GuardMemo[guards.length * GuardMemo.WAYS];

    List<TriggerInput> inputs = new ArrayList<>();
    int literalIds = 0;
    for (Map.Entry<String, Map<String, List<Integer>>> e : byInput.entrySet()) {
      List<String> literals = new ArrayList<>(e.getValue().keySet());
      int[][] rulesByLiteral = new int[literals.size()][];
      for (int l = 0; l < literals.size(); l++) {
        rulesByLiteral[l] = e.getValue().get(literals.get(l)).stream().mapToInt(Integer::intValue).toArray();
      }
      boolean skip = literals.stream().allMatch(l -> l.length() >= SKIP_SCAN_MIN_LENGTH);
      inputs.add(new TriggerInput(e.getKey(), templates.get(e.getKey()), new AhoCorasick(literals),
          skip ? new SkipScan(literals) : null, literalIds, rulesByLiteral));
      literalIds += literals.size();
    }
    this.triggerInputs = inputs.toArray(new TriggerInput[0]);
    this.literalCount = literalIds;
    int literals = literalIds;
    this.scratch = ThreadLocal.withInitial(() -> new Scratch(literals, n));
  }

  /**
   * The rule's literal triggers: it can match only if one of them fires. Null when no useful literal
   * trigger exists.
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

  /** The conditions every application of the rule needs: all of them under MatchAll, a lone one under MatchAny. */
  private static List<ConditionStep> necessaryConditions(InboundStep step) {
    ConditionStep[] conditions = step.conditions();
    if (step.grouping() == LogicalGrouping.MATCH_ALL || conditions.length == 1) {
      return List.of(conditions);
    }
    return List.of();
  }

  /**
   * Header keys the rule needs present: a necessary condition on exactly <code>{HTTP_X}</code> that does
   * not hold on the empty value (an absent header reads as "").
   */
  private static List<String> presenceKeys(InboundStep step) {
    List<String> keys = new ArrayList<>();
    for (ConditionStep c : necessaryConditions(step)) {
      List<Template.Part> parts = c.input().parts();
      if (parts.size() == 1 && parts.get(0) instanceof Template.Variable v && v.header()
          && c.pattern().matches("") == c.negate()) {
        keys.add(v.name().substring(5));
      }
    }
    return keys;
  }

  /** The necessary factors of a rule that can be decided on their own, before the rule is evaluated. */
  private static List<Guard> guardOptions(InboundStep step) {
    List<Guard> options = new ArrayList<>();
    for (ConditionStep c : necessaryConditions(step)) {
      if (!c.input().usesBackReferences() && !(c.pattern().alwaysMatches() && !c.negate())) {
        options.add(new Guard(c.input().canonical() + "\0" + c.negate() + "\0" + patternKey(c.pattern()), c.input(),
            c.pattern(), c.negate(), null));
      }
    }
    if (!(step.match().alwaysMatches() && !step.matchNegate())) {
      options.add(new Guard(MATCH_URL + "\0" + step.matchNegate() + "\0" + patternKey(step.match()), null,
          step.match(), step.matchNegate(), null));
    }
    return options;
  }

  /** Two patterns with the same key decide every input alike: the key is the translated RE2 text. */
  private static String patternKey(CompiledPattern pattern) {
    return pattern.getClass().getSimpleName() + ":" + pattern;
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
   * @throws RequestException if the request is malformed or over a limit, or its path is ambiguous while a
   *     rule reads the decoded path ({@link #readsDecodedPath()}); the caller should answer it
   *     with {@link RequestException#suggestedStatus()} rather than let it through
   */
  public Decision evaluate(HttpRequest request) {
    Scratch s = scratch.get();
    RequestContext ctx = RequestContext.of(request, null, limits, s.headerIndex);
    checkPath(ctx);
    if (inbound.length == 0) {
      return Decision.ALLOW;
    }
    collectCandidates(ctx, request, s);
    return walk(ctx, s.candidates, false);
  }

  /**
   * The same decision, computed the plain way: every rule in order, every pattern searched with RE2 and
   * its captures taken. The reference the prefilter and the shortcuts are tested against.
   */
  Decision evaluateSequentially(HttpRequest request) {
    RequestContext ctx = RequestContext.of(request, null, limits);
    checkPath(ctx);
    return walk(ctx, null, true);
  }

  /**
   * Whether a rule reads the decoded path ({@code <match url>} other than {@code .*}, {@code {URL}},
   * {@code {R:n}}); if so, {@link #evaluate} and {@link #evaluateResponse} refuse an ambiguous path.
   *
   * @return true if the rules read the decoded path
   */
  public boolean readsDecodedPath() {
    return readsDecodedPath;
  }

  /** Refuses an ambiguous path when a rule reads the decoded path (see {@link AmbiguousPath}). */
  private void checkPath(RequestContext ctx) {
    if (readsDecodedPath) {
      AmbiguousPath.check(ctx.target(), ctx.pathEnd());
    }
  }

  /** Fills {@code s.candidates} with the rules whose trigger fires, in ascending order. */
  private void collectCandidates(RequestContext ctx, HttpRequest request, Scratch s) {
    s.begin();
    IntBuffer hits = s.hits;
    for (TriggerInput input : triggerInputs) {
      String value = input.template() == null ? ctx.matchInput() : input.template().expand(ctx);
      hits.clear();
      int base = input.firstLiteral();
      int[][] rulesByLiteral = input.rulesByLiteral();
      SkipScan skipScan = input.skipScan();
      if (skipScan != null && skipScan.scan(value, hits)) {
        for (int h = 0; h < hits.size(); h++) {
          int literal = hits.get(h);
          if (s.firstSightOfLiteral(base + literal)) {
            for (int rule : rulesByLiteral[literal]) {
              s.add(rule);
            }
          }
        }
        continue;
      }
      // No skip scan for this input, or it gave up: its partial hits are dropped and the automaton decides.
      hits.clear();
      AhoCorasick automaton = input.automaton();
      automaton.scan(value, hits);
      for (int h = 0; h < hits.size(); h++) {
        for (int literal : automaton.outputs(hits.get(h))) {
          if (s.firstSightOfLiteral(base + literal)) {
            for (int rule : rulesByLiteral[literal]) {
              s.add(rule);
            }
          }
        }
      }
    }
    if (presence != null) {
      List<Header> headers = request.headers();
      for (int h = 0, n = headers.size(); h < n; h++) {
        int[] rules = presence.rules(headers.get(h).name(), ctx.headerHash(h));
        if (rules != null) {
          for (int rule : rules) {
            s.add(rule);
          }
        }
      }
    }
    for (int g = 0; g < guards.length; g++) {
      Guard guard = guards[g];
      String value = guard.template() == null ? ctx.matchInput() : guard.template().expand(ctx);
      boolean holds;
      if (guard.template() == null || value.length() > GuardMemo.MAX_VALUE_LENGTH) {
        holds = guard.pattern().matches(value) != guard.negate();
      } else {
        int hash = value.hashCode();
        int slot = g * GuardMemo.WAYS + ((hash ^ (hash >>> 16)) & (GuardMemo.WAYS - 1));
        GuardMemo memo = guardMemos[slot];
        if (memo != null && memo.value().equals(value)) {
          holds = memo.holds();
        } else {
          holds = guard.pattern().matches(value) != guard.negate();
          guardMemos[slot] = new GuardMemo(value, holds);
        }
      }
      if (holds) {
        for (int rule : guard.rules()) {
          s.add(rule);
        }
      }
    }
    for (int rule : alwaysCandidates) {
      s.add(rule);
    }
    s.candidates.sort();
  }

  /**
   * A Location value with every control character percent-encoded ({@code %0D}, {@code %0A}, …): the path a
   * redirect copies in ({@code {R:1}}, {@code {URL}}) is decoded, so a request for {@code /a%0D%0ASet-Cookie:…}
   * would otherwise put a line break, and a header of the attacker's choosing, into the response.
   */
  static String headerSafe(String location) {
    StringBuilder out = null;
    for (int i = 0; i < location.length(); i++) {
      char c = location.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        if (out == null) {
          out = new StringBuilder(location.length() + 8).append(location, 0, i);
        }
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      } else if (out != null) {
        out.append(c);
      }
    }
    return out == null ? location : out.toString();
  }

  /**
   * The ordered walk over {@code candidates} (every rule when null); {@code reference} evaluates every
   * pattern with its captures, ignoring the shortcuts.
   */
  private Decision walk(RequestContext ctx, IntBuffer candidates, boolean reference) {
    Decision rewritten = null;
    boolean everyRule = candidates == null;
    int pos = 0;
    int i = everyRule ? 0 : candidates.size() > 0 ? candidates.get(0) : inbound.length;
    while (i < inbound.length) {
      InboundStep step = inbound[i];
      if (applies(step, ctx, reference || readsRuleCaptures[i], reference || readsConditionCaptures[i])) {
        InboundAction action = step.action();
        if (action instanceof InboundAction.Rewrite rw) {
          rewritten = rewrite(step, rw, ctx);
          // The triggers were computed from the URL before the rewrite: from here on, visit every rule.
          everyRule = true;
        } else if (action instanceof InboundAction.Redirect rd) {
          return new Decision.Redirect(step.name(), rd.redirectType().status(),
              headerSafe(withQuery(step.url().expand(ctx), rd.appendQueryString() ? ctx.query() : "")));
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
      if (everyRule) {
        i++;
      } else {
        pos++;
        i = pos < candidates.size() ? candidates.get(pos) : inbound.length;
      }
    }
    return rewritten == null ? Decision.ALLOW : rewritten;
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

  /**
   * Whether the rule's match and conditions hold; leaves its captures in the context when asked for them
   * ({@code ruleCaptures}, {@code conditionCaptures}), and otherwise only decides.
   */
  private static boolean applies(InboundStep step, RequestContext ctx, boolean ruleCaptures, boolean conditionCaptures) {
    ctx.resetCaptures();
    if (!ruleCaptures) {
      if (step.match().matches(ctx.matchInput()) == step.matchNegate()) {
        return false;
      }
    } else {
      CompiledPattern.Captures m = step.match().match(ctx.matchInput());
      if (step.matchNegate() ? m != null : m == null) {
        return false;
      }
      if (m != null && !step.matchNegate()) {
        ctx.ruleCaptures = m;
      }
    }
    if (!conditionCaptures) {
      return conditionsDecide(step.grouping(), step.conditions(), ctx);
    }
    return conditionsHold(step.grouping(), step.trackAllCaptures(), step.conditions(), ctx);
  }

  /** Whether the conditions hold, when no {C:n} is read: no captures are taken. */
  private static boolean conditionsDecide(LogicalGrouping grouping, ConditionStep[] conditions, RequestContext ctx) {
    if (conditions.length == 0) {
      return true;
    }
    boolean all = grouping == LogicalGrouping.MATCH_ALL;
    for (ConditionStep c : conditions) {
      boolean holds = c.pattern().matches(c.input().expand(ctx)) != c.negate();
      if (all != holds) {
        // MatchAll and one fails, or MatchAny and one holds.
        return holds;
      }
    }
    return all;
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
   * @throws RequestException if the request is malformed or over a limit, or its path is ambiguous while a
   *     rule reads the decoded path
   */
  public List<Header> evaluateResponse(HttpRequest request, HttpResponse response) {
    RequestContext ctx = RequestContext.of(request, response, limits);
    checkPath(ctx);
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
    return alwaysCandidates.length;
  }

  /** The number of distinct trigger inputs, each scanned once per request. For tests. */
  int triggerInputCount() {
    return triggerInputs.length;
  }

  /** The number of trigger inputs searched with a {@link SkipScan}. For tests. */
  int skipScannedInputCount() {
    return (int) Arrays.stream(triggerInputs).filter(t -> t.skipScan() != null).count();
  }

  /** The number of distinct guards evaluated on every request. For tests. */
  int guardCount() {
    return guards.length;
  }

  /**
   * How the evaluator decides each inbound pattern it decides without captures ({@link
   * CompiledPattern#decisionShape}), one entry per pattern. For tests.
   */
  List<String> decisionShapes() {
    List<String> shapes = new ArrayList<>();
    for (int i = 0; i < inbound.length; i++) {
      if (!readsRuleCaptures[i]) {
        shapes.add(inbound[i].match().decisionShape());
      }
      if (!readsConditionCaptures[i]) {
        for (ConditionStep c : inbound[i].conditions()) {
          shapes.add(c.pattern().decisionShape());
        }
      }
    }
    return shapes;
  }

  /** The number of rules triggered by a header's presence. For tests. */
  int presenceTriggeredCount() {
    return presence == null ? 0 : presence.ruleCount();
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT,
        "CompiledRules[%d inbound, %d outbound, %d trigger inputs (%d skip-scanned), %d rules on header presence, %d guards for %d rules,"
            + " %d always evaluated]",
        inbound.length, outbound.length, triggerInputs.length, skipScannedInputCount(), presenceTriggeredCount(), guards.length,
        Arrays.stream(guards).mapToInt(g -> g.rules().length).sum(), alwaysEvaluatedCount());
  }

  /**
   * Per-thread working memory of {@link #evaluate}: candidates, scan hits, the arrays of the request's
   * header index, and stamps that mark a literal or rule as already seen in the current request. A new
   * request takes a new stamp, so nothing sized by the rule set is cleared per request.
   */
  private static final class Scratch {
    private int stamp;
    private final int[] literalStamps;
    private final int[] ruleStamps;
    final IntBuffer candidates = new IntBuffer(32);
    final IntBuffer hits = new IntBuffer(32);
    final RequestContext.HeaderIndex headerIndex = new RequestContext.HeaderIndex();

    Scratch(int literals, int rules) {
      literalStamps = new int[literals];
      ruleStamps = new int[rules];
    }

    void begin() {
      if (++stamp == Integer.MAX_VALUE) {
        Arrays.fill(literalStamps, 0);
        Arrays.fill(ruleStamps, 0);
        stamp = 1;
      }
      candidates.clear();
    }

    boolean firstSightOfLiteral(int literal) {
      if (literalStamps[literal] == stamp) {
        return false;
      }
      literalStamps[literal] = stamp;
      return true;
    }

    void add(int rule) {
      if (ruleStamps[rule] != stamp) {
        ruleStamps[rule] = stamp;
        candidates.add(rule);
      }
    }
  }

  /**
   * Rules keyed by the request header whose presence they need, looked up by the header field's name as
   * sent (any case, '-' or '_') and its suffix hash from {@link RequestContext#headerHash}: an
   * open-addressing table over the variable suffix.
   */
  private static final class HeaderPresence {
    private final String[] keys;
    /** Per slot, its key's hash, compared before the key itself. */
    private final int[] hashes;
    private final int[][] rules;
    private final int mask;
    private final int ruleCount;

    HeaderPresence(Map<String, List<Integer>> byKey) {
      // At most one slot in eight taken: most request headers then find an empty slot at once.
      int size = Integer.highestOneBit(Math.max(4, byKey.size() * 4)) * 2;
      keys = new String[size];
      hashes = new int[size];
      rules = new int[size][];
      mask = size - 1;
      int count = 0;
      for (Map.Entry<String, List<Integer>> e : byKey.entrySet()) {
        String key = e.getKey();
        int hash = RequestContext.keyHash(key, 0);
        int slot = hash & mask;
        while (keys[slot] != null) {
          slot = (slot + 1) & mask;
        }
        keys[slot] = key;
        hashes[slot] = hash;
        rules[slot] = e.getValue().stream().mapToInt(Integer::intValue).toArray();
        count += rules[slot].length;
      }
      ruleCount = count;
    }

    /** The rules that need a header of this name (whose suffix hashes to {@code hash}), or null. */
    int[] rules(String headerName, int hash) {
      for (int slot = hash & mask; keys[slot] != null; slot = (slot + 1) & mask) {
        if (hashes[slot] == hash && RequestContext.hasSuffix(headerName, keys[slot])) {
          return rules[slot];
        }
      }
      return null;
    }

    int ruleCount() {
      return ruleCount;
    }
  }
}
