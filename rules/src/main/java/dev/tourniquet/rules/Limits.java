package dev.tourniquet.rules;

/**
 * Caps on every input the engine accepts, so that neither a rule file nor a request can make it use
 * unbounded memory or time. The defaults are documented in {@code docs/rules-format.md}.
 *
 * @param maxRuleFileBytes the largest rule file read, in bytes
 * @param maxRules the most rules (global, inbound and outbound together) in one rule set
 * @param maxConditionsPerRule the most conditions in one rule or precondition
 * @param maxPatternLength the longest pattern, in characters
 * @param maxTemplateLength the longest input or action template, in characters
 * @param maxTargetLength the longest request target (path and query) evaluated, in characters
 * @param maxHeaderBytes the most header bytes (names and values, UTF-16 characters) evaluated per request
 * @param maxHeaders the most header fields evaluated per request
 */
public record Limits(
    int maxRuleFileBytes,
    int maxRules,
    int maxConditionsPerRule,
    int maxPatternLength,
    int maxTemplateLength,
    int maxTargetLength,
    int maxHeaderBytes,
    int maxHeaders) {

  /** The defaults: 8 MiB, 10,000 rules, 64 conditions, 4,096-character patterns and templates, 16 KiB targets, 64 KiB and 256 headers. */
  public static final Limits DEFAULTS = new Limits(8 << 20, 10_000, 64, 4096, 4096, 16 * 1024, 64 * 1024, 256);

  /**
   * Creates limits.
   *
   * @throws IllegalArgumentException if a limit is not positive
   */
  public Limits {
    int[] all = {maxRuleFileBytes, maxRules, maxConditionsPerRule, maxPatternLength, maxTemplateLength,
        maxTargetLength, maxHeaderBytes, maxHeaders};
    for (int limit : all) {
      if (limit <= 0) {
        throw new IllegalArgumentException("every limit must be positive, found " + limit);
      }
    }
  }
}
