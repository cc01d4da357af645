package dev.tourniquet.agent;

/**
 * The running agent as a fleet client sees it: it may ask for a check now.
 */
public interface AgentControl {

  /**
   * Asks the agent to check the feed and the policy now (a push hint). Returns at once; hints that arrive
   * while a check is pending or running are coalesced into one more check. A hint carries no content:
   * everything is fetched and verified as on a scheduled check.
   */
  void hint();
}
