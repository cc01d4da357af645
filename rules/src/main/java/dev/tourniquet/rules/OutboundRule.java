package dev.tourniquet.rules;

import java.util.Objects;
import java.util.Optional;

/**
 * One {@code <rule>} of {@code <outboundRules>}: rewrites a response header on its way out.
 *
 * @param name the rule's name, unique among outbound rules
 * @param enabled whether the rule runs
 * @param patternSyntax the syntax of the match pattern and of every condition pattern
 * @param stopProcessing whether no further outbound rule runs after this one matches
 * @param preCondition the name of the precondition that gates this rule, if any
 * @param match the header match
 * @param conditions the conditions ({@link Conditions#NONE} when absent)
 * @param action what the rule does when it matches
 */
public record OutboundRule(
    String name,
    boolean enabled,
    PatternSyntax patternSyntax,
    boolean stopProcessing,
    Optional<String> preCondition,
    HeaderMatch match,
    Conditions conditions,
    OutboundAction action) {
  /**
   * Creates an outbound rule.
   *
   * @throws NullPointerException if an argument is null
   */
  public OutboundRule {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(patternSyntax, "patternSyntax");
    Objects.requireNonNull(preCondition, "preCondition");
    Objects.requireNonNull(match, "match");
    Objects.requireNonNull(conditions, "conditions");
    Objects.requireNonNull(action, "action");
  }
}
