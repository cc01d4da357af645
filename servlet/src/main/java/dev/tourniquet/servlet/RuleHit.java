package dev.tourniquet.servlet;

import java.util.Locale;
import java.util.Objects;

/**
 * How many requests one rule or action of a mitigation matched since the filter started.
 *
 * <p>{@code rule} is the name of the inbound rule that decided (for a rewrite, the last rule that
 * rewrote), or one of {@code disable-endpoint <prefix>}, {@code auth-policy <prefix> basic},
 * {@code auth-policy <prefix> anonymous}, {@code response-headers} (the outbound rules changed, or in audit
 * mode would have changed, the headers), {@code ambiguous-path} or {@code unevaluable-request} (the
 * request could not be evaluated; in enforce mode it was refused).
 *
 * @param mitigation the mitigation's id
 * @param revision its revision
 * @param mode the mode it ran in
 * @param rule the rule or action
 * @param count the number of matching requests
 */
public record RuleHit(String mitigation, int revision, Mode mode, String rule, long count) {
  /**
   * Creates a hit count.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code count} is negative
   */
  public RuleHit {
    Objects.requireNonNull(mitigation, "mitigation");
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(rule, "rule");
    if (count < 0) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "expected a count of at least 0 but found %d", count));
    }
  }
}
