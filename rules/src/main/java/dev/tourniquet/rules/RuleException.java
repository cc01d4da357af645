package dev.tourniquet.rules;

/**
 * Base of the rule engine's failures. Each subclass is a failure a caller acts on differently: a rule set
 * that must be fixed by its author, or a request that cannot be evaluated.
 */
public abstract sealed class RuleException extends RuntimeException
    permits RuleValidationException, RequestException {

  RuleException(String message) {
    super(message);
  }
}
