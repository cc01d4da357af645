package dev.tourniquet.agent.enforce.service;

import dev.tourniquet.feed.mitigation.Action.DisableService.Manager;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Windows service control manager through {@code sc.exe}, doing what Microsoft's 2021 Exchange
 * mitigation did to {@code MSExchangeUM}: start type Disabled, then stop; on removal, the start type back
 * and started again if it ran.
 *
 * <pre>
 * sc.exe qc NAME 8192                  start type:  START_TYPE : 2   AUTO_START  (DELAYED)
 * sc.exe query NAME                    state:       STATE      : 4  RUNNING
 * sc.exe config NAME start= disabled   ("start=" and its value are two arguments, as sc.exe wants)
 * sc.exe stop NAME                     then query until STOPPED, with a deadline (a START_PENDING service
 *                                      first until it has started: it accepts no stop before)
 * sc.exe config NAME start= auto|delayed-auto|demand|boot|system
 * sc.exe start NAME                    then query until RUNNING, with a deadline
 * </pre>
 *
 * <p>sc.exe translates its labels on localized Windows ({@code TIPO_AVVIO} for {@code START_TYPE} in
 * Italian) but never the numbers nor the English value names after them, so the parsers find the value by
 * its shape ({@code : 2   AUTO_START}), not by its label, and check that number and name agree. A missing
 * service is recognized by sc.exe's exit code, the Win32 error 1060, which is not translated either.
 *
 * <p>A service is identified by its key name in lower case: Windows compares service names ignoring case,
 * so {@code MSExchangeUM} and {@code msexchangeum} are one service. A name that {@code sc.exe qc} does not
 * know (it takes key names only) may be a display name: {@code sc.exe getkeyname NAME} gives its key name.
 * A key name wins over another service's display name, as it does for sc.exe itself.
 *
 * <p>Resolving a key name is querying it: {@code sc.exe qc} knows it (and gives the start type), then
 * {@code sc.exe query} gives the state. So a check that changes nothing runs those two per name; no one
 * sc.exe command reports both ({@code qc} reads the service's configuration, {@code query} and
 * {@code queryex} its status).
 */
final class WindowsScm implements ServiceManager {
  /** ERROR_SERVICE_DOES_NOT_EXIST. */
  static final int NO_SUCH_SERVICE = 1060;
  /** ERROR_SERVICE_NOT_ACTIVE: stop on a service that is not running. */
  static final int NOT_ACTIVE = 1062;
  /** ERROR_SERVICE_ALREADY_RUNNING: start on a service that runs. */
  static final int ALREADY_RUNNING = 1056;

  /** START_TYPE number to its name in sc.exe output and its value for {@code sc.exe config start=}. */
  /**
   * The buffer {@code sc.exe qc} may use, in bytes. Its default, 1,024, fails with error 122
   * (ERROR_INSUFFICIENT_BUFFER) for a service whose path, display name and dependencies need more, as
   * long Exchange paths with several dependencies can.
   */
  private static final String QC_BUFFER = "8192";
  private static final Map<Integer, List<String>> START_TYPES = Map.of(
      0, List.of("BOOT_START", "boot"),
      1, List.of("SYSTEM_START", "system"),
      2, List.of("AUTO_START", "auto"),
      3, List.of("DEMAND_START", "demand"),
      4, List.of("DISABLED", "disabled"));
  private static final List<String> STATES = List.of("", "STOPPED", "START_PENDING", "STOP_PENDING", "RUNNING",
      "CONTINUE_PENDING", "PAUSE_PENDING", "PAUSED");
  private static final Pattern START_TYPE = Pattern.compile(
      ":\\s+(\\d+)\\s+(BOOT_START|SYSTEM_START|AUTO_START|DEMAND_START|DISABLED)(\\s+\\(DELAYED\\))?\\s*$");
  /** The key name in {@code sc.exe getkeyname} output, after a label that may be translated: {@code Name = Key}. */
  private static final Pattern KEY_NAME = Pattern.compile("\\s=\\s+([^\\s/\\\\,]+)\\s*$");
  private static final Pattern STATE = Pattern.compile(
      ":\\s+(\\d+)\\s+(STOPPED|START_PENDING|STOP_PENDING|RUNNING|CONTINUE_PENDING|PAUSE_PENDING|PAUSED)\\s*$");
  /** States in which the service's process is up: restore starts such a service again. */
  private static final Set<String> RUNNING = Set.of("RUNNING", "START_PENDING", "CONTINUE_PENDING", "PAUSE_PENDING", "PAUSED");

