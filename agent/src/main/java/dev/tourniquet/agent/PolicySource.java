package dev.tourniquet.agent;

import java.io.IOException;

/**
 * Where the organisation's policy comes from: the fleet server client implements it. The agent asks
 * before every plan. With no fleet configured the agent uses {@link OrgPolicy#DEFAULT}.
 *
 * <p>Called from the agent's single worker thread.
 */
public interface PolicySource {

  /**
   * Returns the organisation's current policy for this server.
   *
   * @return the policy
   * @throws IOException if the policy cannot be obtained now; the agent then keeps planning with the last
   *     policy it obtained (or {@link OrgPolicy#DEFAULT} if it never obtained one) and reports the failure
   */
  OrgPolicy orgPolicy() throws IOException;
}
