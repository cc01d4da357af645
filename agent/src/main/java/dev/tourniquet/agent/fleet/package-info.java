/**
 * The agent's client of the fleet server (docs/server.md, "The agent and server contract"): enrolment,
 * the organisation's policy ({@link dev.tourniquet.agent.PolicySource}), reports
 * ({@link dev.tourniquet.agent.Reporter}) and the push listener that turns the server's events into
 * {@link dev.tourniquet.agent.AgentControl#hint()}; and {@link dev.tourniquet.agent.fleet.RunningAgent}, which
 * starts an agent from its configuration with all of these wired in, as {@code tourniquet agent} does.
 */
package dev.tourniquet.agent.fleet;