  private final String sc;
  private final Commands commands;

  WindowsScm(String sc, Commands commands) {
    this.sc = Objects.requireNonNull(sc, "sc");
    this.commands = Objects.requireNonNull(commands, "commands");
  }

  @Override
  public Manager kind() {
    return Manager.WINDOWS;
  }

  @Override
  public String address(String service) {
    Objects.requireNonNull(service, "service");
    if (service.isEmpty() || service.contains("/") || service.contains("\\")) {
      throw new IllegalArgumentException("expected a Windows service name but found \"" + service + "\"");
    }
    return service.toLowerCase(Locale.ROOT);
  }

  @Override
  public Map<String, ServiceState> resolve(String service) throws ServiceManagerException {
    String name = address(service);
    // sc.exe qc opens the service by its key name only (never by display name), ignoring case: if it knows the
    // name, the name is the key name, and its answer has the start type, so only the state is left to query.
    Optional<ServiceState> state = query(name);
    if (state.isPresent()) {
      return Map.of(name, state.get());
    }
    List<String> getKeyName = List.of(sc, "getkeyname", service);
    CommandRunner.Result key = commands.runExpecting(getKeyName, NO_SUCH_SERVICE);
    if (key.exitCode() == NO_SUCH_SERVICE) {
      return Map.of();
    }
    String keyName = address(parseKeyName(key.stdout()).orElseThrow(() -> Commands.failed(getKeyName, key,
        "a line such as `[SC] GetServiceKeyName SUCCESS  Name = MSExchangeUM`")));
    // Empty only if the service was deleted since getkeyname found it.
    return query(keyName).map(found -> Map.of(keyName, found)).orElse(Map.of());
  }

  @Override
  public Map<String, ServiceState> identitiesOfRecord(String name, ServiceState previous) {
    // The earlier version's key was the name in lower case, and sc.exe qc had found it: a key name.
    return Map.of(name, previous);
  }

  /**
   * Reads the key name from {@code sc.exe getkeyname} output: {@code [SC] GetServiceKeyName SUCCESS  Name = Key}
   * on one line, or the {@code Name = Key} on a line of its own, as newer sc.exe prints it.
   *
   * @param stdout the output
   * @return the key name; empty if no line ends with {@code = } and a name without spaces, {@code /},
   *     {@code \} or {@code ,} (which no key name has)
   */
  static Optional<String> parseKeyName(String stdout) {
    for (String line : stdout.split("\\R")) {
      Matcher m = KEY_NAME.matcher(line);
      if (m.find()) {
        return Optional.of(m.group(1));
      }
    }
    return Optional.empty();
  }

  @Override
  public Optional<ServiceState> query(String name) throws ServiceManagerException {
    List<String> qc = List.of(sc, "qc", name, QC_BUFFER);
    CommandRunner.Result config = commands.runExpecting(qc, NO_SUCH_SERVICE);
    if (config.exitCode() == NO_SUCH_SERVICE) {
      return Optional.empty();
    }
    String startType = parseStartType(config.stdout())
        .orElseThrow(() -> Commands.failed(qc, config, "a line such as `START_TYPE : 2   AUTO_START`"));
    return queryState(name, startType);
  }

  /** Queries the state only ({@code sc.exe query}), with a start type already known: how waits poll. */
  private Optional<ServiceState> queryState(String name, String startType) throws ServiceManagerException {
    List<String> query = List.of(sc, "query", name);
    CommandRunner.Result status = commands.runExpecting(query, NO_SUCH_SERVICE);
    if (status.exitCode() == NO_SUCH_SERVICE) {
      return Optional.empty();
    }
    String state = parseState(status.stdout())
        .orElseThrow(() -> Commands.failed(query, status, "a line such as `STATE : 4  RUNNING`"));
    return Optional.of(new ServiceState(startType, state));
  }

