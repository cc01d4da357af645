package dev.tourniquet.agent;

import dev.tourniquet.agent.AgentState.AppliedRef;
import dev.tourniquet.agent.AgentState.TargetFailure;
import dev.tourniquet.agent.Plan.Decision;
import dev.tourniquet.agent.Plan.Step;
import dev.tourniquet.agent.enforce.Enforcer;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.tuf.FeedVerificationException;
import dev.tourniquet.feed.tuf.Fetchers;
import java.io.Closeable;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.DoubleSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent: polls the signed feed, plans, enforces, records and reports.
 *
 * <p>One check runs these steps, all under one lock so that enforcers are never called concurrently:
 *
 * <ol>
 *   <li>Update the feed through the TUF client and download every {@code mitigations/<id>.json} target;
 *       re-validate each document and check that its id matches its target name. If the feed cannot be
 *       reached or fails verification (tampered, expired, rolled back), the last verified feed is kept and
 *       the failure is reported: a broken feed never removes protection. A signed document that fails
 *       validation is reported for its id only and never removes an applied revision of it.
 *   <li>Ask the {@link PolicySource} for the organisation's policy (the last one obtained is kept on
 *       failure); read the server's policy from the state directory; learn the product version.
 *   <li>Plan with the pure {@link Planner}, then converge the targets one mitigation at a time with the
 *       {@link Converger}, which records intent before each change and completion after it.
 *   <li>Build the status, hand it to the {@link Reporter} when data collection is on, and schedule the next
 *       check: the interval ±10% after a success, exponential backoff with full jitter (never sooner than a
 *       minute) after a failure.
 * </ol>
 *
 * <p>{@link #start()} re-converges every target on the recorded state (so an agent killed in the middle of
 * a change converges), starts the worker thread, which checks at once, and the local admin API.
 * {@link #hint()} asks for a check now; hints coalesce.
 */
public final class Agent implements AgentControl, Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(Agent.class);
  /**
   * Between checks, how often the running agent looks whether a change owed a health probe has become live
   * (a local look at the target's acknowledgement; the probe itself runs once, when it has).
   */
  static final Duration PROBE_RECHECK = Duration.ofSeconds(5);

  private final AgentConfig config;
  private final Clock clock;
  private final DoubleSupplier random;
  private final Optional<PolicySource> policySource;
  private final OrgPolicyFile orgPolicyFile;
  private final Optional<Reporter> reporter;
  private final StateStore store;
  private final AuditLog audit;
  private final Converger converger;
  private final FeedReader feedReader;
  private final boolean adminApi;
  private final AdminServer.Timeouts adminTimeouts;
  /** Between checks, how often a health probe owed to a change not yet confirmed live is looked at again. */
  private final Duration probeRecheck;

  private final ReentrantLock work = new ReentrantLock();
  private final Object wake = new Object();
  private boolean hinted;
  /** The shortest time between the starts of two checks push hints make, one after the other. */
  static final Duration HINT_GAP = Duration.ofSeconds(2);
  /** A check or command on another thread left probes owed: the worker must look again at when to recheck. */
  private boolean probesAdded;
  private long dueNanos;
  private boolean closed;
  private Thread worker;
  private AdminServer admin;
  private FileChannel lockChannel;
  private FileLock stateLock;

  // Guarded by work.
  private AgentState state;
  private FeedView feed;
  private OrgPolicy orgPolicy = OrgPolicy.DEFAULT;
  /** When {@link #orgPolicy} was obtained (or saved, before a restart); empty while it is the default. */
  private Optional<Instant> orgPolicyObtained = Optional.empty();
  private String feedHealth = "not checked yet";
  /** The feed problem last written to the audit log ({@code outcome + ": " + reason}); null while the feed is accepted. */
  private String auditedFeedProblem;
  private String policyHealth = "ok";
  private int failures;
  private Optional<Instant> lastCheck = Optional.empty();
  private Instant nextCheck;
  private AgentStatus status;

  private Agent(Builder b, List<Target> targets) {
    this.config = b.config;
    this.clock = b.clock;
    this.random = b.random;
    this.policySource = Optional.ofNullable(b.policySource);
    this.reporter = Optional.ofNullable(b.reporter);
    this.store = new StateStore(config.stateDir());
    this.orgPolicyFile = new OrgPolicyFile(config.stateDir());
    this.audit = new AuditLog(config.stateDir().resolve("audit.jsonl"));
    this.converger = new Converger(targets, store, audit, clock, b.hook);
    this.feedReader = new FeedReader(config.feed(), config.proxy(), Optional.ofNullable(b.feedHttp),
        config.stateDir().resolve("tuf"), clock);
    this.adminApi = b.adminApi;
    this.adminTimeouts = b.adminTimeouts;
    this.probeRecheck = b.probeRecheck;
    this.nextCheck = clock.instant();
  }

  /**
   * Starts building an agent for a configuration.
   *
   * @param config the configuration
   * @return a builder
   */
  public static Builder builder(AgentConfig config) {
    return new Builder(config);
  }

  /** Builds an {@link Agent}; everything but the configuration is optional. */
  public static final class Builder {
    private final AgentConfig config;
    private Clock clock = Clock.systemUTC();
    private DoubleSupplier random = new SecureRandom()::nextDouble;
    private PolicySource policySource;
    private Reporter reporter;
    private Map<String, TargetFactory> factories = TargetFactories.builtIn();
    private Converger.Hook hook = Converger.Hook.NONE;
    private boolean adminApi = true;
    private AdminServer.Timeouts adminTimeouts = AdminServer.Timeouts.DEFAULT;
    private HttpClient feedHttp;
    private Duration probeRecheck = PROBE_RECHECK;
    private Duration probeSettle = HealthProbe.SETTLE;

    private Builder(AgentConfig config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /**
     * Sets the clock (tests inject one).
     *
     * @param value the clock
     * @return this builder
     */
    public Builder clock(Clock value) {
      this.clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * Sets the source of random numbers in [0, 1) used for jitter.
     *
     * @param value the source
     * @return this builder
     */
    public Builder random(DoubleSupplier value) {
      this.random = Objects.requireNonNull(value, "random");
      return this;
    }

    /**
     * Sets where the organisation's policy comes from (the fleet client). Without one the organisation's
     * policy is {@link OrgPolicy#DEFAULT}.
     *
     * @param value the policy source
     * @return this builder
     */
    public Builder policySource(PolicySource value) {
      this.policySource = Objects.requireNonNull(value, "policySource");
      return this;
    }

    /**
     * Sets who receives the status after every check; used only when the configuration's
     * {@code dataCollection} is true.
     *
     * @param value the reporter
     * @return this builder
     */
    public Builder reporter(Reporter value) {
      this.reporter = Objects.requireNonNull(value, "reporter");
      return this;
    }

    /**
     * Sets the target types the configuration may use (default {@link TargetFactories#builtIn()}).
     *
     * @param value factories by type name
     * @return this builder
     */
    public Builder targetFactories(Map<String, TargetFactory> value) {
      this.factories = Map.copyOf(value);
      return this;
    }

    /**
     * Chooses whether {@link #start()} opens the local admin API (default true).
     *
     * @param value false to run without it
     * @return this builder
     */
    public Builder adminApi(boolean value) {
      this.adminApi = value;
      return this;
    }

    /**
     * Fetches an HTTP(S) feed with this client instead of one of the agent's own. Every
     * {@link HttpClient} holds a selector thread and a connection pool; a process that runs many agents
     * (a fleet simulator, a host serving several applications) shares one. The client must follow
     * redirects as the agent's own does ({@link HttpClient.Redirect#NORMAL}) and carries any proxy:
     * a configuration with {@code feed.proxy} is refused by {@link #build()}.
     *
     * @param value the client
     * @return this builder
     */
    public Builder feedHttpClient(HttpClient value) {
      this.feedHttp = Objects.requireNonNull(value, "feedHttpClient");
      return this;
    }

    Builder hook(Converger.Hook value) {
      this.hook = Objects.requireNonNull(value, "hook");
      return this;
    }

    /** How long the admin API gives a client to send its request and to take its answer (tests: shorter). */
    Builder adminTimeouts(AdminServer.Timeouts value) {
      this.adminTimeouts = Objects.requireNonNull(value, "adminTimeouts");
      return this;
    }

    /** The wait between two attempts of a health probe (tests whose probes fail on purpose: shorter). */
    Builder probeSettle(Duration value) {
      this.probeSettle = Objects.requireNonNull(value, "probeSettle");
      return this;
    }

    /** How often the running agent looks again, between checks, whether a change owed a probe is live. */
    Builder probeRecheck(Duration value) {
      this.probeRecheck = Objects.requireNonNull(value, "probeRecheck");
      return this;
    }

    /**
     * Creates the enforcers of every configured target.
     *
     * @return the agent, not started
     * @throws ConfigException if a target's type is unknown or its options are invalid, or the configuration
     *     names a proxy while a {@linkplain #feedHttpClient shared client} is given
     */
    public Agent build() throws ConfigException {
      if (feedHttp != null && config.proxy().isPresent()) {
        throw new ConfigException(config.source() + ": feed.proxy: expected no proxy when the agent is given a shared"
            + " HTTP client (set the proxy on that client) but found " + config.proxy().get());
      }
      List<Target> targets = new ArrayList<>();
      for (AgentConfig.TargetConfig t : config.targets()) {
        TargetFactory factory = factories.get(t.type());
        if (factory == null) {
          throw new ConfigException(config.source() + ": targets." + t.name() + ".type: expected one of "
              + new java.util.TreeSet<>(factories.keySet()) + " but found \"" + t.type() + "\"");
        }
        Enforcer enforcer = factory.create(t, config.stateDir().resolve("targets").resolve(t.name()), clock);
        if (!enforcer.target().equals(t.name())) {
          throw new IllegalStateException("the " + t.type() + " factory named its target \"" + enforcer.target()
              + "\" but expected \"" + t.name() + "\"");
        }
        targets.add(new Target(enforcer, t.probe().map(p -> new HealthProbe(p.url(), p.status(), p.timeout(), p.attempts(), probeSettle))));
      }
      return new Agent(this, targets);
    }
  }

  /**
   * Opens the state directory (locked against a second agent), installs the trusted root on first start,
   * re-converges every target on the recorded state, then starts the worker thread (which checks at once)
   * and the admin API.
   *
   * @throws IOException if the state directory cannot be used, the trusted root is unreadable or invalid,
   *     or the admin API cannot listen (a configured {@code admin.port} that another program holds)
   */
  public void start() throws IOException {
    open();
    if (adminApi) {
      admin = AdminServer.start(this, config.stateDir(), config.adminPort(), adminTimeouts);
    } else {
      // An earlier run's port, which someone else may hold now: no client must send a token there.
      AdminServer.deletePortFile(config.stateDir());
    }
    synchronized (wake) {
      dueNanos = System.nanoTime();
      worker = new Thread(this::runLoop, "tourniquet-agent");
      worker.setDaemon(false);
      worker.start();
    }
    LOG.info("agent started for server {} with {} target(s); state in {}", config.serverName(),
        converger.targets().size(), config.stateDir());
  }

  /**
   * Opens the state and recovers without starting the worker thread or the admin API, for tests that
   * drive checks themselves.
   */
  void open() throws IOException {
    Path dir = config.stateDir();
    Files.createDirectories(dir);
    restrictToOwner(dir, true);
    lockChannel = FileChannel.open(dir.resolve("agent.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    stateLock = lockChannel.tryLock();
    if (stateLock == null) {
      lockChannel.close();
      throw new IOException(dir + ": another agent is running on this state directory (agent.lock is held)");
    }
    Path root = config.trustedRoot();
    if (!Files.isReadable(root)) {
      throw new IOException("feed.trustedRoot " + root + ": expected a readable root metadata file but cannot read it");
    }
    try {
      feedReader.bootstrap(root);
    } catch (FeedVerificationException e) {
      throw new IOException("feed.trustedRoot " + config.trustedRoot() + ": expected root metadata signed by its own keys but "
          + e.getMessage(), e);
    }
    work.lock();
    try {
      if (policySource.isPresent()) {
        loadSavedOrgPolicy();
      }
      state = store.load();
      feed = lastVerifiedFeed(dir);
      state = converger.recover(state);
      status = buildStatus(Planner.plan(feed, policy(), facts(), applied(state), clock.instant()), state);
    } finally {
      work.unlock();
    }
  }

  /**
   * The feed the TUF store verified last, for converging before the first check. If the store cannot give
   * it whole, nothing is withdrawn on its account (the empty view keeps what is applied) and the first
   * check, which follows at once, fetches it again.
   */
  private FeedView lastVerifiedFeed(Path stateDir) throws IOException {
    // Earlier versions kept a copy of the feed in feed.json, now redundant with the TUF store.
    if (Files.deleteIfExists(stateDir.resolve("feed.json"))) {
      LOG.info("state: removed feed.json, which earlier versions kept beside the TUF store that holds the same feed");
    }
    FeedReader.LastVerified last = feedReader.lastVerified();
    last.why().ifPresent(why -> LOG.warn("feed: the last verified feed cannot be read back ({}); what is applied is "
        + "kept until a check verifies the feed again", why));
    return last.view();
  }

  @Override
  public void hint() {
    synchronized (wake) {
      hinted = true;
      wake.notifyAll();
    }
  }

  /**
   * Checks now on the caller's thread and waits for the result.
   *
   * @return the status after the check
   * @throws IOException if the state cannot be written (the check is then incomplete; nothing that was
   *     applied is removed by that)
   */
  public AgentStatus check() throws IOException {
    work.lock();
    try {
      boolean feedOk = refreshFeed();
      boolean policyOk = refreshPolicy();
      AgentStatus s = reconcile();
      lastCheck = Optional.of(clock.instant());
      Duration delay;
      if (feedOk && policyOk) {
        failures = 0;
        delay = Schedule.afterSuccess(config.interval(), random.getAsDouble());
      } else {
        failures++;
        delay = Schedule.afterFailure(config.interval(), failures, random.getAsDouble());
      }
      nextCheck = lastCheck.get().plus(delay);
      synchronized (wake) {
        dueNanos = System.nanoTime() + delay.toNanos();
      }
      status = s;
      AgentStatus shown = current();
      report(shown);
      wakeForProbes();
      return shown;
    } finally {
      work.unlock();
    }
  }

  /**
   * Tells the worker when probes are owed, so that it rechecks them every {@code probeRecheck} from now
   * even if the change was made on another thread (the admin API's) while it waited with none owed.
   */
  private void wakeForProbes() {
    if (!state.probesDue().isEmpty()) {
      synchronized (wake) {
        probesAdded = true;
        wake.notifyAll();
      }
    }
  }

  /**
   * Returns the status after the last check or operator command, with whether each applied mitigation is
   * live evaluated now (a servlet filter that loaded or rejected the file since shows at once).
   *
   * @return the status
   */
  public AgentStatus status() {
    work.lock();
    try {
      return current();
    } finally {
      work.unlock();
    }
  }

  /**
   * Blocks a mitigation on this server: never applied; removed now if applied.
   *
   * @param id the mitigation id
   * @return the status after removing it
   * @throws IllegalArgumentException if the id is not a mitigation id
   * @throws IOException if the state cannot be written
   */
  public AgentStatus block(String id) throws IOException {
    return change(requireId(id), s -> s.withLocal(s.local().withBlocked(id)), "block");
  }

  /**
   * Lifts a block or an operator's removal, and forgets the failures of the id so that it is retried.
   *
   * @param id the mitigation id
   * @return the status after applying it again where it applies
   * @throws IllegalArgumentException if the id is not a mitigation id
   * @throws IOException if the state cannot be written
   */
  public AgentStatus unblock(String id) throws IOException {
    return change(requireId(id), s -> s.withLocal(s.local().withUnblocked(id)).withoutFailures(id), "unblock");
  }

  /**
   * Rolls a mitigation back now and keeps it off until unblocked or until a higher revision is published.
   *
   * @param id the mitigation id
   * @return the status after removing it
   * @throws IllegalArgumentException if the id is unknown to this agent
   * @throws IOException if the state cannot be written
   */
  public AgentStatus remove(String id) throws IOException {
    requireId(id);
    work.lock();
    try {
      int revision = Math.max(state.appliedRevision(id).orElse(0),
          Optional.ofNullable(feed.mitigations().get(id)).map(Mitigation::revision).orElse(0));
      if (revision == 0) {
        throw new IllegalArgumentException("mitigation " + id + ": expected an id in the feed or applied on this server but found neither");
      }
      return change(id, s -> s.withLocal(s.local().withRemoved(id, revision)), "remove");
    } finally {
      work.unlock();
    }
  }

  /**
   * Enables mitigations on this server (the server-level setting) and applies what the feed holds now.
   *
   * @return the status
   * @throws IOException if the state cannot be written
   */
  public AgentStatus enable() throws IOException {
    return change("-", s -> s.withLocal(s.local().withEnabled(true)), "enable");
  }

  /**
   * Disables mitigations on this server: the agent keeps checking and reports what it would apply
   * (Detected) but applies nothing new. As in Exchange, mitigations already applied stay applied; remove
   * one with {@link #remove} or {@link #block}.
   *
   * @return the status
   * @throws IOException if the state cannot be written
   */
  public AgentStatus disable() throws IOException {
    return change("-", s -> s.withLocal(s.local().withEnabled(false)), "disable");
  }

  /**
   * Returns the admin API's port, once started.
   *
   * @return the port on 127.0.0.1
   * @throws IllegalStateException if the admin API is not running
   */
  public int adminPort() {
    if (admin == null) {
      throw new IllegalStateException("the admin API is not running");
    }
    return admin.port();
  }

  /** Stops the worker (after the check in progress, if any), the admin API, and releases the state. */
  @Override
  public void close() throws IOException {
    Thread w;
    synchronized (wake) {
      closed = true;
      wake.notifyAll();
      w = worker;
    }
    if (admin != null) {
      admin.stop();
    }
    if (w != null && w != Thread.currentThread()) {
      try {
        w.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (stateLock != null) {
      stateLock.release();
      lockChannel.close();
    }
  }

  private void runLoop() {
    long lastHintedCheck = System.nanoTime() - HINT_GAP.toNanos(); // the first hint is taken at once
    while (true) {
      // A probe owed to a change the target has not confirmed live yet is looked at between checks too, so
      // that it runs soon after the application starts, not at the next check up to an interval later.
      long recheckAt = probesOwed() ? System.nanoTime() + probeRecheck.toNanos() : Long.MAX_VALUE;
      // A push hint is taken at once, unless the check before was a hint's too and began less than HINT_GAP
      // ago: a fleet server that sends hints without end (broken, or hostile) gets a check every two
      // seconds, not one after the other, while a hint after a scheduled check or a quiet while waits for nothing.
      long hintAt = lastHintedCheck + HINT_GAP.toNanos();
      boolean probesOnly = false;
      boolean byHint = false;
      synchronized (wake) {
        while (!closed && !probesAdded) {
          long now = System.nanoTime();
          if (now - dueNanos >= 0) {
            break;
          }
          if (hinted && now - hintAt >= 0) {
            byHint = true;
            break;
          }
          if (recheckAt != Long.MAX_VALUE && now - recheckAt >= 0) {
            probesOnly = true;
            break;
          }
          long until = dueNanos;
          if (recheckAt != Long.MAX_VALUE && recheckAt - until < 0) {
            until = recheckAt;
          }
          if (hinted && hintAt - until < 0) {
            until = hintAt;
          }
          try {
            wake.wait(Math.min(Math.max(1, (until - now) / 1_000_000), 60_000));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
        if (closed) {
          return;
        }
        if (probesAdded) {
          probesAdded = false;
          continue; // wait again, now with the recheck the new probes need (at once if a check is due)
        }
        if (!probesOnly) {
          hinted = false;
        }
      }
      try {
        if (probesOnly) {
          recheckProbes();
        } else {
          if (byHint) {
            lastHintedCheck = System.nanoTime();
          }
          check();
        }
      } catch (IOException | RuntimeException | Error e) {
        // An Error too (a class gone from a jar replaced under the running agent, a stack overflow): the worker
        // is the only thread that checks, and the process outlives it, so its end would leave the server with
        // no further check, removal or update while status and the service manager see an agent running.
        LOG.error("check failed: {}", e.toString(), e);
        synchronized (wake) {
          dueNanos = System.nanoTime() + Schedule.MIN_RETRY.toNanos();
        }
      }
    }
  }

  private boolean probesOwed() {
    work.lock();
    try {
      return state != null && !state.probesDue().isEmpty();
    } finally {
      work.unlock();
    }
  }

  /**
   * Between checks: once a target owed a probe confirms its change live, converges on the last verified
   * feed and policy, without asking the feed or the fleet server anything, which runs the probe; reports if
   * that changed anything. Until then it only reads the targets' acknowledgements: no plan, no version
   * command.
   */
  private void recheckProbes() throws IOException {
    work.lock();
    try {
      boolean live = converger.targets().stream().anyMatch(t -> !state.probesDue(t.name()).isEmpty()
          && t.enforcer().notLive().isEmpty());
      if (!live) {
        return;
      }
      List<AgentState.ProbeDue> before = state.probesDue();
      status = reconcile();
      if (!state.probesDue().equals(before)) {
        report(current());
      }
    } finally {
      work.unlock();
    }
  }

  @FunctionalInterface
  private interface StateChange {
    AgentState apply(AgentState s);
  }

  private AgentStatus change(String id, StateChange change, String verb) throws IOException {
    work.lock();
    try {
      // Held only once saved: a command whose state cannot be written fails, and must not take effect at the
      // next check all the same (a block that removes, an unblock that applies) with no line in the audit log.
      AgentState changed = change.apply(state);
      store.save(changed);
      state = changed;
      audit.append(clock.instant(), id, verb, "-", "done", "operator command " + verb + ("-".equals(id) ? "" : " " + id));
      status = reconcile();
      wakeForProbes();
      return current();
    } finally {
      work.unlock();
    }
  }

  /** Plans on the last verified feed and policy and converges the targets. */
  private AgentStatus reconcile() throws IOException {
    Plan plan = Planner.plan(feed, policy(), facts(), applied(state), clock.instant());
    try {
      state = converger.execute(plan, state);
    } catch (IOException | RuntimeException | Error e) {
      // What was made and saved before the failure stays known: planning (or an operator's command saving)
      // from the state before the check would forget it, and a restart would then undo it on the target.
      state = converger.recorded();
      throw e;
    }
    return buildStatus(plan, state);
  }

  private boolean refreshFeed() {
    try {
      feed = feedReader.read();
      feedHealth = feed.rejected().isEmpty() ? "ok"
          : "ok; invalid documents skipped: " + String.join(", ", feed.rejected().keySet());
      feed.rejected().forEach((id, why) -> LOG.warn("feed: {} skipped: {}", id, why));
      if (auditedFeedProblem != null) {
        auditFeed("accepted", "feed verified again (targets version " + feed.targetsVersion() + ")");
        auditedFeedProblem = null;
      }
      return true;
    } catch (FeedVerificationException e) {
      feedHealth = "feed rejected, keeping the last verified feed (targets version " + feed.targetsVersion() + "): "
          + e.getMessage();
      auditFeedProblem("rejected", String.valueOf(e.getMessage()));
    } catch (IOException e) {
      feedUnreachable(Fetchers.describe(e));
    } catch (RuntimeException e) {
      feedUnreachable(e.toString());
    }
    LOG.warn("{}", feedHealth);
    return false;
  }

  private void feedUnreachable(String why) {
    feedHealth = "feed unreachable, keeping the last verified feed (targets version " + feed.targetsVersion() + "): " + why;
    auditFeedProblem("unreachable", why);
  }

  /** Writes a feed problem to the audit log once per change of outcome or reason, not once per poll. */
  private void auditFeedProblem(String outcome, String reason) {
    String problem = outcome + ": " + reason;
    if (!problem.equals(auditedFeedProblem)) {
      auditFeed(outcome, reason + " (keeping the last verified feed, targets version " + feed.targetsVersion() + ")");
      auditedFeedProblem = problem;
    }
  }

  private void auditFeed(String outcome, String reason) {
    try {
      audit.append(clock.instant(), "-", "feed", "-", outcome, reason);
    } catch (IOException e) {
      LOG.warn("could not write the feed's {} to the audit log {}: {}", outcome, audit.file(), e.toString());
    }
  }

  private boolean refreshPolicy() {
    if (policySource.isEmpty()) {
      return true;
    }
    OrgPolicy obtained;
    try {
      obtained = Objects.requireNonNull(policySource.get().orgPolicy(), "the policy source returned null");
    } catch (IOException | RuntimeException e) {
      policyHealth = "organisation policy unavailable, "
          + orgPolicyObtained.map(at -> "keeping the last one obtained (" + at + "): ")
              .orElse("using the default (enabled, nothing blocked) until one is obtained: ")
          + (e instanceof IOException io ? Fetchers.describe(io) : e.toString());
      LOG.warn("{}", policyHealth);
      return false;
    }
    policyHealth = "ok";
    Instant now = clock.instant();
    if (orgPolicyObtained.isEmpty() || !obtained.equals(orgPolicy)) {
      try {
        orgPolicyFile.save(obtained, now);
      } catch (IOException e) {
        policyHealth = "ok, but not saved for a restart: " + e.getMessage();
        LOG.warn("organisation policy: {}", policyHealth);
      }
    }
    orgPolicy = obtained;
    orgPolicyObtained = Optional.of(now);
    return true;
  }

  /**
   * Takes the organisation policy saved before the restart, so that the checks made before the fleet
   * server answers (it may be down) keep to what the organisation blocked, disabled or set to audit.
   */
  private void loadSavedOrgPolicy() {
    try {
      Optional<OrgPolicyFile.Saved> saved = orgPolicyFile.load();
      if (saved.isPresent()) {
        orgPolicy = saved.get().policy();
        orgPolicyObtained = Optional.of(saved.get().obtainedAt());
      }
    } catch (IOException e) {
      policyHealth = "the organisation policy saved before the restart cannot be read; using the default (enabled,"
          + " nothing blocked) until the fleet server answers: " + e.getMessage();
      LOG.error("{}", policyHealth);
    }
  }

  private void report(AgentStatus s) {
    if (!config.dataCollection() || reporter.isEmpty()) {
      return;
    }
    try {
      reporter.get().report(s);
    } catch (Exception e) {
      LOG.warn("reporting the status failed: {}", e.toString());
    }
  }

  private Planner.Policy policy() {
    return new Planner.Policy(orgPolicy, state.local());
  }

  private HostFacts facts() {
    return VersionProbe.facts(config.product(), config.version());
  }

  /** The applied state as the planner sees it: the highest revision of each id, and failed revisions. */
  private Planner.Applied applied(AgentState state) throws IOException {
    StateStore.Documents docs = store.parseDocuments(state);
    Map<String, Planner.AppliedMitigation> applied = new TreeMap<>();
    for (Map<String, AppliedRef> onTarget : state.targets().values()) {
      for (Map.Entry<String, AppliedRef> e : onTarget.entrySet()) {
        Planner.AppliedMitigation current = applied.get(e.getKey());
        if (current == null || current.revision() < e.getValue().revision()) {
          String appliedId = e.getKey() + "." + e.getValue().revision();
          Mitigation m = docs.readable().get(appliedId);
          if (m == null && !docs.unreadable().containsKey(appliedId)) {
            throw new IOException("state.json: " + appliedId + " is applied but its document is missing");
          }
          // One this version cannot read is planned without its document: kept as it is, unless replaced or removed.
          applied.put(e.getKey(), new Planner.AppliedMitigation(e.getValue().revision(), e.getValue().audit(),
              Optional.ofNullable(m)));
        }
      }
    }
    Map<String, List<TargetFailure>> byId = new TreeMap<>();
    for (TargetFailure f : state.failures()) {
      boolean appliedSomewhere = state.targets().values().stream()
          .anyMatch(m -> m.containsKey(f.id()) && m.get(f.id()).revision() == f.revision());
      if (!appliedSomewhere) {
        byId.computeIfAbsent(f.id(), k -> new ArrayList<>()).add(f);
      }
    }
    Map<String, Planner.Failure> failed = new TreeMap<>();
    byId.forEach((id, list) -> {
      int revision = list.stream().mapToInt(TargetFailure::revision).max().orElseThrow();
      List<TargetFailure> latest = list.stream().filter(f -> f.revision() == revision).toList();
      String reason = String.join("; ", latest.stream().map(TargetFailure::reason).toList());
      failed.put(id, new Planner.Failure(revision, reason, latest.stream().allMatch(TargetFailure::refused)));
    });
    return new Planner.Applied(applied, failed, state.highestApplied());
  }

  private AgentStatus buildStatus(Plan plan, AgentState st) {
    Map<String, String> unreadable = store.parseDocuments(st).unreadable();
    List<MitigationStatus> rows = new ArrayList<>();
    for (Step step : plan.steps()) {
      rows.add(row(step, st, unreadable));
    }
    Map<String, Map<String, Map<String, Long>>> hits = new TreeMap<>();
    for (Target t : converger.targets()) {
      Map<String, Map<String, Long>> h = t.enforcer().auditHits();
      if (!h.isEmpty()) {
        hits.put(t.name(), h);
      }
    }
    HostFacts host = facts();
    return new AgentStatus(config.serverName(), config.labels(), config.product(), host.version().map(Object::toString),
        st.local().enabled(), lastCheck, nextCheck, feedHealth, policyHealth, feed.targetsVersion(), rows, hits);
  }

  private AgentStatus withTimes(AgentStatus s) {
    return new AgentStatus(s.server(), s.labels(), s.product(), s.version(), state.local().enabled(), lastCheck,
        nextCheck, feedHealth, policyHealth, feed.targetsVersion(), s.mitigations(), s.auditHits());
  }

  /** The status to show: the last one built, with the times and liveness as they are now. */
  private AgentStatus current() {
    return withLiveness(withTimes(status));
  }

  /**
   * Says, for every applied mitigation, whether its targets confirm it live, asking them now: a target that
   * has not confirmed it adds its note to the reason; one that rejected it makes an Applied or Audit row
   * Failed, with the target's error. Neither changes the targets or the state: the mitigation stays applied
   * where it is (removing it would protect nothing more), so once the filter loads the file, or a fixed
   * filter does, the row is Applied again without any change.
   */
  private AgentStatus withLiveness(AgentStatus s) {
    Map<String, Enforcer.NotLive> notLive = new TreeMap<>();
    for (Target t : converger.targets()) {
      if (!state.on(t.name()).isEmpty()) {
        t.enforcer().notLive().ifPresent(n -> notLive.put(t.name(), n));
      }
    }
    List<MitigationStatus> rows = new ArrayList<>();
    for (MitigationStatus m : s.mitigations()) {
      List<String> targets = converger.targets().stream().map(Target::name)
          .filter(name -> state.on(name).containsKey(m.id())).toList();
      if (targets.isEmpty()) {
        rows.add(m);
        continue;
      }
      Status status = m.status();
      StringBuilder reason = new StringBuilder(m.reason());
      for (String name : targets) {
        Enforcer.NotLive n = notLive.get(name);
        if (n != null && n.rejected()) {
          status = status == Status.APPLIED || status == Status.AUDIT ? Status.FAILED : status;
          reason.append("; not enforced on ").append(name).append(": ").append(n.reason());
        } else if (n != null) {
          reason.append("; ").append(n.reason());
        }
      }
      boolean live = targets.stream().noneMatch(notLive::containsKey);
      rows.add(new MitigationStatus(m.id(), m.revision(), m.kinds(), m.description(), status, reason.toString(),
          m.appliedRevision(), Optional.of(live)));
    }
    return new AgentStatus(s.server(), s.labels(), s.product(), s.version(), s.enabled(), s.lastCheck(), s.nextCheck(),
        s.feedHealth(), s.policyHealth(), s.feedVersion(), rows, s.auditHits());
  }

  /**
   * The status row of a step, from what the targets run after it. A mitigation held on a target (its applied
   * revision there has a document this version cannot read) is Failed, the reason saying why and where first:
   * the fleet server takes no other status, and Failed is the one that asks a person to look.
   */
  private MitigationStatus row(Step step, AgentState st, Map<String, String> unreadable) {
    Optional<Mitigation> doc = step.desired().or(step::shown);
    String id = step.id();
    boolean keptUnread = step.decision() == Decision.KEEP && step.desired().isEmpty();
    int revision = keptUnread ? st.appliedRevision(id).orElse(0)
        : doc.map(Mitigation::revision).orElse(st.appliedRevision(id).orElse(0));
    String kinds = doc.map(m -> String.join(",", new LinkedHashSet<>(m.actions().stream().map(Action::kind).toList())))
        .orElse("");
    String title = doc.map(Mitigation::title).orElse("");
    Optional<Integer> appliedRevision = st.appliedRevision(id);
    Status status = step.status();
    String reason = step.reason();
    if (step.desired().isPresent()) {
      Mitigation m = step.desired().get();
      List<Target> handling = converger.targets().stream().filter(t -> Converger.handles(t, m)).toList();
      if (handling.isEmpty()) {
        status = Status.NOT_APPLICABLE;
        reason = "no configured target handles " + kinds;
      } else {
        List<String> failed = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        int appliedOn = 0;
        for (Target t : handling) {
          AppliedRef ref = st.on(t.name()).get(id);
          if (ref != null && ref.revision() == m.revision()) {
            appliedOn++;
          }
          st.failure(t.name(), id, m.revision()).ifPresent(f -> (f.refused() ? refused : failed).add(t.name() + ": " + f.reason()));
        }
        List<String> waiting = converger.waiting().getOrDefault(id, List.of());
        if (!failed.isEmpty()) {
          status = Status.FAILED;
          reason = "failed: " + String.join("; ", failed) + (appliedOn > 0 ? "; applied on " + appliedOn + " other target(s)" : "");
        } else if (!waiting.isEmpty()) {
          status = Status.FAILED;
          reason = "waits on " + String.join("; ", waiting) + (appliedOn > 0 ? "; applied on " + appliedOn + " other target(s)" : "");
        } else if (appliedOn == 0 && !refused.isEmpty()) {
          status = Status.NOT_APPLICABLE;
          reason = "not applicable: " + String.join("; ", refused);
        } else if (!refused.isEmpty()) {
          reason = reason + "; refused by " + String.join("; ", refused);
        }
      }
    } else if (step.decision() == Decision.REMOVE) {
      List<String> problems = converger.removalProblems().get(id);
      List<String> waiting = converger.waiting().getOrDefault(id, List.of());
      if (problems != null && !problems.isEmpty()) {
        status = Status.FAILED;
        reason = "removing failed (" + reason + "): " + String.join("; ", problems);
      } else if (!waiting.isEmpty()) {
        status = Status.FAILED;
        reason = "removing waits (" + reason + ") on " + String.join("; ", waiting);
      }
    }
    List<String> held = new ArrayList<>();
    for (Target t : converger.targets()) {
      AppliedRef ref = st.on(t.name()).get(id);
      String why = ref == null ? null : unreadable.get(id + "." + ref.revision());
      if (why != null) {
        held.add(Converger.held(t.name(), id + "." + ref.revision(), why));
      }
    }
    if (!held.isEmpty()) {
      status = Status.FAILED;
      reason = String.join("; ", held) + "; " + reason;
    }
    return new MitigationStatus(id, revision, kinds, title, status, reason, appliedRevision, Optional.empty());
  }

  private static String requireId(String id) {
    if (id == null) {
      throw new IllegalArgumentException("expected a mitigation id but found nothing");
    }
    Optional<String> problem = Mitigation.idProblem(id);
    if (problem.isPresent()) {
      throw new IllegalArgumentException("id: " + problem.get());
    }
    return id;
  }

  /** Makes a file or directory readable and writable by its owner only, where the file system allows it. */
  static void restrictToOwner(Path path, boolean directory) throws IOException {
    if (!path.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      return; // Windows: the state directory inherits the ACL of its parent (ProgramData\Tourniquet)
    }
    Set<java.nio.file.attribute.PosixFilePermission> perms = java.nio.file.attribute.PosixFilePermissions.fromString(
        directory ? "rwx------" : "rw-------");
    Files.setPosixFilePermissions(path, perms);
  }
}
