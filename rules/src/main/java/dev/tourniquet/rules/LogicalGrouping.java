package dev.tourniquet.rules;

/** How the conditions of a rule or precondition combine, as IIS's {@code logicalGrouping} ({@code 0}, {@code 1}). */
public enum LogicalGrouping {
  /** Every condition must hold (IIS's default). */
  MATCH_ALL("MatchAll"),
  /** At least one condition must hold; an empty list holds. */
  MATCH_ANY("MatchAny");

  private final String iisName;

  LogicalGrouping(String iisName) {
    this.iisName = iisName;
  }

  /**
   * Returns the name IIS uses in configuration files.
   *
   * @return {@code MatchAll} or {@code MatchAny}
   */
  public String iisName() {
    return iisName;
  }
}
