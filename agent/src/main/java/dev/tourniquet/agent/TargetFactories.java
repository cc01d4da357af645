package dev.tourniquet.agent;

import dev.tourniquet.agent.enforce.servlet.ServletEnforcer;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The built-in target types.
 */
public final class TargetFactories {
  private TargetFactories() {}

  /**
   * Returns the built-in factories by type name.
   *
   * @return a new mutable map, so that a caller may add its own types
   */
  public static Map<String, TargetFactory> builtIn() {
    Map<String, TargetFactory> map = new TreeMap<>();
    map.put("servlet", (config, stateDir, clock) -> {
      String file = config.options().get("enforcementFile");
      if (file == null || file.isBlank()) {
        throw new ConfigException("targets." + config.name() + ".enforcementFile: expected the path of the servlet filter's enforcement file but it is missing");
      }
      unknown(config, "enforcementFile");
      return new ServletEnforcer(config.name(), Path.of(file), clock);
    });
    return map;
  }

  private static void unknown(AgentConfig.TargetConfig config, String... known) throws ConfigException {
    java.util.Set<String> keys = new java.util.TreeSet<>(config.options().keySet());
    keys.removeAll(java.util.List.of(known));
    if (!keys.isEmpty()) {
      throw new ConfigException("targets." + config.name() + ": unknown keys " + keys + " for type " + config.type()
          + "; expected " + java.util.List.of(known));
    }
  }
}
