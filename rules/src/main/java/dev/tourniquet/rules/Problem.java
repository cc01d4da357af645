package dev.tourniquet.rules;

import java.util.Objects;

/**
 * One thing wrong with a rule set: where it is and what is expected.
 *
 * @param location where: the source, and the rule or element, for example
 *     {@code m1.xml:11: rule "PowerShell - inbound", condition 1}
 * @param message what is wrong and what is expected
 */
public record Problem(String location, String message) {
  /**
   * Creates a problem.
   *
   * @throws NullPointerException if an argument is null
   */
  public Problem {
    Objects.requireNonNull(location, "location");
    Objects.requireNonNull(message, "message");
  }

  @Override
  public String toString() {
    return location + ": " + message;
  }
}
