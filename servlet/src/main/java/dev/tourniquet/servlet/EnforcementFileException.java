package dev.tourniquet.servlet;

import java.util.List;

/**
 * An enforcement file cannot be used: it is too large, not JSON, not of the expected shape, or holds rules
 * that do not compile. Carries every problem found, each naming its path in the file (for example
 * {@code mitigations[0].disableEndpoints[1].status}), so a writer can fix them in one pass. The filter
 * answers such a file by keeping the rules it already enforces.
 */
public final class EnforcementFileException extends RuntimeException {
  /** The problems, each naming its source and path. */
  private final List<String> problems;

  /**
   * Creates the exception.
   *
   * @param problems the problems, at least one, each naming its source and path
   * @throws IllegalArgumentException if {@code problems} is empty
   */
  public EnforcementFileException(List<String> problems) {
    super(String.join("\n", nonEmpty(problems)));
    this.problems = List.copyOf(problems);
  }

  private static List<String> nonEmpty(List<String> problems) {
    if (problems.isEmpty()) {
      throw new IllegalArgumentException("an invalid enforcement file needs at least one problem");
    }
    return problems;
  }

  /**
   * Returns every problem found, in the order of the file.
   *
   * @return the problems, never empty
   */
  public List<String> problems() {
    return problems;
  }
}
