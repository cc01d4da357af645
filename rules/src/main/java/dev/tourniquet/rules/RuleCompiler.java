package dev.tourniquet.rules;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Validates a {@link RuleSet} and compiles it into {@link CompiledRules}.
 *
 * <p>Validation is complete before anything runs: every pattern is translated to RE2 (or rejected with
 * the construct that cannot run in linear time), every template is parsed against the variables its
 * scope allows, every back-reference is checked against the groups its pattern has, and every limit is
 * enforced. All problems are collected and reported together.
 */
public final class RuleCompiler {
  private RuleCompiler() {}

  /**
   * Compiles with the default {@link Limits}.
   *
   * @param ruleSet the rules
   * @return the compiled rules
   * @throws RuleValidationException if anything in the rule set is invalid, naming every problem
   */
  public static CompiledRules compile(RuleSet ruleSet) {
    return compile(ruleSet, Limits.DEFAULTS);
  }

  /**
   * Compiles with the given limits.
   *
   * @param ruleSet the rules
   * @param limits the limits to enforce, at compile time and on each request
   * @return the compiled rules
   * @throws RuleValidationException if anything in the rule set is invalid, naming every problem
   */
  public static CompiledRules compile(RuleSet ruleSet, Limits limits) {
    List<Problem> problems = new ArrayList<>();
    if (ruleSet.size() > limits.maxRules()) {
      problems.add(new Problem("rule set", String.format(Locale.ROOT,
          "%d rules exceed the limit of %d; expected at most %d", ruleSet.size(), limits.maxRules(), limits.maxRules())));
      throw new RuleValidationException(problems);
    }
    List<InboundStep> inbound = new ArrayList<>();
    checkUniqueNames(ruleSet.globalRules(), "global rule", problems);
    checkUniqueNames(ruleSet.rules(), "rule", problems);
    for (InboundRule rule : ruleSet.globalRules()) {
      InboundStep step = inbound(rule, "global rule \"" + rule.name() + "\"", limits, problems);
      if (step != null && rule.enabled()) {
        inbound.add(step);
      }
    }
    for (InboundRule rule : ruleSet.rules()) {
      InboundStep step = inbound(rule, "rule \"" + rule.name() + "\"", limits, problems);
      if (step != null && rule.enabled()) {
        inbound.add(step);
      }
    }
    Map<String, PreConditionStep> preConditions = new HashMap<>();
    for (PreCondition pc : ruleSet.preConditions()) {
      String where = "precondition \"" + pc.name() + "\"";
      if (preConditions.containsKey(pc.name())) {
        problems.add(new Problem(where, "duplicate precondition name; expected each name once"));
        continue;
      }
      checkName(pc.name(), where, limits, problems);
      if (pc.items().size() > limits.maxConditionsPerRule()) {
        problems.add(new Problem(where, tooManyConditions(pc.items().size(), limits)));
        continue;
      }
      List<ConditionStep> items = new ArrayList<>();
      for (int i = 0; i < pc.items().size(); i++) {
        ConditionStep c = condition(pc.items().get(i), pc.patternSyntax(), Template.Scope.RESPONSE,
            where + ", check " + (i + 1), -1, limits, problems);
        items.add(c);
      }
      if (!items.contains(null)) {
        preConditions.put(pc.name(), new PreConditionStep(pc.logicalGrouping(), items.toArray(new ConditionStep[0])));
      } else {
        preConditions.put(pc.name(), null);
      }
    }
    checkUniqueNames(ruleSet.outboundRules(), problems);
    List<OutboundStep> outbound = new ArrayList<>();
    for (OutboundRule rule : ruleSet.outboundRules()) {
      OutboundStep step = outbound(rule, preConditions, limits, problems);
      if (step != null && rule.enabled()) {
        outbound.add(step);
      }
    }
    if (!problems.isEmpty()) {
      throw new RuleValidationException(problems);
    }
    return new CompiledRules(ruleSet, limits, inbound.toArray(new InboundStep[0]), outbound.toArray(new OutboundStep[0]));
  }

  private static void checkUniqueNames(List<InboundRule> rules, String kind, List<Problem> problems) {
    Set<String> seen = new HashSet<>();
    for (InboundRule rule : rules) {
      // IIS keys rule collections by name, case-insensitively.
      if (!seen.add(rule.name().toLowerCase(Locale.ROOT))) {
        problems.add(new Problem(kind + " \"" + rule.name() + "\"", "duplicate rule name; expected each name once"));
      }
    }
  }

  private static void checkUniqueNames(List<OutboundRule> rules, List<Problem> problems) {
    Set<String> seen = new HashSet<>();
    for (OutboundRule rule : rules) {
      if (!seen.add(rule.name().toLowerCase(Locale.ROOT))) {
        problems.add(new Problem("outbound rule \"" + rule.name() + "\"", "duplicate rule name; expected each name once"));
      }
    }
  }

