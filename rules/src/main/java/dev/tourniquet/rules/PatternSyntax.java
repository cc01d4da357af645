package dev.tourniquet.rules;

/**
 * How a rule's patterns are written, as IIS's {@code patternSyntax} attribute.
 *
 * <p>IIS also accepts the numeric values {@code 0}, {@code 1} and {@code 2}, in this order.
 */
public enum PatternSyntax {
  /** A regular expression, searched for anywhere in the input (IIS's default). */
  ECMA_SCRIPT("ECMAScript"),
  /** The whole input must match; {@code *} matches any run of characters and captures it. */
  WILDCARD("Wildcard"),
  /** The whole input must equal the pattern. */
  EXACT_MATCH("ExactMatch");

  private final String iisName;

  PatternSyntax(String iisName) {
    this.iisName = iisName;
  }

  /**
   * Returns the name IIS uses in configuration files.
   *
   * @return {@code ECMAScript}, {@code Wildcard} or {@code ExactMatch}
   */
  public String iisName() {
    return iisName;
  }
}
