package dev.tourniquet.agent.enforce.servlet;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.EnforcementException;
import dev.tourniquet.agent.enforce.Enforcer;
import dev.tourniquet.agent.enforce.StateFiles;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.servlet.AuthPolicy;
import dev.tourniquet.servlet.DisabledEndpoint;
import dev.tourniquet.servlet.EnforcementFile;
import dev.tourniquet.servlet.Mode;
import dev.tourniquet.servlet.PathPrefix;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Enforces mitigations in Java servlet containers through the enforcement file that
 * {@code dev.tourniquet.servlet.TourniquetFilter} hot-reloads (format in {@code docs/servlet.md}). Handles
 * {@code request-rules}, {@code response-rules}, {@code disable-endpoint} and {@code auth-policy}.
 *
 * <p>Converging writes the file atomically, and only when its content (apart from {@code generated})
 * differs, so converging twice on the same set does not make the filter reload. The previous file is the
 * snapshot: if the new one cannot be written it is still in place. Audit counters come from the filter's
 * {@code <file>.hits.json}, which starts again from 0 whenever the application restarts: the enforcer adds
 * them up across restarts of the application and of the agent ({@link #auditHits}), in its state directory.
 *
 * <p>Whether the file is live is read from the filter's {@code <file>.loaded.json}, which names the SHA-256
 * of the content it last loaded or rejected: the file is live when that is the SHA-256 of the file as it is
 * now and the outcome is {@code loaded}; {@code stopped} means the filter was destroyed (the application
 * stopped, or was undeployed); an acknowledgement naming a process that is known to have ended means it was
 * killed ({@link FilterProcess}). {@link #notLive()} evaluates this anew on every call (the file is hashed
 * again only when its size, time or identity changed), so a status built after the application starts or
 * stops, or after its filter rejects the file, says so without any new change.
 */
public final class ServletEnforcer implements Enforcer {
  private static final Set<String> KINDS = Set.of("request-rules", "response-rules", "disable-endpoint", "auth-policy");
  private static final int MAX_HITS_BYTES = 4 << 20;

  /** The acknowledgement of a filter that was destroyed: its application stopped. */
  private static final String STOPPED = "stopped";

  /** How long converge waits, by default, for the filter to acknowledge a new file. */
  public static final Duration ACK_TIMEOUT = Duration.ofSeconds(5);
  private static final Logger LOG = LoggerFactory.getLogger(ServletEnforcer.class);
  private static final int MAX_ACK_BYTES = 64 << 10;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String target;
  private final Path file;
  private final Path ackFile;
  private final Clock clock;
  private final Duration ackTimeout;
  private final Path hitsFile;
  private final AuditTotalsFile totalsFile;
  /** The totals across application runs; null until the first {@link #auditHits} loads the saved ones. */
  private AuditTotals totals;
  /** The mitigations of the last successful converge, to tell which are in audit mode. */
  private volatile List<ActiveMitigation> converged = List.of();
  /** The last problem with the saved totals in this run (unusable, or not saved), if any. */
  private String totalsProblem;
  /** The last problem with the hits file, said once until it goes away. */
  private String hitsProblem;
  /** The SHA-256 of the file as last hashed, with the attributes it had then. */
  private volatile Digest digest;

  private record Digest(Object fileKey, FileTime modified, long size, String sha256) {}

  /**
   * Creates an enforcer for one enforcement file.
   *
   * @param target the target's name from the configuration
   * @param file the enforcement file the filter reads
   * @param stateDir the target's own directory, where the audit totals are kept
   * @param clock the clock for the file's {@code generated} time
   */
  public ServletEnforcer(String target, Path file, Path stateDir, Clock clock) {
    this(target, file, stateDir, clock, ACK_TIMEOUT);
  }

  /**
   * Creates an enforcer for one enforcement file.
   *
   * @param target the target's name from the configuration
   * @param file the enforcement file the filter reads
   * @param stateDir the target's own directory, where the audit totals are kept
   * @param clock the clock for the file's {@code generated} time
   * @param ackTimeout how long converge waits for the filter to acknowledge a new file
   */
  public ServletEnforcer(String target, Path file, Path stateDir, Clock clock, Duration ackTimeout) {
    this.target = Objects.requireNonNull(target, "target");
    this.file = Objects.requireNonNull(file, "file");
    this.ackFile = file.resolveSibling(file.getFileName() + ".loaded.json");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.ackTimeout = Objects.requireNonNull(ackTimeout, "ackTimeout");
    this.hitsFile = file.resolveSibling(file.getFileName() + ".hits.json");
    this.totalsFile = new AuditTotalsFile(Objects.requireNonNull(stateDir, "stateDir").resolve(AuditTotalsFile.FILE_NAME));
  }

  @Override
  public String target() {
    return target;
  }

  /**
   * Returns the enforcement file this enforcer writes.
   *
   * @return the path
   */
  public Path file() {
    return file;
  }

  @Override
  public boolean handles(String kind) {
    return KINDS.contains(kind);
  }

  @Override
  public Optional<String> refusal(ActiveMitigation mitigation) {
    try {
      convert(mitigation);
      return Optional.empty();
    } catch (IllegalArgumentException e) {
      return Optional.of(mitigation.mitigation().appliedId() + ": the servlet filter cannot enforce it: " + e.getMessage());
    }
  }

  @Override
  public void converge(List<ActiveMitigation> active) throws EnforcementException {
    List<dev.tourniquet.servlet.ActiveMitigation> converted = new ArrayList<>();
    List<ActiveMitigation> handled = new ArrayList<>();
    for (ActiveMitigation m : active) {
      if (m.mitigation().actions().stream().anyMatch(a -> handles(a.kind()))) {
        handled.add(m);
        try {
          converted.add(convert(m));
        } catch (IllegalArgumentException e) {
          throw new EnforcementException(file + ": " + m.mitigation().appliedId() + " cannot be enforced: " + e.getMessage());
        }
      }
    }
    Optional<Existing> existing = readExisting();
    if (existing.isPresent()
        && existing.get().text().equals(new EnforcementFile(existing.get().file().generated(), converted).toJson())) {
      converged = List.copyOf(handled);
      return; // same content (the file as this agent writes it, its time kept): no write, the filter does not reload
    }
    byte[] written;
    try {
      // Each rule set is a validated document's, compiled when the document was read: not compiled again.
      written = new EnforcementFile(clock.instant(), converted).writePrecompiled(file);
    } catch (IOException | RuntimeException e) {
      // The write is atomic: the previous file is untouched.
      throw new EnforcementException(file + ": could not write the enforcement file: " + e.getMessage(), true, e);
    }
    verifyLoaded(written, existing.map(Existing::file));
    converged = List.copyOf(handled);
  }

  @Override
  public Optional<NotLive> notLive() {
    String current;
    try {
      current = currentDigest();
    } catch (IOException e) {
      return Optional.of(new NotLive("not confirmed live: cannot read " + file + " (" + e + "); the servlet filter"
          + " keeps what it loaded before; restart the agent to write the file again", false));
    }
    Optional<JsonNode> ack = readAck();
    if (ack.isEmpty()) {
      return Optional.of(new NotLive("not confirmed live: no servlet filter has loaded " + file + " yet (there is no "
          + ackFile.getFileName() + "): is the application running, with the Tourniquet filter reading this file?"
          + " The file stays in place and takes effect when the filter starts", false));
    }
    Optional<String> notRunning = notRunning(ack.get());
    if (notRunning.isPresent()) {
      return Optional.of(new NotLive("not confirmed live: " + notRunning.get() + "; the file stays in place and takes"
          + " effect when the application starts again", false));
    }
    if (!current.equals(ack.get().path("sha256").asText())) {
      return Optional.of(new NotLive("not confirmed live: the servlet filter did not acknowledge the current " + file
          + " (its last acknowledgement, at " + ack.get().path("time").asText("an unknown time") + ", is of another"
          + " version): is the application running? The file stays in place and takes effect when the filter loads it",
          false));
    }
    if ("loaded".equals(ack.get().path("outcome").asText())) {
      return Optional.empty();
    }
    return Optional.of(new NotLive("the servlet filter rejected " + file + ": " + error(ack.get()) + "; it keeps"
        + " enforcing what it loaded before, if anything, and the file stays in place: read the application's log,"
        + " and check that its Tourniquet filter is as recent as the agent", true));
  }

  /**
   * Verify after: waits, bounded, until the filter acknowledges in {@code <file>.loaded.json} that it
   * loaded these bytes. A rejection puts the previous file back and fails; no answer in time (the
   * application is not running, or runs a filter too old to acknowledge) leaves the file in place, to be
   * loaded at the application's start, and {@link #notLive()} says so.
   */
  private void verifyLoaded(byte[] bytes, Optional<EnforcementFile> previous) throws EnforcementException {
    // Nothing to wait for when no acknowledgement was ever written (no filter has run on this file yet: the
    // application was not started since it was configured, or its filter predates acknowledgements), or when
    // the last one says the application is not running (stopped, or killed).
    Optional<JsonNode> last = readAck();
    Optional<String> notRunning = last.flatMap(this::notRunning);
    boolean filterRunning = last.isPresent() && notRunning.isEmpty();
    Optional<JsonNode> ack = awaitAck(sha256(bytes), filterRunning ? ackTimeout : Duration.ZERO);
    if (ack.isEmpty()) {
      LOG.warn("target {}: not confirmed live: {}; the file stays in place and is loaded when the filter starts", target,
          filterRunning ? "the servlet filter did not acknowledge " + file + " within " + ackTimeout.toMillis() + " ms"
              : notRunning.orElse("no servlet filter has acknowledged " + file + " yet (" + ackFile.getFileName()
                  + " does not exist)"));
      return;
    }
    if ("loaded".equals(ack.get().path("outcome").asText())) {
      return;
    }
    String restored = restore(previous);
    throw new EnforcementException(file + ": the servlet filter rejected the new file: " + error(ack.get()) + "; "
        + restored, restored.startsWith("restored"), null);
  }

  /** Waits up to {@code timeout} for the filter's acknowledgement of the content with this SHA-256. */
  private Optional<JsonNode> awaitAck(String sha256, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Optional<JsonNode> ack = readAck();
      if (ack.isPresent() && sha256.equals(ack.get().path("sha256").asText())
          && !stopped(ack.get())) {
        return ack;
      }
      if (System.nanoTime() - deadline >= 0) {
        return Optional.empty();
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return Optional.empty();
      }
    }
  }

  private String restore(Optional<EnforcementFile> previous) {
    try {
      if (previous.isPresent()) {
        byte[] restored = previous.get().write(file);
        // The filter that just rejected the new file is running: once it has loaded the previous one again,
        // the status built after this change says the mitigations that stay are live.
        awaitAck(sha256(restored), ackTimeout);
        return "restored the previous file";
      }
      Files.deleteIfExists(file);
      return "restored: removed the new file (there was no valid one before)";
    } catch (IOException | RuntimeException e) {
      return "could not restore the previous file: " + e.getMessage();
    }
  }

  /** Whether the acknowledgement is a destroyed filter's: its application stopped. */
  private static boolean stopped(JsonNode ack) {
    return STOPPED.equals(ack.path("outcome").asText());
  }

  /**
   * Why the application that wrote this acknowledgement is not running, if it is known not to be: its
   * filter was destroyed ({@code stopped}), or the process it names has ended ({@link FilterProcess}).
   */
  private Optional<String> notRunning(JsonNode ack) {
    if (stopped(ack)) {
      return Optional.of("the application stopped (its Tourniquet filter said so at "
          + ack.path("time").asText("an unknown time") + " in " + ackFile.getFileName() + ")");
    }
    return FilterProcess.ended(ack.path("process")).map(ended -> "the application ended without its Tourniquet"
        + " filter saying so (killed, or crashed?): its filter's last acknowledgement in " + ackFile.getFileName()
        + " names a process that is not running (" + ended + ")");
  }

  private static String error(JsonNode ack) {
    return ack.path("error").isTextual() ? ack.path("error").asText() : "no reason given";
  }

  /** The SHA-256 of the file as it is now, hashed again only when its identity, time or size changed. */
  private String currentDigest() throws IOException {
    BasicFileAttributes now = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    Digest d = digest;
    if (d == null || !Objects.equals(d.fileKey(), now.fileKey()) || !d.modified().equals(now.lastModifiedTime())
        || d.size() != now.size()) {
      byte[] bytes = StateFiles.readUpTo(file, EnforcementFile.MAX_BYTES); // longer: the filter refuses it, it never matches
      d = new Digest(now.fileKey(), now.lastModifiedTime(), now.size(), sha256(bytes));
      digest = d;
    }
    return d.sha256();
  }

  private Optional<JsonNode> readAck() {
    try {
      byte[] bytes = StateFiles.readUpTo(ackFile, MAX_ACK_BYTES);
      if (bytes.length > MAX_ACK_BYTES) {
        return Optional.empty();
      }
      JsonNode root = JSON.readTree(bytes);
      return root != null && "tourniquet-loaded/1".equals(root.path("format").asText()) ? Optional.of(root)
          : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  /** The enforcement file on disk, and its text as read (this agent writes exactly {@code file.toJson()}). */
  private record Existing(EnforcementFile file, String text) {}

  private Optional<Existing> readExisting() {
    try {
      byte[] bytes = StateFiles.readUpTo(file, EnforcementFile.MAX_BYTES);
      if (bytes.length > EnforcementFile.MAX_BYTES) {
        return Optional.empty(); // the filter refuses it: rewrite it from the agent's state
      }
      String text = new String(bytes, StandardCharsets.UTF_8);
      return Optional.of(new Existing(EnforcementFile.parse(text, file.toString()), text));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException | RuntimeException e) {
      // Unreadable or invalid: rewrite it from the agent's state.
      return Optional.empty();
    }
  }

  /**
   * Returns the audit-mode counts of the mitigations in audit mode since the last {@link #converge}, added
   * up across restarts of the application and of the agent, as on nginx: enforce-mode matches are not
   * audit hits, and a mitigation that leaves audit mode is not shown (its counts are kept, and shown again,
   * going on, if it comes back to audit mode). Revisions of a mitigation add up per rule name.
   *
   * <p>The filter's {@code <file>.hits.json} counts from 0 each time the application starts, which its
   * {@code since} tells; {@link AuditTotals} adds one run to the next and {@link AuditTotalsFile} keeps the
   * totals in the state directory, so the counts never go down and no run is counted twice. What a run
   * counted after the agent last read the file is lost when the application restarts, and so is a whole
   * run that started and ended between two readings: the filter does not keep its counts. A hits file that
   * cannot be used (missing, unreadable, not as the filter writes it) leaves the totals as they were; saved
   * totals that cannot be used are said once and not used: the totals start again from the hits file as it
   * is, never more than it says, and are replaced at the next save.
   */
  @Override
  public synchronized Map<String, Map<String, Long>> auditHits() {
    Set<String> auditing = new java.util.HashSet<>();
    for (ActiveMitigation m : converged) {
      if (m.audit()) {
        auditing.add(m.mitigation().id());
      }
    }
    if (totals == null) {
      loadTotals();
    }
    Optional<AuditTotals.Reading> reading = readHits();
    if (reading.isPresent() && totals.observe(reading.get(), auditing::contains)) {
      try {
        totalsFile.save(totals.state());
        if (totalsProblem != null && totalsProblem.startsWith("cannot save")) {
          totalsProblem = null;
        }
      } catch (IOException | RuntimeException e) {
        if (totalsProblem == null || !totalsProblem.startsWith("cannot save")) {
          totalsProblem = "cannot save the audit totals to " + totalsFile.file() + ": " + e.getMessage();
          LOG.warn("target {}: {}; they go on in memory, and an agent restart goes on from the last saved", target,
              totalsProblem);
        }
      }
    }
    Map<String, Map<String, Long>> out = new TreeMap<>();
    totals.totals().forEach((id, rules) -> {
      if (auditing.contains(id)) {
        out.put(id, rules);
      }
    });
    return out;
  }

  /** The last problem with the saved audit totals in this run (unusable, or not saved), if any. */
  synchronized Optional<String> auditTotalsProblem() {
    return Optional.ofNullable(totalsProblem);
  }

  private void loadTotals() {
    try {
      totals = new AuditTotals(totalsFile.load().orElse(AuditTotals.State.EMPTY));
    } catch (IOException | RuntimeException e) {
      // Never guess: part of a file could add a run twice. The hits file as it is counts each hit once.
      totals = new AuditTotals(AuditTotals.State.EMPTY);
      totalsProblem = "the saved audit totals cannot be used: " + e.getMessage();
      LOG.warn("target {}: {}; counting again from the servlet filter's {} as it is (its application's earlier runs"
          + " are no longer counted). The file is replaced at the next save", target, totalsProblem, hitsFile);
    }
  }

  /**
   * The audit-mode counts in the filter's hits file, per mitigation and rule (revisions added up), with the
   * run they belong to; empty if there is no usable file. The file is the application's: it is checked
   * whole, and one that is not as the filter writes it (docs/servlet.md) is not used at all.
   */
  private Optional<AuditTotals.Reading> readHits() {
    try {
      byte[] bytes = StateFiles.readUpTo(hitsFile, MAX_HITS_BYTES);
      if (bytes.length > MAX_HITS_BYTES) {
        throw new IllegalArgumentException("expected at most " + MAX_HITS_BYTES + " bytes but found more");
      }
      JsonNode root = JSON.readTree(bytes);
      if (root == null || !"tourniquet-hits/1".equals(root.path("format").asText())) {
        throw new IllegalArgumentException("expected format \"tourniquet-hits/1\" but found "
            + (root == null ? "an empty file" : root.path("format").toString()));
      }
      Instant since = AuditTotalsFile.instant(root.path("since"), "since");
      if (!root.path("hits").isArray()) {
        throw new IllegalArgumentException("expected hits to be an array but found " + root.path("hits"));
      }
      Map<String, Map<String, Long>> counts = new TreeMap<>();
      int i = 0;
      for (JsonNode hit : root.path("hits")) {
        String where = "hits[" + i++ + "]";
        JsonNode count = hit.path("count");
        if (!hit.path("mitigation").isTextual() || !hit.path("rule").isTextual() || !hit.path("mode").isTextual()
            || !count.isIntegralNumber() || !count.canConvertToLong() || count.asLong() < 0) {
          throw new IllegalArgumentException("expected " + where + " to have a mitigation, mode and rule (text) and a"
              + " count (a whole number of at least 0) but found " + abbreviated(hit.toString()));
        }
        if (!Mode.AUDIT.jsonName().equals(hit.path("mode").asText())) {
          continue; // enforce mode: not an audit hit
        }
        String id = hit.path("mitigation").asText();
        String rule = hit.path("rule").asText();
        Optional<String> problem = AuditTotals.nameProblem(id, rule);
        if (problem.isPresent()) {
          throw new IllegalArgumentException(where + ": " + problem.get());
        }
        counts.computeIfAbsent(id, k -> new TreeMap<>()).merge(rule, count.asLong(),
            (a, b) -> a + b < 0 ? Long.MAX_VALUE : a + b);
      }
      hitsProblem = null;
      return Optional.of(new AuditTotals.Reading(since, counts));
    } catch (NoSuchFileException e) {
      return Optional.empty(); // the application has not counted anything yet
    } catch (IOException | IllegalArgumentException e) {
      String problem = e instanceof JsonProcessingException j ? "expected JSON but it does not parse: "
          + j.getOriginalMessage() : e.getMessage();
      if (!problem.equals(hitsProblem)) {
        hitsProblem = problem;
        LOG.warn("target {}: cannot use the servlet filter's hit counters {}: {}; the audit counts stay as they were",
            target, hitsFile, abbreviated(problem));
      }
      return Optional.empty();
    }
  }

  private static String abbreviated(String text) {
    return text.length() > 300 ? text.substring(0, 300) + "…" : text;
  }

  /** Converts the servlet-relevant actions of a mitigation; throws IllegalArgumentException if it cannot. */
  static dev.tourniquet.servlet.ActiveMitigation convert(ActiveMitigation active) {
    Mitigation m = active.mitigation();
    RuleSet request = RuleSet.EMPTY;
    RuleSet response = RuleSet.EMPTY;
    List<DisabledEndpoint> endpoints = new ArrayList<>();
    List<AuthPolicy> policies = new ArrayList<>();
    for (Action action : m.actions()) {
      if (action instanceof Action.RequestRules r) {
        request = r.rules();
      } else if (action instanceof Action.ResponseRules r) {
        response = r.rules();
      } else if (action instanceof Action.DisableEndpoint d) {
        endpoints.add(new DisabledEndpoint(PathPrefix.of(d.path()), d.status()));
      } else if (action instanceof Action.AuthPolicy p) {
        policies.add(new AuthPolicy(PathPrefix.of(p.path()), p.refuse().contains(Action.AuthPolicy.Refusal.BASIC),
            p.refuse().contains(Action.AuthPolicy.Refusal.ANONYMOUS)));
      }
    }
    return new dev.tourniquet.servlet.ActiveMitigation(m.id(), m.revision(), active.audit() ? Mode.AUDIT : Mode.ENFORCE,
        request, response, endpoints, policies);
  }
}
