package dev.tourniquet.agent.enforce.service;

import dev.tourniquet.feed.mitigation.Action.DisableService.Manager;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * systemd through {@code systemctl}. A service is disabled by masking it with {@code systemctl mask --now}:
 * a masked unit is linked to {@code /dev/null}, so nothing can start it (not a dependency, a socket, D-Bus
 * activation nor an operator), which is what Windows' start type Disabled means; {@code --now} stops it too.
 * Masking leaves the unit's enablement links alone, so {@code systemctl unmask} gives back exactly the
 * {@code UnitFileState} it had ({@code enabled}, {@code disabled}, {@code static}, …) without this code
 * re-deriving enablement from the unit's {@code [Install]} section. docs/services.md explains the choice.
 *
 * <p>Commands, every unit name after {@code --} so that no name can read as an option:
 *
 * <pre>
 * systemctl show --property=Id,LoadState,UnitFileState,ActiveState -- NAME    resolve: the unit's Id and state
 * systemctl show --property=LoadState,UnitFileState,ActiveState -- UNIT       query: verify a step, restore, re-check
 * systemctl mask --now -- UNIT                                                disable (and stop)
 * systemctl stop -- UNIT                                                      stop a unit already masked
 * systemctl unmask -- UNIT                                                    restore the startup
 * systemctl start -- UNIT                                                     restore a running unit
 * systemctl mask -- UNIT                                                      mask again a unit that was masked yet ran
 * </pre>
 *
 * <p>A unit is identified by its {@code Id}: {@code systemctl show} reports the same {@code Id} for every
 * name of a unit (an alias, a symlink in a unit directory, names the unit it links to), so {@code ssh} and
 * {@code sshd.service} on Debian are one unit, {@code ssh.service}, and every command after resolving names
 * it so. That matters beyond the records: {@code systemctl mask} by an alias would mask the alias's name only.
 * The show that resolves a name reports the unit's state as well, the same properties of the same unit as a
 * query by its {@code Id} (systemd reaches one unit object by any of its names), so a check that changes
 * nothing costs one {@code systemctl} per name.
 */
final class Systemd implements ServiceManager {
  static final String PROPERTIES = "--property=LoadState,UnitFileState,ActiveState";
  static final String IDENTITY = "--property=Id,LoadState,UnitFileState,ActiveState";

  /** Unit types a mitigation may name directly; any other name is a service: {@code nginx} → {@code nginx.service}. */
  private static final List<String> UNIT_SUFFIXES = List.of(".service", ".socket", ".timer", ".path");
  /** The UnitFileState of a unit masked in /etc, as {@code systemctl mask} without {@code --runtime} does. */
  private static final String PERSISTENT_MASK = "masked";
  private static final Set<String> MASKED = Set.of(PERSISTENT_MASK, "masked-runtime");
  /** ActiveState values of a unit that is up or on its way up; restore starts such a unit again. */
  private static final Set<String> RUNNING = Set.of("active", "activating", "reloading", "refreshing");
  /** ActiveState values of a unit that is down. */
  private static final Set<String> DOWN = Set.of("inactive", "failed");

  private final String systemctl;
  private final Commands commands;

  Systemd(String systemctl, Commands commands) {
    this.systemctl = Objects.requireNonNull(systemctl, "systemctl");
    this.commands = Objects.requireNonNull(commands, "commands");
  }

  @Override
  public Manager kind() {
    return Manager.SYSTEMD;
  }

  @Override
  public String address(String service) {
    Objects.requireNonNull(service, "service");
    if (service.isEmpty() || service.startsWith("-")) {
      throw new IllegalArgumentException("expected a systemd unit name but found \"" + service + "\"");
    }
    String unit = service + ".service";
    for (String suffix : UNIT_SUFFIXES) {
      if (service.endsWith(suffix) && service.length() > suffix.length()) {
        unit = service;
      }
    }
    if (unit.contains("@.")) {
      // A template (getty@.service) is no unit that runs: stopping it fails, and masking it masks every
      // instance, which restoring would not know to start again.
      throw new IllegalArgumentException("expected a unit or a template's instance (getty@tty1) but found the"
          + " template \"" + service + "\"");
    }
    return unit;
  }

  @Override
  public Map<String, ServiceState> resolve(String service) throws ServiceManagerException {
    String unit = address(service);
    List<String> argv = List.of(systemctl, "show", IDENTITY, "--", unit);
    CommandRunner.Result result = commands.runExpecting(argv);
    Map<String, String> properties = parseShow(result.stdout());
    String expected = "Id, LoadState, UnitFileState and ActiveState lines";
    String id = properties.get("Id");
    if (id == null || id.isEmpty()) {
      throw Commands.failed(argv, result, expected);
    }
    Optional<ServiceState> state = state(argv, result, properties, expected);
    if (state.isEmpty()) {
      return Map.of();
    }
    try {
      // The Id is a unit name systemd reports, never a template: checked as a name a mitigation could write.
      if (!address(id).equals(id)) {
        throw new IllegalArgumentException("expected a unit name with its type but found \"" + id + "\"");
      }
    } catch (IllegalArgumentException e) {
      throw Commands.failed(argv, result, "an Id that names one unit: " + e.getMessage());
    }
    return Map.of(id, state.get());
  }