  private static void checkName(String name, String where, Limits limits, List<Problem> problems) {
    if (name.isBlank()) {
      problems.add(new Problem(where, "empty name; expected a non-empty name"));
    } else if (name.length() > 256) {
      problems.add(new Problem(where, String.format(Locale.ROOT, "name of %d characters; expected at most 256", name.length())));
    }
    for (int i = 0; i < name.length(); i++) {
      if (Character.isISOControl(name.charAt(i))) {
        problems.add(new Problem(where, "name contains a control character; expected printable text"));
        return;
      }
    }
  }

  private static String tooManyConditions(int n, Limits limits) {
    return String.format(Locale.ROOT, "%d conditions exceed the limit of %d; expected at most %d",
        n, limits.maxConditionsPerRule(), limits.maxConditionsPerRule());
  }

  private static InboundStep inbound(InboundRule rule, String where, Limits limits, List<Problem> problems) {
    int before = problems.size();
    checkName(rule.name(), where, limits, problems);
    CompiledPattern match = pattern(rule.match().url(), rule.patternSyntax(), rule.match().ignoreCase(),
        where + " <match url>", limits, problems);
    int ruleGroups = match == null ? -1 : rule.match().negate() ? 0 : match.groupCount();
    Conditions conditions = rule.conditions();
    ConditionStep[] steps = new ConditionStep[conditions.items().size()];
    if (conditions.items().size() > limits.maxConditionsPerRule()) {
      problems.add(new Problem(where, tooManyConditions(conditions.items().size(), limits)));
      return null;
    }
    for (int i = 0; i < steps.length; i++) {
      steps[i] = condition(conditions.items().get(i), rule.patternSyntax(), Template.Scope.REQUEST,
          where + ", condition " + (i + 1), ruleGroups, limits, problems);
    }
    InboundAction action = rule.action();
    Template url = null;
    Template reason = null;
    Template description = null;
    String actionWhere = where + " <action type=\"" + action.typeName() + "\">";
    if (action instanceof InboundAction.Rewrite rewrite) {
      url = template(rewrite.url(), Template.Scope.REQUEST, actionWhere + " url", ruleGroups, limits, problems);
      String trimmed = rewrite.url().trim().toLowerCase(Locale.ROOT);
      if (trimmed.startsWith("http://") || trimmed.startsWith("https://")) {
        problems.add(new Problem(actionWhere, "rewrite to an absolute URL '" + rewrite.url()
            + "' makes IIS a reverse proxy (ARR), which is not supported; expected a path, or use Redirect"));
      } else if (trimmed.isEmpty()) {
        problems.add(new Problem(actionWhere, "empty url; expected the path to rewrite to"));
      }
    } else if (action instanceof InboundAction.Redirect redirect) {
      url = template(redirect.url(), Template.Scope.REQUEST, actionWhere + " url", ruleGroups, limits, problems);
      if (redirect.url().isBlank()) {
        problems.add(new Problem(actionWhere, "empty url; expected the location to redirect to"));
      }
    } else if (action instanceof InboundAction.CustomResponse custom) {
      if (custom.statusCode() < 100 || custom.statusCode() > 999) {
        problems.add(new Problem(actionWhere, String.format(Locale.ROOT,
            "statusCode %d; expected a status from 100 to 999", custom.statusCode())));
      }
      if (custom.subStatusCode() < 0 || custom.subStatusCode() > 999) {
        problems.add(new Problem(actionWhere, String.format(Locale.ROOT,
            "subStatusCode %d; expected a number from 0 to 999", custom.subStatusCode())));
      }
      reason = template(custom.statusReason(), Template.Scope.REQUEST, actionWhere + " statusReason", ruleGroups, limits, problems);
      description = template(custom.statusDescription(), Template.Scope.REQUEST, actionWhere + " statusDescription",
          ruleGroups, limits, problems);
      if (custom.statusReason().chars().anyMatch(ch -> ch == '\r' || ch == '\n')) {
        problems.add(new Problem(actionWhere, "statusReason contains a line break; expected a single-line reason phrase"));
      }
    }
    if (problems.size() > before) {
      return null;
    }
    return new InboundStep(rule.name(), rule.stopProcessing(), match, rule.match().negate(),
        conditions.logicalGrouping(), conditions.trackAllCaptures(), steps, action, url, reason, description);
  }

