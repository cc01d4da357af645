package dev.tourniquet.servlet;

import java.util.Objects;

/**
 * An {@code auth-policy} action on a path prefix, Exchange's "change authentication settings" mitigation:
 * refuse requests that carry {@code Authorization: Basic}, refuse requests that carry no
 * {@code Authorization} at all, or both. A refused request is answered 401 without a
 * {@code WWW-Authenticate} header, so the client is not invited to retry with the refused scheme.
 *
 * @param pathPrefix the prefix
 * @param refuseBasic whether to refuse the Basic scheme
 * @param refuseAnonymous whether to refuse requests without credentials
 */
public record AuthPolicy(PathPrefix pathPrefix, boolean refuseBasic, boolean refuseAnonymous) {
  /**
   * Creates the action.
   *
   * @throws NullPointerException if {@code pathPrefix} is null
   * @throws IllegalArgumentException if neither refusal is set, since such a policy would do nothing
   */
  public AuthPolicy {
    Objects.requireNonNull(pathPrefix, "pathPrefix");
    if (!refuseBasic && !refuseAnonymous) {
      throw new IllegalArgumentException("expected refuseBasic or refuseAnonymous to be true but found both false");
    }
  }
}
