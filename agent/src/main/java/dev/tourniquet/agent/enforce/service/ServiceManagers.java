package dev.tourniquet.agent.enforce.service;

import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Creates the {@link ServiceManager} for a target from the agent's configuration.
 *
 * <table>
 *   <caption>Types and options</caption>
 *   <tr><th>type</th><th>options</th></tr>
 *   <tr><td>{@code systemd}</td><td>{@code systemctl}: path, default {@code /usr/bin/systemctl}</td></tr>
 *   <tr><td>{@code windows}</td><td>{@code sc}: path, default {@code %SystemRoot%\System32\sc.exe}</td></tr>
 *   <tr><td>{@code supervisord}</td><td>{@code supervisorctl}: path, default {@code /usr/bin/supervisorctl};
 *       and either {@code configFile} (a configuration file with a {@code [supervisorctl]} section) or
 *       {@code serverUrl} ({@code unix:///…} or {@code http://host:port}) with optional {@code username}
 *       and {@code password}</td></tr>
 * </table>
 *
 * <p>Every type also takes {@code commandTimeout} (how long one command may run, default {@code PT2M}:
 * {@code systemctl mask --now} waits for the stop job, which systemd itself gives 90 seconds by default)
 * and {@code settleTimeout} (how long a service may take to reach the state a step asked for, default
 * {@code PT2M}), both ISO-8601 durations. An unknown option is an error, never ignored.
 */
public final class ServiceManagers {
  static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(2);
  static final Duration POLL = Duration.ofMillis(500);

  private static final Set<String> COMMON = Set.of("commandTimeout", "settleTimeout");

  private ServiceManagers() {}

  /**
   * Creates a service manager.
   *
   * @param type {@code systemd}, {@code windows} or {@code supervisord}
   * @param options the type's options (see the class description); values are never logged
   * @return the manager
   * @throws IllegalArgumentException if the type is unknown, an option is unknown or malformed, or a
   *     required option is missing; the message names it (and never quotes a password)
   */
  public static ServiceManager create(String type, Map<String, String> options) {
    return create(type, options, new ProcessCommandRunner(), POLL);
  }

  static ServiceManager create(String type, Map<String, String> options, CommandRunner runner, Duration poll) {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(options, "options");
    switch (type) {
      case "systemd" -> {
        allow(type, options, "systemctl");
        return new Systemd(options.getOrDefault("systemctl", "/usr/bin/systemctl"), commands(type, options, runner, poll));
      }
      case "windows" -> {
        allow(type, options, "sc");
        return new WindowsScm(options.getOrDefault("sc", defaultSc(System.getenv("SystemRoot"))), commands(type, options, runner, poll));
      }
      case "supervisord" -> {
        allow(type, options, "supervisorctl", "configFile", "serverUrl", "username", "password");
        String configFile = options.get("configFile");
        Supervisord.Connection connection = new Supervisord.Connection(
            configFile == null ? null : Path.of(configFile), options.get("serverUrl"), options.get("username"),
            options.get("password"));
        return new Supervisord(options.getOrDefault("supervisorctl", "/usr/bin/supervisorctl"), connection,
            commands(type, options, runner, poll));
      }
      default -> throw new IllegalArgumentException(
          "service manager type: expected systemd, windows or supervisord but found \"" + type + "\"");
    }
  }

  /**
   * sc.exe in the system directory. Never a bare {@code sc.exe}: Windows would look for it in the current
   * directory first, where anyone who can write there could plant one that the agent, as an administrator,
   * would run.
   */
  static String defaultSc(String systemRoot) {
    String root = systemRoot == null || systemRoot.isBlank() ? "C:\\Windows" : systemRoot;
    return root + "\\System32\\sc.exe";
  }

  private static void allow(String type, Map<String, String> options, String... own) {
    Set<String> allowed = new TreeSet<>(COMMON);
    allowed.addAll(Set.of(own));
    for (Map.Entry<String, String> option : options.entrySet()) {
      if (!allowed.contains(option.getKey())) {
        throw new IllegalArgumentException(String.format(Locale.ROOT,
            "%s service manager: expected options among %s but found \"%s\"", type, allowed, option.getKey()));
      }
      if (option.getValue() == null || option.getValue().isBlank()) {
        throw new IllegalArgumentException(String.format(Locale.ROOT,
            "%s service manager: option %s: expected a value but found none", type, option.getKey()));
      }
    }
  }

  private static Commands commands(String type, Map<String, String> options, CommandRunner runner, Duration poll) {
    Duration timeout = duration(type, options, "commandTimeout");
    Duration settle = duration(type, options, "settleTimeout");
    return new Commands(runner, timeout, settle, poll);
  }

  private static Duration duration(String type, Map<String, String> options, String name) {
    String value = options.get(name);
    if (value == null) {
      return DEFAULT_TIMEOUT;
    }
    try {
      Duration d = Duration.parse(value);
      if (!d.isNegative() && !d.isZero()) {
        return d;
      }
    } catch (DateTimeParseException e) {
      // reported below
    }
    throw new IllegalArgumentException(String.format(Locale.ROOT,
        "%s service manager: option %s: expected a positive ISO-8601 duration such as PT2M but found \"%s\"",
        type, name, value));
  }
}