  private static OutboundStep outbound(OutboundRule rule, Map<String, PreConditionStep> preConditions, Limits limits,
      List<Problem> problems) {
    String where = "outbound rule \"" + rule.name() + "\"";
    int before = problems.size();
    checkName(rule.name(), where, limits, problems);
    PreConditionStep pre = null;
    if (rule.preCondition().isPresent()) {
      String name = rule.preCondition().get();
      if (!preConditions.containsKey(name)) {
        problems.add(new Problem(where, "precondition \"" + name + "\" is not defined; expected one of "
            + preConditions.keySet().stream().sorted().map(n -> "\"" + n + "\"").toList()));
      } else {
        pre = preConditions.get(name);
      }
    }
    String variable = rule.match().serverVariable();
    if (!variable.toUpperCase(Locale.ROOT).startsWith("RESPONSE_") || variable.length() <= 9
        || !variable.chars().allMatch(ch -> Character.isLetterOrDigit(ch) || ch == '_')) {
      problems.add(new Problem(where + " <match>", "serverVariable '" + variable
          + "'; expected RESPONSE_<Header_Name>, since only response headers are rewritten"));
    }
    CompiledPattern match = pattern(rule.match().pattern(), rule.patternSyntax(), rule.match().ignoreCase(),
        where + " <match pattern>", limits, problems);
    int ruleGroups = match == null ? -1 : rule.match().negate() ? 0 : match.groupCount();
    Conditions conditions = rule.conditions();
    if (conditions.items().size() > limits.maxConditionsPerRule()) {
      problems.add(new Problem(where, tooManyConditions(conditions.items().size(), limits)));
      return null;
    }
    ConditionStep[] steps = new ConditionStep[conditions.items().size()];
    for (int i = 0; i < steps.length; i++) {
      steps[i] = condition(conditions.items().get(i), rule.patternSyntax(), Template.Scope.RESPONSE,
          where + ", condition " + (i + 1), ruleGroups, limits, problems);
    }
    Template value = null;
    if (rule.action() instanceof OutboundAction.Rewrite rewrite) {
      value = template(rewrite.value(), Template.Scope.RESPONSE, where + " <action type=\"Rewrite\"> value",
          ruleGroups, limits, problems);
    }
    if (problems.size() > before) {
      return null;
    }
    return new OutboundStep(rule.name(), rule.stopProcessing(), pre, RequestContext.variableSuffix(rule.match().headerName()),
        rule.match().headerName(), match, rule.match().negate(), conditions.logicalGrouping(), conditions.trackAllCaptures(),
        steps, value);
  }

  private static ConditionStep condition(Condition c, PatternSyntax syntax, Template.Scope scope, String where,
      int ruleGroups, Limits limits, List<Problem> problems) {
    Template input = template(c.input(), scope, where + " input", ruleGroups, limits, problems);
    CompiledPattern pattern = pattern(c.pattern(), syntax, c.ignoreCase(), where, limits, problems);
    if (input == null || pattern == null) {
      return null;
    }
    return new ConditionStep(input, pattern, c.negate());
  }

  private static CompiledPattern pattern(String pattern, PatternSyntax syntax, boolean ignoreCase, String where,
      Limits limits, List<Problem> problems) {
    if (pattern.length() > limits.maxPatternLength()) {
      problems.add(new Problem(where, String.format(Locale.ROOT, "pattern of %d characters exceeds the limit of %d",
          pattern.length(), limits.maxPatternLength())));
      return null;
    }
    try {
      return PatternCompiler.compile(pattern, syntax, ignoreCase);
    } catch (RegexSyntaxException e) {
      problems.add(new Problem(where, syntax.iisName() + " pattern '" + pattern + "': " + e.getMessage()));
      return null;
    }
  }

  private static Template template(String source, Template.Scope scope, String where, int ruleGroups, Limits limits,
      List<Problem> problems) {
    if (source.length() > limits.maxTemplateLength()) {
      problems.add(new Problem(where, String.format(Locale.ROOT, "'%s…' of %d characters exceeds the limit of %d",
          source.substring(0, 40), source.length(), limits.maxTemplateLength())));
      return null;
    }
    try {
      Template t = Template.parse(source, scope);
      int maxR = t.maxBackReference('R');
      if (ruleGroups >= 0 && maxR > ruleGroups) {
        problems.add(new Problem(where, String.format(Locale.ROOT,
            "'%s' refers to {R:%d} but the rule's pattern has %s; expected {R:0} to {R:%d}", source, maxR,
            ruleGroups == 0 ? "no capturing group (or is negated, or is a lookahead conjunction)" : ruleGroups + " capturing groups",
            ruleGroups)));
        return null;
      }
      return t;
    } catch (RegexSyntaxException e) {
      problems.add(new Problem(where, e.getMessage()));
      return null;
    }
  }

  /** A compiled inbound rule. */
  record InboundStep(
      String name,
      boolean stopProcessing,
      CompiledPattern match,
      boolean matchNegate,
      LogicalGrouping grouping,
      boolean trackAllCaptures,
      ConditionStep[] conditions,
      InboundAction action,
      Template url,
      Template reason,
      Template description) {}

  /** A compiled condition. */
  record ConditionStep(Template input, CompiledPattern pattern, boolean negate) {}

  /** A compiled precondition. */
  record PreConditionStep(LogicalGrouping grouping, ConditionStep[] items) {}

  /** A compiled outbound rule. */
  record OutboundStep(
      String name,
      boolean stopProcessing,
      PreConditionStep preCondition,
      String headerKey,
      String headerName,
      CompiledPattern match,
      boolean matchNegate,
      LogicalGrouping grouping,
      boolean trackAllCaptures,
      ConditionStep[] conditions,
      Template value) {}
}
