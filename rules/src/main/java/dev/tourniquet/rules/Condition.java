package dev.tourniquet.rules;

import java.util.Objects;

/**
 * One {@code <add>} element of a rule's {@code <conditions>} or of a {@code <preCondition>}: an input
 * template such as {@code {UrlDecode:{REQUEST_URI}}} matched against a pattern.
 *
 * <p>IIS's {@code matchType} is always {@code Pattern} here: {@code IsFile} and {@code IsDirectory} need
 * the server's file system, and the readers reject them with a clear error.
 *
 * @param input the input template, expanded per request
 * @param pattern the pattern, in the syntax of the enclosing rule or precondition
 * @param ignoreCase whether matching ignores case (IIS's default: {@code true})
 * @param negate whether the condition holds when the pattern does <em>not</em> match
 */
public record Condition(String input, String pattern, boolean ignoreCase, boolean negate) {
  /**
   * Creates a condition.
   *
   * @throws NullPointerException if {@code input} or {@code pattern} is null
   */
  public Condition {
    Objects.requireNonNull(input, "input");
    Objects.requireNonNull(pattern, "pattern");
  }
}
