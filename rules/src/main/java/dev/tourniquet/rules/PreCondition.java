package dev.tourniquet.rules;

import java.util.List;
import java.util.Objects;

/**
 * A named {@code <preCondition>} of {@code <outboundRules>}: request and response checks that decide
 * whether the outbound rules that name it run at all (typically on {@code {RESPONSE_CONTENT_TYPE}}).
 *
 * @param name the precondition's name
 * @param logicalGrouping how the checks combine
 * @param patternSyntax the syntax of the patterns
 * @param items the checks, in order
 */
public record PreCondition(String name, LogicalGrouping logicalGrouping, PatternSyntax patternSyntax, List<Condition> items) {
  /**
   * Creates a precondition.
   *
   * @throws NullPointerException if an argument is null
   */
  public PreCondition {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(logicalGrouping, "logicalGrouping");
    Objects.requireNonNull(patternSyntax, "patternSyntax");
    items = List.copyOf(items);
  }
}
