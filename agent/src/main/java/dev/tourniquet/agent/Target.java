package dev.tourniquet.agent;

import dev.tourniquet.agent.enforce.Enforcer;
import java.util.Objects;
import java.util.Optional;

/**
 * A configured enforcement target: its enforcer and its optional health probe.
 *
 * @param enforcer the enforcer
 * @param probe the health probe, if configured
 */
record Target(Enforcer enforcer, Optional<HealthProbe> probe) {
  Target {
    Objects.requireNonNull(enforcer, "enforcer");
    Objects.requireNonNull(probe, "probe");
  }

  String name() {
    return enforcer.target();
  }
}
