package dev.tourniquet.agent.enforce.nginx;

import dev.tourniquet.agent.AtomicWrite;
import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.EnforcementException;
import dev.tourniquet.agent.enforce.Enforcer;
import dev.tourniquet.feed.mitigation.Action;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Enforces mitigations at an nginx: renders the active set into an include file ({@link NginxRenderer}),
 * checks the whole configuration with {@code nginx -T}, reloads, and verifies that the reload took effect;
 * any failure puts the previous file back (and reloads again if a reload had been asked for).
 *
 * <p>The steps of {@link #converge}:
 *
 * <ol>
 *   <li>Render; a mitigation nginx cannot enforce exactly fails the call before anything is touched.
 *   <li>If the rendered text equals the file's (and the njs script is current), stop: no write, no reload.
 *   <li>Keep the previous bytes; write the new text to a temporary file beside the include, fsync, rename
 *       it over the include atomically, fsync the directory. The include is never half written.
 *   <li>{@code nginx -T}: on failure restore and throw with nginx's message.
 *   <li>Read the master's pid (from the {@code pid} directive of the dumped configuration, else nginx's
 *       compiled default) and its current worker pids; {@code nginx -s reload}.
 *   <li>A reload is asynchronous: the master starts new workers only once it has applied the new
 *       configuration, and keeps the old ones if it cannot. So the enforcer polls, until the timeout, for
 *       a child of the master that was not there before. None means the reload did not take: restore,
 *       reload again, throw.
 * </ol>
 *
 * If nginx is not running (no pid file, or no such process), the checked file stays and takes effect when
 * nginx starts.
 */
public final class NginxEnforcer implements Enforcer {
  /** The include a new file gets: nginx reads it as whatever user runs {@code nginx -t}. */
  private static final Set<PosixFilePermission> READABLE = PosixFilePermissions.fromString("rw-r--r--");

  private static final int MAX_MESSAGE = 2000;
  private static final Pattern VERSION = Pattern.compile("nginx/(\\d+)\\.(\\d+)\\.(\\d+)");
  private static final Pattern PID_DIRECTIVE = Pattern.compile("(?m)^\\s*pid\\s+\"?([^\";\\s]+)\"?\\s*;");
  private static final Pattern USER_DIRECTIVE = Pattern.compile("(?m)^\\s*user\\s+\"?([^\";\\s]+)");
  private static final Set<String> KINDS = Set.of("request-rules", "response-rules", "disable-endpoint", "auth-policy");

  private final String target;
  private final NginxSettings settings;
  /**
   * Counts the audit log's keys as it grows; never reset, so that the counts never go down, and saved with
   * how far it read, so that they go on across a restart of the agent.
   */
  private final AuditLogReader audit;
  private Boolean joinsRepeatedHeaders;
  /** The mitigations of the last successful converge, to name audit keys. */
  private List<ActiveMitigation> converged = List.of();

  /**
   * Creates the enforcer; nothing is run or written until {@link #converge}.
   *
   * @param target the target's name from the agent's configuration
   * @param settings where the include, the binary and the state are
   * @throws NullPointerException if an argument is null
   */
  public NginxEnforcer(String target, NginxSettings settings) {
    this.target = Objects.requireNonNull(target, "target");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.audit = new AuditLogReader(target, auditLog(), settings.stateDir().resolve(AuditTallyFile.FILE_NAME));
  }

  @Override
  public String target() {
    return target;
  }

