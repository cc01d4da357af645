package dev.tourniquet.rules;

import java.util.Objects;

/** What an inbound rule does when it matches: IIS's {@code <action type="…">}. */
public sealed interface InboundAction {

  /** {@code None}: nothing; processing goes on with the next rule unless the rule stops it. */
  record None() implements InboundAction {}

  /**
   * {@code Rewrite}: the request continues with another URL; later rules see the rewritten URL.
   *
   * @param url the new URL template (a path, with an optional query)
   * @param appendQueryString whether the current query string is appended (IIS's default: {@code true})
   */
  record Rewrite(String url, boolean appendQueryString) implements InboundAction {
    /**
     * Creates a rewrite action.
     *
     * @throws NullPointerException if {@code url} is null
     */
    public Rewrite {
      Objects.requireNonNull(url, "url");
    }
  }

  /**
   * {@code Redirect}: answers with a redirect; processing stops.
   *
   * @param url the location template
   * @param appendQueryString whether the current query string is appended (IIS's default: {@code true})
   * @param redirectType the status to answer with
   */
  record Redirect(String url, boolean appendQueryString, RedirectType redirectType) implements InboundAction {
    /**
     * Creates a redirect action.
     *
     * @throws NullPointerException if an argument is null
     */
    public Redirect {
      Objects.requireNonNull(url, "url");
      Objects.requireNonNull(redirectType, "redirectType");
    }
  }

  /**
   * {@code CustomResponse}: answers with a status of the rule's choosing; processing stops.
   *
   * @param statusCode the status code, 100 to 999
   * @param subStatusCode IIS's sub-status (informational; 0 by default)
   * @param statusReason the reason phrase template (may be empty)
   * @param statusDescription the response body template (may be empty)
   */
  record CustomResponse(int statusCode, int subStatusCode, String statusReason, String statusDescription)
      implements InboundAction {
    /**
     * Creates a custom response action.
     *
     * @throws NullPointerException if a template is null
     */
    public CustomResponse {
      Objects.requireNonNull(statusReason, "statusReason");
      Objects.requireNonNull(statusDescription, "statusDescription");
    }
  }

  /** {@code AbortRequest}: the connection is closed without a response; processing stops. */
  record AbortRequest() implements InboundAction {}

  /**
   * Returns the IIS name of this action's type.
   *
   * @return {@code None}, {@code Rewrite}, {@code Redirect}, {@code CustomResponse} or {@code AbortRequest}
   */
  default String typeName() {
    return getClass().getSimpleName();
  }
}
