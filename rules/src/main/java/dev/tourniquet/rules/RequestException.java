package dev.tourniquet.rules;

/**
 * A request cannot be evaluated as given: a malformed request target, malformed percent-encoding in the
 * path, or an input over one of the {@link Limits}. An enforcer answers such a request with a 400 or 431
 * rather than let it through unchecked.
 */
public final class RequestException extends RuleException {
  private final int suggestedStatus;

  /**
   * Creates the exception.
   *
   * @param message what is wrong with the request, naming the offending value
   * @param suggestedStatus the status an enforcer should answer with: 400, 414 or 431
   */
  public RequestException(String message, int suggestedStatus) {
    super(message);
    this.suggestedStatus = suggestedStatus;
  }

  /**
   * Returns the status an enforcer should answer such a request with.
   *
   * @return 400 for a malformed request, 414 for an overlong target, 431 for oversized headers
   */
  public int suggestedStatus() {
    return suggestedStatus;
  }
}
