package dev.tourniquet.rules;

import java.util.Objects;

/**
 * One inbound {@code <rule>} of {@code <rules>} or {@code <globalRules>}.
 *
 * @param name the rule's name, unique within its collection
 * @param enabled whether the rule runs (IIS's default: {@code true})
 * @param patternSyntax the syntax of the match pattern and of every condition pattern
 * @param stopProcessing whether no further rule runs after this one matches
 * @param match the URL match
 * @param conditions the conditions ({@link Conditions#NONE} when absent)
 * @param action what the rule does when it matches
 */
public record InboundRule(
    String name,
    boolean enabled,
    PatternSyntax patternSyntax,
    boolean stopProcessing,
    UrlMatch match,
    Conditions conditions,
    InboundAction action) {
  /**
   * Creates a rule.
   *
   * @throws NullPointerException if an argument is null
   */
  public InboundRule {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(patternSyntax, "patternSyntax");
    Objects.requireNonNull(match, "match");
    Objects.requireNonNull(conditions, "conditions");
    Objects.requireNonNull(action, "action");
  }
}
