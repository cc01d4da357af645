package dev.tourniquet.feed.mitigation;

import dev.tourniquet.rules.Problem;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A mitigation document is invalid. Carries every problem found, each located by its JSON path
 * ({@code applicability.versions[1].fixed}, {@code actions[0].rules: rule "X" <match url>}, or
 * {@code document} for the document as a whole) and saying what is expected and what was found, so an
 * author fixes them all in one pass.
 */
public final class MitigationException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient List<Problem> problems;

  /**
   * Creates the exception.
   *
   * @param problems the problems, at least one
   * @throws IllegalArgumentException if {@code problems} is empty
   */
  public MitigationException(List<Problem> problems) {
    super(summary(problems));
    this.problems = List.copyOf(problems);
  }

  /**
   * Returns every problem found, in the order the parser checks the fields (schema, id, revision … actions,
   * expires, extensions; inside an object, unknown fields first).
   *
   * @return the problems, never empty
   */
  public List<Problem> problems() {
    return problems;
  }

  private static String summary(List<Problem> problems) {
    if (problems.isEmpty()) {
      throw new IllegalArgumentException("an invalid document needs at least one problem");
    }
    return problems.stream().map(Problem::toString).collect(Collectors.joining("\n"));
  }
}
