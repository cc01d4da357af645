package dev.tourniquet.rules;

import java.util.List;
import java.util.Objects;

/**
 * A rule's {@code <conditions>} element.
 *
 * @param logicalGrouping how the conditions combine
 * @param trackAllCaptures whether {@code {C:n}} numbers the captures of every matched condition in turn
 *     rather than only those of the last matched condition
 * @param items the conditions, in order
 */
public record Conditions(LogicalGrouping logicalGrouping, boolean trackAllCaptures, List<Condition> items) {
  /** No conditions: a rule with these holds whenever its {@code <match>} does. */
  public static final Conditions NONE = new Conditions(LogicalGrouping.MATCH_ALL, false, List.of());

  /**
   * Creates a conditions element.
   *
   * @throws NullPointerException if an argument is null
   */
  public Conditions {
    Objects.requireNonNull(logicalGrouping, "logicalGrouping");
    items = List.copyOf(items);
  }
}
