package dev.tourniquet.agent;

import dev.tourniquet.agent.enforce.Enforcer;
import java.nio.file.Path;
import java.time.Clock;

/**
 * Makes the enforcer for a configured target of one type ({@code servlet}, {@code nginx}, …).
 */
@FunctionalInterface
public interface TargetFactory {

  /**
   * Creates the enforcer.
   *
   * @param config the target's configuration
   * @param stateDir a directory of the agent's state directory reserved for this target
   * @param clock the agent's clock
   * @return the enforcer
   * @throws ConfigException if an option is missing or invalid, naming it
   */
  Enforcer create(AgentConfig.TargetConfig config, Path stateDir, Clock clock) throws ConfigException;
}
