package dev.tourniquet.agent.enforce;

import dev.tourniquet.feed.mitigation.Mitigation;
import java.util.Objects;

/**
 * A verified mitigation as an enforcer should run it.
 *
 * @param mitigation the mitigation, verified and validated
 * @param audit true to match and count only (the policy's mode, which may override the publisher's)
 */
public record ActiveMitigation(Mitigation mitigation, boolean audit) {
  /**
   * Creates an active mitigation.
   *
   * @throws NullPointerException if the mitigation is null
   */
  public ActiveMitigation {
    Objects.requireNonNull(mitigation, "mitigation");
  }

  /**
   * Returns the mitigation's id.
   *
   * @return e.g. {@code M1}
   */
  public String id() {
    return mitigation.id();
  }
}
