package dev.tourniquet.rules;

/** What the inbound rules decided for a request. */
public sealed interface Decision {

  /** No rule stopped the request, and none rewrote it. */
  record Allow() implements Decision {}

  /**
   * {@code AbortRequest}: close the connection without a response.
   *
   * @param rule the rule that decided
   */
  record Abort(String rule) implements Decision {}

  /**
   * {@code CustomResponse}: answer with this status.
   *
   * @param rule the rule that decided
   * @param status the status code
   * @param subStatus IIS's sub-status, informational
   * @param reason the reason phrase (may be empty)
   * @param description the body (may be empty)
   */
  record Respond(String rule, int status, int subStatus, String reason, String description) implements Decision {}

  /**
   * {@code Redirect}: answer with a redirect.
   *
   * @param rule the rule that decided
   * @param status 301, 302, 303 or 307
   * @param location the Location header value
   */
  record Redirect(String rule, int status, String location) implements Decision {}

  /**
   * {@code Rewrite}: continue with another request-target.
   *
   * @param rule the last rule that rewrote the request
   * @param target the new request-target: path and optional query
   */
  record Rewrite(String rule, String target) implements Decision {}

  /** The decision for a request that no rule stopped or rewrote. */
  Decision ALLOW = new Allow();

  /**
   * Returns the decision's name as the command line writes it.
   *
   * @return {@code allow}, {@code abort}, {@code respond}, {@code redirect} or {@code rewrite}
   */
  default String kind() {
    return getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * Returns the rule that decided, if any.
   *
   * @return the rule's name, or null for {@link Allow}
   */
  default String rule() {
    // Every decision but Allow is a record with a rule component, whose accessor overrides this.
    return null;
  }

  /**
   * Returns whether the request is stopped (aborted, answered or redirected) rather than passed on.
   *
   * @return true unless the decision is {@link Allow} or {@link Rewrite}
   */
  default boolean stopsRequest() {
    return !(this instanceof Allow) && !(this instanceof Rewrite);
  }
}
