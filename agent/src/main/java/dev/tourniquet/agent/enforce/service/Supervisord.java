package dev.tourniquet.agent.enforce.service;

import dev.tourniquet.feed.mitigation.Action.DisableService.Manager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A supervisord through {@code supervisorctl}: {@code status NAME}, {@code stop NAME}, {@code start NAME}.
 *
 * <p>supervisord cannot change a program's {@code autostart} at runtime (it is read from the configuration
 * file only), so disabling means stopped, and nothing more: after supervisord itself restarts, a program
 * with {@code autostart=true} runs again until the agent's next converge, which queries the actual state
 * every time and stops it again. docs/services.md spells out the window this leaves.
 *
 * <p>A name without {@code :} is one program (group and process of the same name); {@code group:} or
 * {@code group:process} address a group or one of its processes, as supervisorctl reads them. The name
 * {@code all} is refused: supervisorctl reads it as every program.
 *
 * <p><b>Identity.</b> A process is identified by its namespec as {@code supervisorctl status NAME} prints
 * it: {@code web} for a program {@code web} (its group has its name), {@code grp:api} for a process in a
 * group of another name. So {@code web}, {@code web:} and {@code web:web} all resolve to {@code web}, and a
 * group name {@code pool:} resolves to each of its processes ({@code pool:pool_00}, {@code pool:pool_01}),
 * each recorded, stopped and restored on its own: a group is the processes it has at each converge. The
 * status that resolves a name prints each process's state too, so a check that changes nothing runs one
 * {@code status} per name.
 * Earlier versions recorded a group as one record of {@code namespec=STATE} pairs; such a record is read as
 * one record per process ({@link #identitiesOfRecord}).
 *
 * <p>How supervisorctl finds supervisord: a configuration file ({@code -c}), or a server URL ({@code -s}).
 * With a username and password, they go into a private temporary configuration file for the length of
 * each command, never onto the command line, where every local user could read them in the process list.
 */
final class Supervisord implements ServiceManager {
  private static final Pattern STATUS_LINE = Pattern.compile(
      "^(\\S+)\\s+(STOPPED|STARTING|RUNNING|BACKOFF|STOPPING|EXITED|FATAL|UNKNOWN)(?:\\s+(.*))?$");
  private static final Pattern NO_SUCH = Pattern.compile("^(\\S+): ERROR \\(no such (?:process|group)\\)$");
  /** supervisorctl's answers to stop and start that mean "already so" and are not failures. */
  private static final Set<String> HARMLESS_ERRORS = Set.of("ERROR (not running)", "ERROR (already started)");
  private static final Set<String> DOWN = Set.of("STOPPED", "EXITED", "FATAL");
  /** States of a process that is up or being brought up by supervisord: restore starts it again. */
  private static final Set<String> RUNNING = Set.of("RUNNING", "STARTING", "BACKOFF");

  private final String supervisorctl;
  private final Connection connection;
  private final Commands commands;

  /**
   * How supervisorctl reaches supervisord.
   *
   * @param configFile a supervisord configuration file with a {@code [supervisorctl]} section, or null
   * @param serverUrl {@code unix:///path/to/socket} or {@code http://host:port}, or null
   * @param username the user for the server URL, or null
   * @param password the password for the server URL, or null; never printed
   */
  record Connection(Path configFile, String serverUrl, String username, String password) {
    Connection {
      if ((configFile == null) == (serverUrl == null)) {
        throw new IllegalArgumentException("supervisord: expected exactly one of configFile or serverUrl but found "
            + (configFile == null ? "neither" : "both"));
      }
      if (configFile != null && (username != null || password != null)) {
        throw new IllegalArgumentException("supervisord: username and password go with serverUrl; with configFile,"
            + " put them in its [supervisorctl] section");
      }
      if (serverUrl != null && !serverUrl.startsWith("unix://") && !serverUrl.startsWith("http://")) {
        throw new IllegalArgumentException("supervisord: serverUrl: expected unix:///path or http://host:port but found \""
            + serverUrl + "\"");
      }
      iniValue("serverUrl", serverUrl);
      iniValue("username", username);
      iniValue("password", password);
    }

    private static void iniValue(String field, String value) {
      // supervisorctl reads its file with an INI parser that strips surrounding spaces and cuts a value at
      // a ';' or '#' after a space; such values would silently become other values, so refuse them. The
      // message never quotes the value: it may be the password.
      if (value != null && (value.isEmpty() || !value.equals(value.strip()) || value.contains("\n") || value.contains("\r")
          || value.matches("(?s).*\\s[;#].*"))) {
        throw new IllegalArgumentException("supervisord: " + field + ": expected a non-empty value without line breaks,"
            + " surrounding spaces or a ';' or '#' after a space, which supervisorctl's configuration file cannot"
            + " hold, but found one that has them");
      }
    }

    @Override
    public String toString() {
      if (configFile != null) {
        return "-c " + configFile;
      }
      return serverUrl + (username == null ? "" : " as " + username) + (password == null ? "" : " (password set)");
    }
  }

  Supervisord(String supervisorctl, Connection connection, Commands commands) {
    this.supervisorctl = Objects.requireNonNull(supervisorctl, "supervisorctl");
    this.connection = Objects.requireNonNull(connection, "connection");
    this.commands = Objects.requireNonNull(commands, "commands");
  }

  @Override
  public Manager kind() {
    return Manager.SUPERVISORD;
  }

  @Override
  public String address(String service) {
    Objects.requireNonNull(service, "service");
    if (service.equals("all") || service.isEmpty() || service.startsWith("-") || service.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException("expected a supervisord program or group name but found \"" + service + "\""
          + (service.equals("all") ? ", which supervisorctl reads as every program" : ""));
    }
    return service;
  }

  @Override
  public Map<String, ServiceState> resolve(String service) throws ServiceManagerException {
    String name = address(service);
    List<String> argv = argv("status", name);
    Optional<Map<String, String>> processes = status(argv, name);
    if (processes.isEmpty()) {
      return Map.of();
    }
    // Each process's state as `status NAMESPEC` prints it: its line, the bare state (see activity).
    Map<String, ServiceState> identities = new LinkedHashMap<>();
    for (Map.Entry<String, String> process : processes.get().entrySet()) {
      try {
        address(process.getKey());
      } catch (IllegalArgumentException e) {
        // A program named "all": supervisorctl would read every command for it as one for every program.
        throw new ServiceManagerException("`" + String.join(" ", argv) + "`: " + name + " is the process "
            + process.getKey() + ", which cannot be addressed safely: " + e.getMessage(), e);
      }
      identities.put(process.getKey(), new ServiceState(ServiceState.SUPERVISORD_STARTUP, process.getValue()));
    }
    return identities;
  }

  @Override
  public Map<String, ServiceState> identitiesOfRecord(String name, ServiceState previous) throws ServiceManagerException {
    // The earlier version recorded what `status NAME` printed: a bare state when it printed the name itself
    // (so the name was the namespec), namespec=STATE pairs otherwise. Either way the namespecs are there.
    Map<String, ServiceState> identities = new LinkedHashMap<>();
    for (Map.Entry<String, String> process : processes(name, previous).entrySet()) {
      try {
        identities.put(address(process.getKey()), new ServiceState(previous.startup(), process.getValue()));
      } catch (IllegalArgumentException e) {
        throw new ServiceManagerException(name + ": expected a recorded state of namespec=STATE pairs but found \""
            + previous.activity() + "\": " + e.getMessage(), e);
      }
    }
    return identities;
  }

  @Override
  public Optional<ServiceState> query(String name) throws ServiceManagerException {
    return status(argv("status", name), name).map(p -> new ServiceState(ServiceState.SUPERVISORD_STARTUP, activity(name, p)));
  }

  /** Runs {@code status NAME}: namespec to state, empty if supervisord knows no such process or group. */
  private Optional<Map<String, String>> status(List<String> argv, String name) throws ServiceManagerException {
    CommandRunner.Result result = run(argv);
    // Exit codes: 0 all running, 3 some not running, 4 no such process or no supervisord to ask.
    if (result.exitCode() != 0 && result.exitCode() != 3 && result.exitCode() != 4) {
      throw Commands.failed(argv, result, "exit code 0, 3 or 4 and a status line");
    }
    Optional<Map<String, String>> processes = parseStatus(result.stdout());
    if (processes == null) {
      throw Commands.failed(argv, result, "status lines such as `" + name + "  RUNNING   pid 123, uptime 0:00:05`"
          + " or `" + name + ": ERROR (no such process)`");
    }
    return processes;
  }

  /**
   * Reads {@code supervisorctl status} output.
   *
   * @param stdout the output
   * @return namespec to state for every line; empty if supervisorctl said there is no such process or
   *     group; null if the output is neither (e.g. supervisord is not running)
   */
  static Optional<Map<String, String>> parseStatus(String stdout) {
    Map<String, String> processes = new LinkedHashMap<>();
    boolean missing = false;
    for (String raw : stdout.split("\\R")) {
      String line = raw.strip();
      if (line.isEmpty()) {
        continue;
      }
      Matcher status = STATUS_LINE.matcher(line);
      if (status.matches()) {
        processes.put(status.group(1), status.group(2));
      } else if (NO_SUCH.matcher(line).matches()) {
        missing = true;
      } else {
        return null;
      }
    }
    if (missing && processes.isEmpty()) {
      return Optional.empty();
    }
    return missing || processes.isEmpty() ? null : Optional.of(processes);
  }

  /** One process named as asked: its bare state. A group, or a process under another namespec: name=STATE pairs. */
  private static String activity(String name, Map<String, String> processes) {
    if (processes.size() == 1 && processes.containsKey(name)) {
      return processes.get(name);
    }
    List<String> pairs = new ArrayList<>();
    processes.forEach((namespec, state) -> pairs.add(namespec + "=" + state));
    return String.join(",", pairs);
  }

  /** The inverse of {@link #activity}: namespec to state. */
  private static Map<String, String> processes(String name, ServiceState state) throws ServiceManagerException {
    Map<String, String> processes = new LinkedHashMap<>();
    if (!state.activity().contains("=")) {
      processes.put(name, state.activity());
      return processes;
    }
    for (String pair : state.activity().split(",")) {
      int eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new ServiceManagerException(name + ": expected a recorded state of namespec=STATE pairs but found \""
            + state.activity() + "\"");
      }
      processes.put(pair.substring(0, eq), pair.substring(eq + 1));
    }
    return processes;
  }

  @Override
  public boolean isDisabled(ServiceState state) {
    try {
      return processes("-", state).values().stream().allMatch(DOWN::contains);
    } catch (ServiceManagerException e) {
      return false;
    }
  }

  @Override
  public void disable(String name, ServiceState current) throws ServiceManagerException {
    if (!isDisabled(current)) {
      runAnswering(argv("stop", name));
    }
    commands.await(null, () -> query(name), this::isDisabled, name + " to stop", "every process STOPPED, EXITED or FATAL");
  }

  @Override
  public void restore(String name, ServiceState previous) throws ServiceManagerException {
    Optional<ServiceState> found = query(name);
    if (found.isEmpty()) {
      return;
    }
    Map<String, String> before = processes(name, previous);
    Map<String, String> now = processes(name, found.get());
    List<String> toStart = new ArrayList<>();
    for (Map.Entry<String, String> process : before.entrySet()) {
      String state = now.get(process.getKey());
      if (RUNNING.contains(process.getValue()) && state != null && !RUNNING.contains(state)) {
        toStart.add(process.getKey());
      }
    }
    for (String namespec : toStart) {
      runAnswering(argv("start", namespec));
    }
    commands.await(toStart.isEmpty() ? found.get() : null, () -> query(name), s -> {
      try {
        Map<String, String> after = processes(name, s);
        return before.entrySet().stream().filter(p -> RUNNING.contains(p.getValue()))
            .allMatch(p -> !after.containsKey(p.getKey()) || after.get(p.getKey()).equals("RUNNING"));
      } catch (ServiceManagerException e) {
        return false;
      }
    }, name + " to be restored", "RUNNING for every process that ran before (" + previous.activity() + ")");
  }

  /** Runs stop or start; supervisorctl prints {@code name: ERROR (...)} on failure, with exit code 0 or not. */
  private void runAnswering(List<String> argv) throws ServiceManagerException {
    CommandRunner.Result result = run(argv);
    boolean failed = result.exitCode() != 0;
    for (String line : result.output().split("\\R")) {
      int error = line.indexOf("ERROR");
      if (error >= 0 && !HARMLESS_ERRORS.contains(line.substring(error).strip())) {
        failed = true;
      }
    }
    if (failed) {
      throw Commands.failed(argv, result, "exit code 0 and no ERROR");
    }
  }

  private List<String> argv(String verb, String name) {
    List<String> argv = new ArrayList<>();
    argv.add(supervisorctl);
    if (connection.configFile() != null) {
      argv.add("-c");
      argv.add(connection.configFile().toString());
    } else if (connection.username() == null && connection.password() == null) {
      argv.add("-s");
      argv.add(connection.serverUrl());
    }
    argv.add(verb);
    argv.add(name);
    return argv;
  }

  /** Runs a command, through a private configuration file when there are credentials. */
  private CommandRunner.Result run(List<String> argv) throws ServiceManagerException {
    if (connection.configFile() != null || (connection.username() == null && connection.password() == null)) {
      return commands.run(argv);
    }
    Path file = null;
    try {
      file = credentialsFile();
      List<String> withFile = new ArrayList<>(argv);
      withFile.add(1, "-c");
      withFile.add(2, file.toString());
      return commands.run(withFile);
    } catch (IOException | UncheckedIOException e) {
      throw new ServiceManagerException("supervisord: could not write the private supervisorctl configuration file: "
          + e.getMessage(), e);
    } finally {
      if (file != null) {
        try {
          Files.deleteIfExists(file);
        } catch (IOException e) {
          // The file is readable by its owner only; the next run writes another.
        }
      }
    }
  }

  private Path credentialsFile() throws IOException {
    Path file = FileSystems.getDefault().supportedFileAttributeViews().contains("posix")
        ? Files.createTempFile("tourniquet-supervisorctl-", ".conf",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
        : Files.createTempFile("tourniquet-supervisorctl-", ".conf");
    StringBuilder ini = new StringBuilder("[supervisorctl]\n");
    // supervisorctl expands %(name)s in values; %% is a literal %.
    ini.append("serverurl=").append(connection.serverUrl().replace("%", "%%")).append('\n');
    if (connection.username() != null) {
      ini.append("username=").append(connection.username().replace("%", "%%")).append('\n');
    }
    if (connection.password() != null) {
      ini.append("password=").append(connection.password().replace("%", "%%")).append('\n');
    }
    Files.writeString(file, ini, StandardCharsets.UTF_8);
    return file;
  }

  @Override
  public String toString() {
    return "supervisord (" + supervisorctl + " " + connection + ")";
  }
}
