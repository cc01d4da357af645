package dev.tourniquet.rules;

import java.util.Objects;

/**
 * An inbound rule's {@code <match>} element. The input is the request's decoded URL path without its
 * leading slash and without the query string, as IIS gives it to rules in a site's root.
 *
 * @param url the pattern
 * @param ignoreCase whether matching ignores case (IIS's default: {@code true})
 * @param negate whether the rule applies when the pattern does <em>not</em> match
 */
public record UrlMatch(String url, boolean ignoreCase, boolean negate) {
  /**
   * Creates a match element.
   *
   * @throws NullPointerException if {@code url} is null
   */
  public UrlMatch {
    Objects.requireNonNull(url, "url");
  }
}
