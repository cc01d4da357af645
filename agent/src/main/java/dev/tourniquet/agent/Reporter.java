package dev.tourniquet.agent;

/**
 * Receives the agent's status after every check, only when data collection is on. The fleet server client
 * implements it. Called from the agent's single worker thread; an implementation that talks to the network
 * should not block for long, and a failure it throws is logged and otherwise ignored (reporting never
 * changes enforcement).
 */
public interface Reporter {

  /**
   * Receives a status snapshot.
   *
   * @param status the agent's status just after a check
   * @throws Exception if the report could not be delivered; logged, then ignored
   */
  void report(AgentStatus status) throws Exception;
}
