package dev.tourniquet.rules;

import java.util.Objects;

/** What an outbound rule does to the matched response header. */
public sealed interface OutboundAction {

  /** {@code None}: leaves the header as it is. */
  record None() implements OutboundAction {}

  /**
   * {@code Rewrite}: sets the header to the expanded value; an empty value removes the header, as on IIS.
   *
   * @param value the value template, for example <code>{R:1}; script-src-attr 'none'</code>
   */
  record Rewrite(String value) implements OutboundAction {
    /**
     * Creates a rewrite action.
     *
     * @throws NullPointerException if {@code value} is null
     */
    public Rewrite {
      Objects.requireNonNull(value, "value");
    }
  }

  /**
   * Returns the IIS name of this action's type.
   *
   * @return {@code None} or {@code Rewrite}
   */
  default String typeName() {
    return getClass().getSimpleName();
  }
}
