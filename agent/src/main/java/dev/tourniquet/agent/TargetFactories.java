package dev.tourniquet.agent;

import dev.tourniquet.agent.enforce.nginx.NginxEnforcer;
import dev.tourniquet.agent.enforce.nginx.NginxSettings;
import dev.tourniquet.agent.enforce.service.ServiceEnforcer;
import dev.tourniquet.agent.enforce.service.ServiceManagers;
import dev.tourniquet.agent.enforce.servlet.ServletEnforcer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The built-in target types and their options (documented in {@code docs/operating.md}):
 *
 * <ul>
 *   <li>{@code servlet}: {@code enforcementFile}, the file the servlet filter reads.
 *   <li>{@code nginx}: {@code includeFile} (absolute), {@code nginxBinary} (default {@code /usr/sbin/nginx}),
 *       {@code configFile} (optional, passed as {@code -c}), {@code commandTimeout} (default 30s),
 *       {@code njs} (true or false, default false).
 *   <li>{@code systemd}, {@code windows}, {@code supervisord}: the service manager's options, passed
 *       verbatim to {@code ServiceManagers.create} (e.g. supervisord {@code serverUrl} or {@code configFile},
 *       {@code supervisorctl}).
 * </ul>
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
      allow(config, "enforcementFile");
      return new ServletEnforcer(config.name(), Path.of(required(config, "enforcementFile")), stateDir, clock);
    });
    map.put("nginx", (config, stateDir, clock) -> {
      allow(config, "includeFile", "nginxBinary", "configFile", "commandTimeout", "njs");
      String njs = config.options().getOrDefault("njs", "false").toLowerCase(Locale.ROOT);
      if (!njs.equals("true") && !njs.equals("false")) {
        throw new ConfigException("targets." + config.name() + ".njs: expected true or false but found \"" + njs + "\"");
      }
      Duration timeout = config.options().containsKey("commandTimeout")
          ? AgentConfig.duration(config.options().get("commandTimeout"), "targets." + config.name() + ".commandTimeout")
          : Duration.ofSeconds(30);
      try {
        NginxSettings settings = new NginxSettings(Path.of(required(config, "includeFile")),
            Path.of(config.options().getOrDefault("nginxBinary", "/usr/sbin/nginx")),
            Optional.ofNullable(config.options().get("configFile")).map(Path::of), stateDir.toAbsolutePath(), timeout,
            njs.equals("true"));
        return new NginxEnforcer(config.name(), settings);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("targets." + config.name() + ": " + e.getMessage(), e);
      }
    });
    for (String type : List.of("systemd", "windows", "supervisord")) {
      map.put(type, (config, stateDir, clock) -> {
        try {
          return new ServiceEnforcer(config.name(), ServiceManagers.create(type, config.options()), stateDir);
        } catch (IllegalArgumentException e) {
          throw new ConfigException("targets." + config.name() + ": " + e.getMessage(), e);
        }
      });
    }
    return map;
  }

  private static String required(AgentConfig.TargetConfig config, String key) throws ConfigException {
    String value = config.options().get(key);
    if (value == null || value.isBlank()) {
      throw new ConfigException("targets." + config.name() + "." + key + ": expected a value for a " + config.type()
          + " target but it is missing");
    }
    return value;
  }

  private static void allow(AgentConfig.TargetConfig config, String... known) throws ConfigException {
    Set<String> keys = new TreeSet<>(config.options().keySet());
    keys.removeAll(List.of(known));
    if (!keys.isEmpty()) {
      throw new ConfigException("targets." + config.name() + ": unknown keys " + keys + " for type " + config.type()
          + "; expected " + new TreeSet<>(List.of(known)));
    }
  }
}
