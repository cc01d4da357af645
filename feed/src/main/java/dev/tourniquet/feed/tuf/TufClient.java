package dev.tourniquet.feed.tuf;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The agent's TUF client: updates the trusted metadata from a repository following the specification's
 * detailed client workflow (section 5), and downloads verified target files.
 *
 * <pre>{@code
 * TufClient.bootstrap(store, rootShippedWithTheAgent);
 * TufClient client = TufClient.open(store, Fetchers.http(feedUrl), Clock.systemUTC());
 * TrustedFeed feed = client.refresh();
 * byte[] m1 = client.download("mitigations/M1.json");
 * }</pre>
 *
 * <p>Any {@link FeedVerificationException} or {@link IOException} leaves the trusted store as it was,
 * except that a new root the run verified is kept (TUF 5.3.8: a root that revoked a key must not be
 * forgotten because a later step failed). An {@link IOException} means the repository or the store could not be reached; retry later. A client is
 * not thread-safe; the store is locked against other processes while an update runs.
 *
 * <p>Keep one client for repeated refreshes: it remembers the exact bytes it verified, so a refresh that
 * finds nothing new checks no signature again (TUF 5.2 re-verifies the trusted root and metadata read
 * from the store; bytes that differ from what this client verified, such as a changed or damaged store,
 * are verified as usual).
 */
public final class TufClient {
  private final TrustedStore store;
  private final Fetcher fetcher;
  private final Clock clock;
  private final Limits limits;
  private final boolean cacheTargets;
  private Metadata targets;
  private boolean consistentSnapshot;
  private Updater.Verified verified = Updater.Verified.NONE;
  private int lastThresholdChecks;

  private TufClient(Path storeDir, Fetcher fetcher, Clock clock, Limits limits, boolean cacheTargets) {
    this.store = new TrustedStore(storeDir);
    this.fetcher = Objects.requireNonNull(fetcher, "fetcher");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.limits = Objects.requireNonNull(limits, "limits");
    this.cacheTargets = cacheTargets;
  }

  /**
   * Opens a client over a bootstrapped trusted store with the default {@link Limits}.
   *
   * @param storeDir the trusted store directory
   * @param fetcher where to fetch repository files from
   * @param clock the clock that fixes each update's start time (TUF 5.1)
   * @return the client
   */
  public static TufClient open(Path storeDir, Fetcher fetcher, Clock clock) {
    return new TufClient(storeDir, fetcher, clock, Limits.defaults(), true);
  }

  /**
   * Opens a client over a bootstrapped trusted store.
   *
   * @param storeDir the trusted store directory
   * @param fetcher where to fetch repository files from
   * @param clock the clock that fixes each update's start time (TUF 5.1)
   * @param limits the size caps
   * @return the client
   */
  public static TufClient open(Path storeDir, Fetcher fetcher, Clock clock, Limits limits) {
    return new TufClient(storeDir, fetcher, clock, limits, true);
  }

  /**
   * Opens a client over a bootstrapped trusted store, choosing whether verified target files are also
   * written to the store's target cache (TUF 5.7.3 persists them; a caller that stores what it downloads
   * itself, or verifies a feed only to check it, may skip the cache).
   *
   * @param storeDir the trusted store directory
   * @param fetcher where to fetch repository files from
   * @param clock the clock that fixes each update's start time (TUF 5.1)
   * @param limits the size caps
   * @param cacheTargets whether to keep verified target files in the store
   * @return the client
   */
  public static TufClient open(Path storeDir, Fetcher fetcher, Clock clock, Limits limits, boolean cacheTargets) {
    return new TufClient(storeDir, fetcher, clock, limits, cacheTargets);
  }

  /**
   * Installs the root metadata obtained out of band (shipped with the agent) as the trusted root of an
   * empty store. A store that already has a trusted root keeps it: it may be newer.
   *
   * @param storeDir the trusted store directory, created if missing
   * @param rootJson the root metadata bytes, which must be signed by a threshold of their own root keys
   * @return true if installed, false if the store already had a trusted root
   * @throws FeedVerificationException if the bytes are not root metadata signed by its own threshold
   * @throws IOException if the store cannot be written
   */
  public static boolean bootstrap(Path storeDir, byte[] rootJson) throws FeedVerificationException, IOException {
    Updater.parseTrustedRoot(rootJson);
    TrustedStore store = new TrustedStore(storeDir);
    if (store.read(TrustedStore.ROOT).isPresent()) {
      return false;
    }
    store.commit(java.util.List.of(TrustedStore.Change.write(TrustedStore.ROOT, rootJson)));
    return true;
  }

  /**
   * Updates root, timestamp, snapshot and targets metadata (TUF 5.1 to 5.6) and commits them to the
   * trusted store.
   *
   * @return the trusted feed
   * @throws FeedVerificationException if any check fails; the trusted store then holds no new timestamp,
   *     snapshot or targets (only a new root, if the chain of roots verified)
   * @throws IOException if the repository or the store cannot be reached
   */
  public TrustedFeed refresh() throws FeedVerificationException, IOException {
    return update(Role.TARGETS).orElseThrow();
  }