  /**
   * Reads the start type from {@code sc.exe qc} output.
   *
   * @param stdout the output
   * @return the start type as {@code sc.exe config start=} takes it: {@code auto}, {@code delayed-auto},
   *     {@code demand}, {@code disabled}, {@code boot} or {@code system}; empty if no line has one, or the
   *     number and the name disagree
   */
  static Optional<String> parseStartType(String stdout) {
    for (String line : stdout.split("\\R")) {
      Matcher m = START_TYPE.matcher(line);
      if (m.find()) {
        List<String> known = START_TYPES.get(Integer.parseInt(m.group(1)));
        if (known == null || !known.get(0).equals(m.group(2))) {
          return Optional.empty();
        }
        boolean delayed = m.group(3) != null;
        if (delayed && !m.group(2).equals("AUTO_START")) {
          return Optional.empty();
        }
        return Optional.of(delayed ? "delayed-auto" : known.get(1));
      }
    }
    return Optional.empty();
  }

  /**
   * Reads the state from {@code sc.exe query}, {@code stop} or {@code start} output.
   *
   * @param stdout the output
   * @return the state's name, e.g. {@code RUNNING}; empty if no line has one, or number and name disagree
   */
  static Optional<String> parseState(String stdout) {
    for (String line : stdout.split("\\R")) {
      Matcher m = STATE.matcher(line);
      if (m.find()) {
        int number = Integer.parseInt(m.group(1));
        if (number >= STATES.size() || !STATES.get(number).equals(m.group(2))) {
          return Optional.empty();
        }
        return Optional.of(m.group(2));
      }
    }
    return Optional.empty();
  }

  @Override
  public boolean isDisabled(ServiceState state) {
    return state.startup().equals("disabled") && state.activity().equals("STOPPED");
  }

  @Override
  public void disable(String name, ServiceState current) throws ServiceManagerException {
    if (!current.startup().equals("disabled")) {
      setStartType(name, "disabled");
    }
    String activity = current.activity();
    if (activity.equals("START_PENDING")) {
      // ControlService refuses every control while a service starts (1061, ERROR_SERVICE_CANNOT_ACCEPT_CTRL):
      // wait until it runs (or gave up starting), then stop it. Its start type is Disabled already.
      activity = commands.await(null, () -> queryState(name, "disabled"), s -> !s.activity().equals("START_PENDING"),
          name + " to finish starting", "a STATE other than START_PENDING").activity();
    }
    if (!activity.equals("STOPPED")) {
      if (!activity.equals("STOP_PENDING")) {
        commands.runExpecting(List.of(sc, "stop", name), NOT_ACTIVE);
      }
      commands.await(null, () -> queryState(name, "disabled"), s -> s.activity().equals("STOPPED"), name + " to stop", "STATE STOPPED");
    }
  }

  @Override
  public void restore(String name, ServiceState previous) throws ServiceManagerException {
    Optional<ServiceState> found = query(name);
    if (found.isEmpty()) {
      return;
    }
    String startup = found.get().startup();
    boolean start = RUNNING.contains(previous.activity()) && !RUNNING.contains(found.get().activity());
    if (!startup.equals(previous.startup()) && !previous.startup().equals("disabled")) {
      setStartType(name, previous.startup());
      startup = previous.startup();
    }
    if (start) {
      if (startup.equals("disabled")) {
        // It was Disabled yet running: a Disabled service cannot be started (error 1058), so allow a manual
        // start for the moment and put Disabled back below.
        setStartType(name, "demand");
        startup = "demand";
      }
      commands.runExpecting(List.of(sc, "start", name), ALREADY_RUNNING);
      String known = startup;
      commands.await(null, () -> queryState(name, known), s -> s.activity().equals("RUNNING"), name + " to start", "STATE RUNNING");
    }
    if (!startup.equals(previous.startup())) {
      setStartType(name, previous.startup());
    }
  }

  /** Sets the start type and verifies it with {@code sc.exe qc}. */
  private void setStartType(String name, String startType) throws ServiceManagerException {
    commands.runExpecting(List.of(sc, "config", name, "start=", startType));
    List<String> qc = List.of(sc, "qc", name, QC_BUFFER);
    CommandRunner.Result check = commands.runExpecting(qc);
    Optional<String> now = parseStartType(check.stdout());
    if (!now.equals(Optional.of(startType))) {
      throw Commands.failed(qc, check, "start type " + startType + " after `sc.exe config " + name + " start= "
          + startType + "`");
    }
  }

  @Override
  public String toString() {
    return "Windows service control manager (" + sc + ")";
  }
}
