package dev.tourniquet.rules;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A rule set cannot be used: it does not parse, breaks a limit, or holds a construct the engine will not
 * run (a lookbehind, a back-reference inside a pattern, an unknown server variable…). Carries every
 * problem found, not only the first, so an author can fix them in one pass.
 */
public final class RuleValidationException extends RuleException {
  private final List<Problem> problems;

  /**
   * Creates the exception.
   *
   * @param problems the problems, at least one
   * @throws IllegalArgumentException if {@code problems} is empty
   */
  public RuleValidationException(List<Problem> problems) {
    super(summary(problems));
    this.problems = List.copyOf(problems);
  }

  /**
   * Returns every problem found, in the order of the source.
   *
   * @return the problems, never empty
   */
  public List<Problem> problems() {
    return problems;
  }

  private static String summary(List<Problem> problems) {
    if (problems.isEmpty()) {
      throw new IllegalArgumentException("a validation failure needs at least one problem");
    }
    return problems.stream().map(Problem::toString).collect(Collectors.joining("\n"));
  }
}