  /**
   * Runs the workflow only up to and including the step that updates {@code last} (ROOT: 5.1-5.3,
   * TIMESTAMP: to 5.4, SNAPSHOT: to 5.5, TARGETS: to 5.6), then commits what was verified. For tools and
   * conformance tests; an agent calls {@link #refresh()}.
   *
   * @param last the last role to update
   * @throws FeedVerificationException if any check fails; the trusted store then holds no new timestamp,
   *     snapshot or targets (only a new root, if the chain of roots verified)
   * @throws IOException if the repository or the store cannot be reached
   */
  public void refreshThrough(Role last) throws FeedVerificationException, IOException {
    update(last);
  }

  /**
   * The feed as the last {@link #refresh()} verified and committed it, read from the store alone: what a
   * client restarting while its repository is unreachable can still trust. Nothing is fetched and no expiry
   * is checked (this is not a new verification), but every file is verified again: the root against its
   * own keys, timestamp, snapshot and targets against that root's keys, and snapshot and targets must be
   * exactly the files the timestamp and the snapshot list. Read the targets' bytes with
   * {@link #cachedTarget}.
   *
   * @param storeDir the trusted store directory
   * @return the feed ({@code updated} false), or empty if no refresh has completed on this store
   * @throws FeedVerificationException if the store's files do not verify or do not belong together
   * @throws IOException if the store cannot be read
   */
  public static Optional<TrustedFeed> lastVerified(Path storeDir) throws FeedVerificationException, IOException {
    TrustedStore store = new TrustedStore(storeDir);
    if (!Files.isDirectory(store.dir())) {
      return Optional.empty();
    }
    return locked(store, () -> Updater.lastVerified(store));
  }

  /**
   * The store's cached copy of a target of {@code feed}, if it has exactly the length and hashes the
   * feed lists for it. Never fetches: a missing or damaged copy is empty.
   *
   * @param storeDir the trusted store directory
   * @param feed the feed that lists the target, from {@link #lastVerified} or {@link #refresh()}
   * @param name the target name, e.g. {@code mitigations/M1.json}
   * @return the verified bytes, or empty
   * @throws IllegalArgumentException if the feed does not list the target
   * @throws IOException if the cache cannot be read
   */
  public static Optional<byte[]> cachedTarget(Path storeDir, TrustedFeed feed, String name) throws IOException {
    TargetFile target = feed.targets().get(name);
    if (target == null) {
      throw new IllegalArgumentException(name + ": expected a target the feed lists but it lists only "
          + feed.targets().keySet());
    }
    return Updater.cachedTarget(new TrustedStore(storeDir), name, target);
  }

  private Optional<TrustedFeed> update(Role last) throws FeedVerificationException, IOException {
    AtomicFiles.ensureDirectory(store.dir());
    return locked(store, () -> {
      // TUF 5.1: record the fixed update start time.
      Updater updater = new Updater(store, fetcher, limits, clock.instant(), verified);
      Optional<TrustedFeed> feed;
      try {
        feed = updater.run(last);
      } finally {
        lastThresholdChecks = updater.thresholdChecks();
      }
      if (last == Role.TARGETS) {
        targets = updater.targets();
        consistentSnapshot = updater.consistentSnapshot();
        verified = updater.verifiedNow();
      }
      return feed;
    });
  }

  /** What runs while the store is locked against other processes. */
  private interface StoreWork<T> {
    T run() throws FeedVerificationException, IOException;
  }

  @SuppressWarnings("try") // the lock is held for the whole block, never referenced
  private static <T> T locked(TrustedStore store, StoreWork<T> work) throws FeedVerificationException, IOException {
    try (FileChannel lockFile = FileChannel.open(store.dir().resolve(".lock"), StandardOpenOption.CREATE,
            StandardOpenOption.WRITE);
        FileLock lock = lockFile.lock()) {
      return work.run();
    }
  }

  /**
   * Downloads a target listed in the targets metadata of this client's last {@link #refresh()} and
   * verifies its length and hashes (TUF 5.7). Unless the client was opened without it, verified copies are
   * kept in the store's target cache and reused while they match the trusted targets metadata.
   *
   * @param name the target name, e.g. {@code mitigations/M1.json}
   * @return the verified bytes
   * @throws IllegalStateException if this client has not refreshed yet
   * @throws FeedVerificationException if the target is unknown, missing, too long or too short, or its
   *     hashes differ
   * @throws IOException if the repository or the store cannot be reached
   */
  public byte[] download(String name) throws FeedVerificationException, IOException {
    if (targets == null) {
      throw new IllegalStateException("download needs verified targets metadata: call refresh() first");
    }
    return Updater.downloadTarget(store, cacheTargets, fetcher, limits, targets, consistentSnapshot, name);
  }

  /** How many signature thresholds the last refresh checked (for tests and diagnostics). */
  int lastThresholdChecks() {
    return lastThresholdChecks;
  }

  /**
   * Reads the versions of the trusted metadata in the store, for status reports.
   *
   * @return the version of each role's trusted metadata present in the store
   * @throws IOException if the store cannot be read
   */
  public Map<Role, Long> trustedVersions() throws IOException {
    Map<Role, Long> versions = new EnumMap<>(Role.class);
    for (Role role : Role.values()) {
      Optional<byte[]> bytes = store.read(role.fileName());
      if (bytes.isPresent()) {
        try {
          versions.put(role, Metadata.parse(role.fileName(), bytes.get(), role).version);
        } catch (MalformedMetadataException e) {
          // Not trusted metadata, so no trusted version.
        }
      }
    }
    return versions;
  }
}