  /** Handles request-rules, disable-endpoint and auth-policy, and refuses response-rules; not disable-service. */
  @Override
  public boolean handles(String kind) {
    return KINDS.contains(kind);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Before the first {@link #converge} the nginx version is not known yet, and header inputs are judged
   * as on nginx before 1.23 (the stricter answer).
   */
  @Override
  public Optional<String> refusal(ActiveMitigation mitigation) {
    return NginxRenderer.refusal(mitigation, options(joinsRepeatedHeaders != null && joinsRepeatedHeaders))
        .map(reason -> target + ": " + reason);
  }

  @Override
  public void converge(List<ActiveMitigation> active) throws EnforcementException {
    List<ActiveMitigation> handled = new ArrayList<>();
    for (ActiveMitigation m : active) {
      if (m.mitigation().actions().stream().map(Action::kind).anyMatch(KINDS::contains)) {
        handled.add(m);
      }
    }
    if (joinsRepeatedHeaders == null) {
      joinsRepeatedHeaders = detectJoinsRepeatedHeaders();
    }
    String text;
    try {
      text = NginxRenderer.render(handled, options(joinsRepeatedHeaders));
    } catch (NginxRenderer.Refusal e) {
      throw new EnforcementException(target + ": " + e.getMessage());
    }
    if (settings.njs() && handled.stream().anyMatch(ActiveMitigation::audit)) {
      prepareAuditLog();
    }
    boolean scriptChanged = settings.njs() && writeScriptIfChanged();
    byte[] wanted = text.getBytes(StandardCharsets.UTF_8);
    Optional<byte[]> previous = read(settings.includeFile());
    if (previous.isPresent() && Arrays.equals(previous.get(), wanted) && !scriptChanged) {
      converged = List.copyOf(handled);
      return;
    }
    try {
      writeAtomically(settings.includeFile(), wanted);
    } catch (IOException e) {
      throw new EnforcementException(target + ": cannot write " + settings.includeFile() + ": " + e.getMessage(), true, e);
    }
    Optional<EnforcementException> failure;
    try {
      failure = checkAndReload(previous);
    } catch (EnforcementException e) {
      // A command could not even be run with the new file in place: put the previous one back.
      boolean restored = restore(previous);
      throw new EnforcementException(e.getMessage() + "; the previous include was "
          + (restored ? "restored" : "NOT restored: an operator must look"), restored, e);
    }
    if (failure.isPresent()) {
      throw failure.get();
    }
    converged = List.copyOf(handled);
  }

  /**
   * With the new include in place: check the configuration, reload, verify. When nginx says no, restores
   * the previous include (and reloads again if a reload had been asked for) and returns the failure.
   *
   * @throws EnforcementException if an nginx command could not be run at all (nothing restored yet)
   */
  private Optional<EnforcementException> checkAndReload(Optional<byte[]> previous) throws EnforcementException {
    Result test = run(List.of("-T"));
    if (!test.ok()) {
      boolean restored = restore(previous);
      return Optional.of(new EnforcementException(target + ": nginx -T failed, the previous include was "
          + (restored ? "restored" : "NOT restored") + ": " + test.message(), restored, null));
    }
    Optional<Long> master = masterPid(test.stdout());
    if (master.isEmpty()) {
      // nginx is not running: the checked file takes effect when it starts.
      return Optional.empty();
    }
    Set<Long> before = children(master.get());
    Result reload = run(List.of("-s", "reload"));
    if (!reload.ok() || !awaitNewWorker(master.get(), before)) {
      String why = reload.ok()
          ? "the master (pid " + master.get() + ") started no new worker within " + seconds(settings.commandTimeout())
              + ", so it did not apply the new configuration (see nginx's error log)"
          : "nginx -s reload failed: " + reload.message();
      boolean restored = restore(previous);
      String outcome;
      if (!restored) {
        outcome = "the previous include could NOT be restored: an operator must look";
      } else {
        Set<Long> again = children(master.get());
        Result back = run(List.of("-s", "reload"));
        restored = back.ok() && awaitNewWorker(master.get(), again);
        outcome = restored ? "the previous include was restored and reloaded"
            : "the previous include was restored but nginx did not reload that either: an operator must look";
      }
      return Optional.of(new EnforcementException(target + ": " + why + "; " + outcome, restored, null));
    }
    return Optional.empty();
  }

  /**
   * Counts the audit log's lines per key and names them after the mitigations of the last converge; keys
   * of mitigations no longer active are left out. Empty without njs (audit mode then applies nothing).
   *
   * <p>The log is read incrementally, at most {@link AuditLogReader#MAX_BYTES_PER_READ} bytes per call, and
   * only lines that are keys this enforcer writes count ({@link AuditTally}): a large file (a burst, or a log
   * with no saved position) is counted over several calls. The counts cover every line read, across truncation and
   * rotation of the file, and never go down. They are saved with how far the log was read
   * ({@link AuditTallyFile}), so an enforcer created over the same state directory, as at an agent restart,
   * goes on from them: it neither counts a line again nor forgets the hits of files rotated away. A
   * mitigation that leaves audit mode is not shown; its counts are kept, and shown again, going on, if it
   * comes back to audit mode.
   */
  @Override
  public Map<String, Map<String, Long>> auditHits() {
    if (!settings.njs()) {
      return Map.of();
    }
    Map<String, ActiveMitigation> auditing = new HashMap<>();
    for (ActiveMitigation m : converged) {
      if (m.audit()) {
        auditing.putIfAbsent(m.id(), m);
      }
    }
    Map<String, Long> perKey = audit.read(key -> auditName(auditing, key).isPresent());
    Map<String, Map<String, Long>> out = new TreeMap<>();
    perKey.forEach((key, count) -> auditName(auditing, key).ifPresent(
        name -> out.computeIfAbsent(AuditTally.idOf(key), k -> new TreeMap<>()).merge(name, count, Long::sum)));
    return out;
  }

  /** The rule a key counts, if it is a key of one of {@code auditing} (by id). */
  private static Optional<String> auditName(Map<String, ActiveMitigation> auditing, String key) {
    ActiveMitigation m = auditing.get(AuditTally.idOf(key));
    return m == null ? Optional.empty() : NginxRenderer.auditName(m.mitigation(), key);
  }

  /** The lines of the audit log ignored so far: not keys this enforcer writes, too long, or beyond the key cap. */
  long auditLinesIgnored() {
    return audit.ignored();
  }

  /** The last problem with the saved audit counts in this run (unusable, or not saved), if any. */
  Optional<String> auditTallyProblem() {
    return audit.tallyProblem();
  }

  /** The audit log the njs script appends to, beside it in the state directory. */
  private Path auditLog() {
    return NginxRenderer.auditLog(settings.stateDir().resolve(NjsScript.FILE_NAME));
  }

  /**
   * Creates the audit log the nginx workers append to. They run as nginx's unprivileged user, so the file
   * is writable by others but readable only by its owner (mode 0622): a local user could add lines, not
   * read them. An operator who prefers can chown it to nginx's user and tighten the mode; it is only
   * created here, never changed once it exists.
   */
  private void prepareAuditLog() throws EnforcementException {
    Path log = auditLog();
    Result dump = run(List.of("-T"));
    if (!dump.ok()) {
      throw new EnforcementException(target + ": nginx -T failed before anything was changed: " + dump.message());
    }
    Matcher user = USER_DIRECTIVE.matcher(dump.stdout());
    String worker = user.find() ? user.group(1) : "nobody";
    Optional<String> problem = unreachableBy(worker, log);
    if (problem.isPresent()) {
      throw new EnforcementException(target + ": audit mode cannot count on this nginx: " + problem.get());
    }
    try {
      Files.createDirectories(settings.stateDir());
      if (!Files.exists(log)) {
        Files.createFile(log);
        try {
          Files.setPosixFilePermissions(log, PosixFilePermissions.fromString("rw--w--w-"));
        } catch (UnsupportedOperationException e) {
          // Not a POSIX file system: the default permissions stay.
        }
      }
    } catch (IOException e) {
      throw new EnforcementException(target + ": cannot create the audit log " + log + ": " + e.getMessage(), true, e);
    }
  }

  private NginxRenderer.Options options(boolean joins) {
    Optional<Path> script = settings.njs() ? Optional.of(settings.stateDir().resolve(NjsScript.FILE_NAME)) : Optional.empty();
    return new NginxRenderer.Options(script, joins);
  }

  /** nginx 1.23.0 and later join repeated header fields in {@code $http_…} with ", ". */
  private boolean detectJoinsRepeatedHeaders() throws EnforcementException {
    Result version = run(List.of("-v"));
    if (!version.ok()) {
      throw new EnforcementException(target + ": nginx -v failed: " + version.message());
    }
    Matcher m = VERSION.matcher(version.stderr() + version.stdout());
    if (!m.find()) {
      throw new EnforcementException(target + ": expected nginx -v to print nginx/X.Y.Z but found: " + version.message());
    }
    int major = Integer.parseInt(m.group(1));
    int minor = Integer.parseInt(m.group(2));
    return major > 1 || (major == 1 && minor >= 23);
  }

  private boolean writeScriptIfChanged() throws EnforcementException {
    Path script = settings.stateDir().resolve(NjsScript.FILE_NAME);
    byte[] wanted = NjsScript.TEXT.getBytes(StandardCharsets.UTF_8);
    Optional<byte[]> current = read(script);
    if (current.isPresent() && Arrays.equals(current.get(), wanted)) {
      return false;
    }
    try {
      Files.createDirectories(settings.stateDir());
      writeAtomically(script, wanted);
      return true;
    } catch (IOException e) {
      throw new EnforcementException(target + ": cannot write the njs script " + script + ": " + e.getMessage(), true, e);
    }
  }

  private Optional<byte[]> read(Path file) throws EnforcementException {
    try {
      return Optional.of(Files.readAllBytes(file));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new EnforcementException(target + ": cannot read " + file + ": " + e.getMessage(), true, e);
    }
  }

  /** Puts the previous bytes back, or removes the file if there was none; false if that failed. */
  private boolean restore(Optional<byte[]> previous) {
    try {
      if (previous.isPresent()) {
        writeAtomically(settings.includeFile(), previous.get());
      } else {
        Files.deleteIfExists(settings.includeFile());
      }
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** A timeout as the configuration writes it ({@code 30s}, {@code 1.5s}), not as {@code Duration} prints it ({@code PT30S}). */
  static String seconds(Duration timeout) {
    return java.math.BigDecimal.valueOf(timeout.toMillis(), 3).stripTrailingZeros().toPlainString() + "s";
  }

  /**
   * Temp file in the same directory, fsync, atomic rename, fsync the directory. The file keeps the
   * permissions it had, or gets {@code rw-r--r--}: nginx reads it as whatever user runs {@code nginx -t}.
   */
  static void writeAtomically(Path file, byte[] bytes) throws IOException {
    boolean keep = Files.exists(file) && file.getFileSystem().supportedFileAttributeViews().contains("posix");
    AtomicWrite.write(file, bytes, keep ? Files.getPosixFilePermissions(file) : READABLE); // ignored off POSIX
  }

  /**
   * Tells why nginx's worker user could not append to the audit log: every directory above it must be
   * searchable by others (the agent's state directory is usually owner-only), unless the workers run as
   * root. A conservative test: group membership is not considered.
   *
   * @param workerUser the {@code user} directive's user, {@code nobody} when absent
   * @return the problem, or empty
   */
  static Optional<String> unreachableBy(String workerUser, Path log) {
    if (workerUser.equals("root")) {
      return Optional.empty();
    }
    for (Path dir = log.toAbsolutePath().getParent(); dir != null; dir = dir.getParent()) {
      try {
        if (Files.exists(dir) && !Files.getPosixFilePermissions(dir).contains(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE)) {
          return Optional.of("nginx's workers run as " + workerUser + " and cannot reach " + log + ", since " + dir
              + " is not searchable by others (mode " + PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))
              + "); expected a stateDir for this target whose every parent directory has o+x");
        }
      } catch (IOException | UnsupportedOperationException e) {
        return Optional.of("cannot read the permissions of " + dir + ": " + e.getMessage());
      }
    }
    return Optional.empty();
  }

  // ---------------------------------------------------------------------------------------------------
  // The nginx process

  /** One command's outcome. */
  private record Result(boolean ok, String stdout, String stderr, String message) {}

  private Result run(List<String> arguments) throws EnforcementException {
    List<String> command = new ArrayList<>();
    command.add(settings.nginxBinary().toString());
    command.addAll(arguments);
    settings.configFile().ifPresent(c -> {
      command.add("-c");
      command.add(c.toString());
    });
    String shown = "nginx " + String.join(" ", arguments);
    Path out = null;
    Path err = null;
    try {
      Files.createDirectories(settings.stateDir());
      out = Files.createTempFile(settings.stateDir(), "nginx-out.", ".txt");
      err = Files.createTempFile(settings.stateDir(), "nginx-err.", ".txt");
      Process process;
      try {
        process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      } catch (IOException e) {
        throw new EnforcementException(target + ": cannot run the nginx binary " + settings.nginxBinary() + ": "
            + e.getMessage() + "; expected an nginx executable (nginxBinary in the target's settings)", true, e);
      }
      boolean finished;
      try {
        finished = process.waitFor(settings.commandTimeout().toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
        return new Result(false, "", "", shown + " was interrupted");
      }
      if (!finished) {
        process.destroyForcibly();
        return new Result(false, "", "", shown + " did not finish within " + seconds(settings.commandTimeout()));
      }
      String stdout = Files.readString(out, StandardCharsets.UTF_8);
      String stderr = Files.readString(err, StandardCharsets.UTF_8);
      int code = process.exitValue();
      String message = cap(stderr.strip().isEmpty() ? stdout.strip() : stderr.strip());
      return new Result(code == 0, stdout, stderr,
          code == 0 ? message : String.format(Locale.ROOT, "exit %d: %s", code, message));
    } catch (IOException e) {
      throw new EnforcementException(target + ": cannot run " + shown + ": " + e.getMessage(), true, e);
    } finally {
      deleteQuietly(out);
      deleteQuietly(err);
    }
  }

  private static void deleteQuietly(Path file) {
    if (file != null) {
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        // A leftover temporary file in the state directory is harmless.
      }
    }
  }

  private static String cap(String message) {
    return message.length() <= MAX_MESSAGE ? message : message.substring(0, MAX_MESSAGE) + " […]";
  }

  /** The running master's pid, or empty if nginx is not running. */
  private Optional<Long> masterPid(String dump) throws EnforcementException {
    Path pidFile = pidFile(dump);
    String text;
    try {
      text = Files.readString(pidFile, StandardCharsets.US_ASCII).strip();
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new EnforcementException(target + ": cannot read nginx's pid file " + pidFile + ": " + e.getMessage(), true, e);
    }
    long pid;
    try {
      pid = Long.parseLong(text);
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
    return Files.isDirectory(Path.of("/proc", Long.toString(pid))) ? Optional.of(pid) : Optional.empty();
  }

  private Path pidFile(String dump) throws EnforcementException {
    Matcher m = PID_DIRECTIVE.matcher(dump);
    String configured = m.find() ? m.group(1) : null;
    Result v = null;
    if (configured == null || !configured.startsWith("/")) {
      v = run(List.of("-V"));
    }
    String build = v == null ? "" : v.stderr() + v.stdout();
    if (configured == null) {
      Matcher d = Pattern.compile("--pid-path=(\\S+)").matcher(build);
      configured = d.find() ? d.group(1) : "logs/nginx.pid";
    }
    Path path = Path.of(configured);
    if (!path.isAbsolute()) {
      Matcher p = Pattern.compile("--prefix=(\\S+)").matcher(build);
      path = Path.of(p.find() ? p.group(1) : "/usr/local/nginx").resolve(path);
    }
    return path;
  }

  /** The pids whose parent is {@code parent}, from {@code /proc/<pid>/stat}. */
  static Set<Long> children(long parent) {
    Set<Long> out = new HashSet<>();
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
      for (Path proc : procs) {
        try {
          String stat = Files.readString(proc.resolve("stat"), StandardCharsets.US_ASCII);
          // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
          String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          if (Long.parseLong(fields[1]) == parent) {
            out.add(Long.parseLong(proc.getFileName().toString()));
          }
        } catch (IOException | RuntimeException e) {
          // The process ended while we looked: it is no one's child any more.
        }
      }
    } catch (IOException e) {
      return out;
    }
    return out;
  }

  /**
   * Polls, until the timeout, for a child of the master that was not among {@code before}: the master
   * starts new workers only once it has applied the new configuration. Then waits, within the same
   * deadline, for the old workers to leave: until they have, they may still accept connections under the
   * old configuration. An old worker still finishing long requests at the deadline does not fail the
   * call (the master has told it to stop accepting), so the call returns true as soon as a new worker
   * exists and either every old worker is gone or the deadline has passed.
   */
  private boolean awaitNewWorker(long master, Set<Long> before) {
    long deadline = System.nanoTime() + settings.commandTimeout().toNanos();
    boolean started = false;
    while (System.nanoTime() < deadline) {
      Set<Long> now = children(master);
      started |= now.stream().anyMatch(pid -> !before.contains(pid));
      if (started && now.stream().noneMatch(before::contains)) {
        return true;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return started;
      }
    }
    return started;
  }
}