  @Override
  public Map<String, ServiceState> identitiesOfRecord(String unit, ServiceState previous) throws ServiceManagerException {
    // The earlier version's key was the unit as the mitigation named it, maybe an alias: ask systemd.
    Set<String> ids = resolve(unit).keySet();
    return Map.of(ids.isEmpty() ? unit : ids.iterator().next(), previous);
  }

  /** A unit whose file was deleted while it ran is not-found but still active: it exists, and runs. */
  private static boolean notFound(String load, String active) {
    return load.equals("not-found") && DOWN.contains(active);
  }

  @Override
  public Optional<ServiceState> query(String unit) throws ServiceManagerException {
    List<String> argv = List.of(systemctl, "show", PROPERTIES, "--", unit);
    CommandRunner.Result result = commands.runExpecting(argv);
    return state(argv, result, parseShow(result.stdout()), "LoadState, UnitFileState and ActiveState lines");
  }

  /** The state in a show's answer; empty for a unit that does not exist. */
  private static Optional<ServiceState> state(List<String> argv, CommandRunner.Result result,
      Map<String, String> properties, String expected) throws ServiceManagerException {
    String load = properties.get("LoadState");
    String active = properties.get("ActiveState");
    String unitFile = properties.get("UnitFileState");
    if (load == null || load.isEmpty() || active == null || active.isEmpty() || unitFile == null) {
      throw Commands.failed(argv, result, expected);
    }
    if (notFound(load, active)) {
      return Optional.empty();
    }
    // UnitFileState is empty for units without a unit file (transient, generated without one).
    return Optional.of(new ServiceState(unitFile.isEmpty() ? "none" : unitFile, active));
  }

  /**
   * Reads {@code systemctl show} output: one {@code Key=Value} line per property, the value being
   * everything after the first {@code =} (it may be empty, or contain {@code =}).
   *
   * @param stdout the output
   * @return property to value, in output order
   * @throws ServiceManagerException if a non-empty line is not {@code Key=Value}
   */
  static Map<String, String> parseShow(String stdout) throws ServiceManagerException {
    Map<String, String> properties = new LinkedHashMap<>();
    for (String line : stdout.split("\\R")) {
      if (line.isBlank()) {
        continue;
      }
      int eq = line.indexOf('=');
      if (eq <= 0) {
        throw new ServiceManagerException("systemctl show: expected Key=Value lines but found \"" + line.strip() + "\"");
      }
      properties.put(line.substring(0, eq), line.substring(eq + 1).strip());
    }
    return properties;
  }

  @Override
  public boolean isDisabled(ServiceState state) {
    return MASKED.contains(state.startup()) && DOWN.contains(state.activity());
  }

  @Override
  public void disable(String unit, ServiceState current) throws ServiceManagerException {
    if (!MASKED.contains(current.startup())) {
      commands.runExpecting(List.of(systemctl, "mask", "--now", "--", unit));
    } else if (!DOWN.contains(current.activity())) {
      commands.runExpecting(List.of(systemctl, "stop", "--", unit));
    }
    commands.await(null, () -> query(unit), this::isDisabled, unit + " to be masked and stopped",
        "UnitFileState masked and ActiveState inactive or failed");
  }

  @Override
  public void restore(String unit, ServiceState previous) throws ServiceManagerException {
    Optional<ServiceState> found = query(unit);
    if (found.isEmpty()) {
      return;
    }
    ServiceState current = found.get();
    // disable masks persistently (UnitFileState "masked"). A unit that had no persistent mask before (none, or
    // one until the next boot with --runtime: "masked-runtime") loses that one, which is ours; plain unmask
    // removes it and leaves a runtime mask alone. A unit that had one keeps it.
    boolean hadMask = previous.startup().equals(PERSISTENT_MASK);
    boolean masked = current.startup().equals(PERSISTENT_MASK);
    boolean wasRunning = RUNNING.contains(previous.activity());
    boolean start = wasRunning && !RUNNING.contains(current.activity());
    boolean acted = false;
    // systemctl starts no masked unit ("Unit nginx.service is masked."): one that was masked yet running has
    // its mask lifted for the start and put back after it, as Windows does with a Disabled service that ran.
    boolean lift = hadMask && masked && start;
    if (masked && (!hadMask || lift)) {
      commands.runExpecting(List.of(systemctl, "unmask", "--", unit));
      acted = true;
    }
    if (start) {
      commands.runExpecting(List.of(systemctl, "start", "--", unit));
      acted = true;
    }
    if (lift) {
      commands.runExpecting(List.of(systemctl, "mask", "--", unit));
    }
    boolean runtimeBefore = previous.startup().equals("masked-runtime");
    commands.await(acted ? null : current, () -> query(unit),
        s -> (hadMask ? s.startup().equals(PERSISTENT_MASK)
            : !s.startup().equals(PERSISTENT_MASK) && (runtimeBefore || !MASKED.contains(s.startup())))
            && (!wasRunning || s.activity().equals("active")),
        unit + " to be restored",
        String.format(Locale.ROOT, "UnitFileState %s%s", hadMask ? PERSISTENT_MASK : runtimeBefore
                ? "not masked persistently (masked-runtime before)" : "not masked (" + previous.startup() + " before)",
            wasRunning ? " and ActiveState active" : ""));
  }

  @Override
  public String toString() {
    return "systemd (" + systemctl + ")";
  }
}
