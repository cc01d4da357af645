package dev.tourniquet.rules;

import java.util.Objects;

/**
 * An outbound rule's {@code <match serverVariable="RESPONSE_…">}: the value of one response header,
 * empty when the header is absent.
 *
 * @param serverVariable the variable, {@code RESPONSE_} and the header name with {@code _} for {@code -}
 * @param pattern the pattern
 * @param ignoreCase whether matching ignores case (IIS's default: {@code true})
 * @param negate whether the rule applies when the pattern does <em>not</em> match
 */
public record HeaderMatch(String serverVariable, String pattern, boolean ignoreCase, boolean negate) {
  /**
   * Creates a header match.
   *
   * @throws NullPointerException if an argument is null
   */
  public HeaderMatch {
    Objects.requireNonNull(serverVariable, "serverVariable");
    Objects.requireNonNull(pattern, "pattern");
  }

  /**
   * Returns the response header this variable names: {@code RESPONSE_Content_Security_Policy} names
   * {@code Content-Security-Policy}.
   *
   * @return the header name
   */
  public String headerName() {
    return serverVariable.substring("RESPONSE_".length()).replace('_', '-');
  }
}
