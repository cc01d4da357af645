package dev.tourniquet.rules;

import java.util.List;

/**
 * A whole IIS {@code <rewrite>} section: the model every reader produces and the compiler consumes.
 *
 * <p>Global rules run before rules, as on IIS, where {@code <globalRules>} live in applicationHost.config
 * and run before the site's distributed rules.
 *
 * @param globalRules inbound rules of {@code <globalRules>}, in order
 * @param rules inbound rules of {@code <rules>}, in order
 * @param preConditions the preconditions of {@code <outboundRules>}
 * @param outboundRules outbound rules, in order
 */
public record RuleSet(
    List<InboundRule> globalRules, List<InboundRule> rules, List<PreCondition> preConditions, List<OutboundRule> outboundRules) {
  /** A rule set with no rules at all. */
  public static final RuleSet EMPTY = new RuleSet(List.of(), List.of(), List.of(), List.of());

  /** Creates a rule set; the lists are copied. */
  public RuleSet {
    globalRules = List.copyOf(globalRules);
    rules = List.copyOf(rules);
    preConditions = List.copyOf(preConditions);
    outboundRules = List.copyOf(outboundRules);
  }

  /**
   * Returns the number of rules of every kind.
   *
   * @return global, inbound and outbound rules together
   */
  public int size() {
    return globalRules.size() + rules.size() + outboundRules.size();
  }
}
