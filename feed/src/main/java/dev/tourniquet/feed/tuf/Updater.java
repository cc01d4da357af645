package dev.tourniquet.feed.tuf;

import dev.tourniquet.feed.tuf.Fetcher.Found;
import dev.tourniquet.feed.tuf.Fetcher.NotFound;
import dev.tourniquet.feed.tuf.Fetcher.NotModified;
import dev.tourniquet.feed.tuf.Fetcher.Response;
import dev.tourniquet.feed.tuf.Metadata.MetaFile;
import dev.tourniquet.feed.tuf.TrustedStore.Change;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * One run of the TUF detailed client workflow (specification section 5), step by step; the comments cite
 * the steps. It is the only code that decides whether fetched metadata becomes trusted.
 *
 * <p>Two deliberate choices beyond the letter of the specification, both on the safe side:
 *
 * <ul>
 *   <li>A new root is persisted as soon as the root chain is verified (5.3.8), together with the 5.3.11
 *       deletions, and before its expiry is checked; the timestamp, snapshot and targets only when every
 *       later step has passed (5.4.5, 5.5.7, 5.6.6). A failure therefore leaves the trusted store as it
 *       was, except for a root that this run verified: a root that revokes a compromised key must not be
 *       forgotten because a later step failed, or an attacker who then withholds it could have the client
 *       accept that key again. The specification persists each root of the chain as it is verified; all
 *       of them at once after the chain is no weaker, since an interrupted chain is walked again.
 *   <li>A timestamp of the same version as the trusted one (or an HTTP 304 for it) does not end the run:
 *       the trusted timestamp stays, its expiry is checked (so a mirror that keeps answering "not
 *       modified" cannot freeze the client past that expiry), and the trusted snapshot and targets are used
 *       without downloading them again when they are exactly what the timestamp and snapshot list. A poll
 *       that finds nothing new therefore costs two requests: {@code N+1.root.json} (5.3, a 404 until the
 *       root is rotated) and a conditional one for {@code timestamp.json}.
 * </ul>
 *
 * <p>Trusted timestamp, snapshot and targets metadata read from the store are re-verified against the
 * current root; a copy that no longer verifies (for example after its role's keys were rotated) is treated
 * as absent, as 5.3.11 requires for the timestamp and snapshot. Bytes identical to ones this process
 * already verified against identical root bytes ({@link Verified}) are not verified twice: a signature
 * check is a pure function of the bytes, and it is most of the cost of a check that finds nothing new.
 */
final class Updater {
  private final TrustedStore store;
  private final Fetcher fetcher;
  private final Limits limits;
  private final Instant now;
  private final List<Change> changes = new ArrayList<>();

  private Metadata trustedRoot;
  private Metadata root;
  private boolean consistentSnapshot;
  private Optional<Metadata> localTimestamp = Optional.empty();
  private Optional<Metadata> localSnapshot = Optional.empty();
  private Optional<Metadata> localTargets = Optional.empty();
  private Metadata timestamp;
  private Metadata snapshot;
  private Metadata targets;
  private boolean updated;
  private final Verified verified;
  private int thresholdChecks;

  /**
   * What an earlier run in this process verified: root bytes signed by a threshold of their own root keys,
   * and for each role the trusted metadata bytes signed by a threshold of that root's keys for the role.
   * Only exact byte equality with what is read from the store counts; anything else is verified again.
   */
  record Verified(byte[] root, Map<Role, byte[]> files) {
    static final Verified NONE = new Verified(new byte[0], Map.of());
  }

  Updater(TrustedStore store, Fetcher fetcher, Limits limits, Instant now) {
    this(store, fetcher, limits, now, Verified.NONE);
  }

  Updater(TrustedStore store, Fetcher fetcher, Limits limits, Instant now, Verified verified) {
    this.store = store;
    this.fetcher = fetcher;
    this.limits = limits;
    this.now = now;
    this.verified = verified;
  }

  /** How many signature thresholds this run checked. */
  int thresholdChecks() {
    return thresholdChecks;
  }

  /** What this run trusts at its end, every part of it verified against its final root. */
  Verified verifiedNow() {
    return new Verified(root.bytes, Map.of(Role.TIMESTAMP, timestamp.bytes, Role.SNAPSHOT, snapshot.bytes,
        Role.TARGETS, targets.bytes));
  }

  private void requireThreshold(Metadata signed, Metadata trusted, String trustedName, Role role, String step)
      throws FeedVerificationException {
    thresholdChecks++;
    Signatures.requireThreshold(signed, trusted, trustedName, role, step);
  }

  /**
   * Runs the workflow from 5.2 through the step that updates {@code last}, then commits.
   *
   * @return the trusted feed when {@code last} is {@link Role#TARGETS}, else empty
   */
  Optional<TrustedFeed> run(Role last) throws FeedVerificationException, IOException {
    loadTrustedRoot();
    updateRoot();
    if (last != Role.ROOT) {
      loadLocalMetadata();
      updateTimestamp();
      if (last != Role.TIMESTAMP) {
        updateSnapshot();
        if (last != Role.SNAPSHOT) {
          updateTargets();
        }
      }
    }
    store.commit(changes);
    if (last != Role.TARGETS) {
      return Optional.empty();
    }
    return Optional.of(feed(root, timestamp, snapshot, targets, updated));
  }

  private static TrustedFeed feed(Metadata root, Metadata timestamp, Metadata snapshot, Metadata targets,
      boolean updated) {
    Instant expires = root.expires;
    for (Metadata m : List.of(timestamp, snapshot, targets)) {
      expires = m.expires.isBefore(expires) ? m.expires : expires;
    }
    return new TrustedFeed(root.version, timestamp.version, snapshot.version, targets.version, expires, updated,
        targets.targets());
  }

  /**
   * The feed as the last committed run left it, read from the store alone: no fetch and no expiry check
   * (this is what was verified, not a new verification). Every file is checked again all the same: the
   * root against its own keys, the others against that root's keys for their role, and the snapshot and
   * the targets must be exactly the files the timestamp and the snapshot list.
   *
   * @return the feed, {@code updated} false; empty if no run has committed timestamp, snapshot and targets
   * @throws FeedVerificationException if the store's files do not verify or do not belong together
   */
  static Optional<TrustedFeed> lastVerified(TrustedStore store) throws FeedVerificationException, IOException {
    Optional<byte[]> rootBytes = store.read(TrustedStore.ROOT);
    Optional<byte[]> timestampBytes = store.read(TrustedStore.TIMESTAMP);
    Optional<byte[]> snapshotBytes = store.read(TrustedStore.SNAPSHOT);
    Optional<byte[]> targetsBytes = store.read(TrustedStore.TARGETS);
    if (rootBytes.isEmpty() || timestampBytes.isEmpty() || snapshotBytes.isEmpty() || targetsBytes.isEmpty()) {
      return Optional.empty();
    }
    Metadata root = parseTrustedRoot(rootBytes.get());
    Metadata timestamp = storedAndSigned(TrustedStore.TIMESTAMP, timestampBytes.get(), root, Role.TIMESTAMP);
    Metadata snapshot = storedAndSigned(TrustedStore.SNAPSHOT, snapshotBytes.get(), root, Role.SNAPSHOT);
    Metadata targets = storedAndSigned(TrustedStore.TARGETS, targetsBytes.get(), root, Role.TARGETS);
    requireListed(timestamp, snapshot, Role.SNAPSHOT);
    requireListed(snapshot, targets, Role.TARGETS);
    return Optional.of(feed(root, timestamp, snapshot, targets, false));
  }

  private static Metadata storedAndSigned(String name, byte[] bytes, Metadata root, Role role)
      throws FeedVerificationException {
    Metadata stored = Metadata.parse(name + " (trusted)", bytes, role);
    Signatures.requireThreshold(stored, root, "the trusted root", role, "5.2");
    return stored;
  }

  private static void requireListed(Metadata listing, Metadata listed, Role role) throws FeedVerificationException {
    MetaFile entry = listing.meta().get(role.fileName());
    if (entry == null) {
      throw new MalformedMetadataException(listing.file, "signed.meta." + role.fileName()
          + ": expected the entry of the trusted " + role.fileName() + " but found none");
    }
    if (entry.version() != listed.version) {
      throw new MixAndMatchException(listed.file, listing.file, "5.2", entry.version(), listed.version);
    }
    if (!matches(listed, entry)) {
      throw new MalformedMetadataException(listed.file, "expected the length and hashes that " + listing.file
          + " lists for it but found other bytes");
    }
  }

  Metadata targets() {
    return targets;
  }

  boolean consistentSnapshot() {
    return consistentSnapshot;
  }

  // TUF 5.2: load the trusted root metadata. Its expiry does not matter yet (5.3 may replace it).
  private void loadTrustedRoot() throws FeedVerificationException, IOException {
    byte[] bytes = store.read(TrustedStore.ROOT).orElseThrow(() -> new IllegalStateException(
        "trusted store " + store.dir() + ": expected a trusted root.json but found none; bootstrap it first"));
    if (Arrays.equals(bytes, verified.root())) {
      trustedRoot = Metadata.parse("root.json (trusted)", bytes, Role.ROOT); // verified by an earlier run (5.2)
    } else {
      thresholdChecks++;
      trustedRoot = parseTrustedRoot(bytes);
    }
    root = trustedRoot;
  }

  static Metadata parseTrustedRoot(byte[] bytes) throws FeedVerificationException {
    String file = "root.json (trusted)";
    Metadata parsed = Metadata.parse(file, bytes, Role.ROOT);
    // A trusted root must at least be signed by a threshold of its own root keys; a corrupt store is
    // detected here instead of silently trusting whatever keys it lists.
    Signatures.requireThreshold(parsed, parsed, "itself", Role.ROOT, "5.2");
    return parsed;
  }

  private void updateRoot() throws FeedVerificationException, IOException {
    // TUF 5.3.1-5.3.3, 5.3.9: fetch N+1.root.json until there is none, up to maxRootRotations files.
    for (int fetched = 0; fetched < limits.maxRootRotations(); fetched++) {
      long next = root.version + 1;
      String file = next + ".root.json";
      Optional<byte[]> bytes = fetchUnknownLength(file, limits.rootBytes(), "5.3.3", true);
      if (bytes.isEmpty()) {
        break;
      }
      Metadata candidate = Metadata.parse(file, bytes.get(), Role.ROOT);
      // TUF 5.3.4: signed by a threshold of the trusted root's root keys AND of the new root's own.
      requireThreshold(candidate, root, "the trusted root", Role.ROOT, "5.3.4");
      requireThreshold(candidate, candidate, "the new root", Role.ROOT, "5.3.4");
      // TUF 5.3.5: the new version must be exactly N+1; lower is a rollback, higher skips a version.
      if (candidate.version < next) {
        throw new RollbackException(file, "root", "5.3.5", next, candidate.version);
      }
      if (candidate.version > next) {
        throw new RootChainGapException(file, next, candidate.version);
      }
      // TUF 5.3.6: the intermediate root's expiry does not matter. 5.3.7: it becomes the trusted root.
      root = candidate;
    }
    if (root != trustedRoot) {
      updated = true;
      // TUF 5.3.8: persist the new root as root.json, now: whatever fails later in this run, a root that
      // revoked a key stays trusted.
      List<Change> rootChanges = new ArrayList<>();
      rootChanges.add(Change.write(TrustedStore.ROOT, root.bytes));
      // TUF 5.3.11: if the timestamp or snapshot keys were rotated, delete the trusted timestamp and
      // snapshot, so that a repository recovering from a fast-forward attack is followed. In the same
      // commit as the root, so that the next run, which compares against the stored root, cannot miss it.
      if (rotated(Role.TIMESTAMP) || rotated(Role.SNAPSHOT)) {
        rootChanges.add(Change.delete(TrustedStore.ETAG));
        rootChanges.add(Change.delete(TrustedStore.TIMESTAMP));
        rootChanges.add(Change.delete(TrustedStore.SNAPSHOT));
      }
      store.commit(rootChanges);
    }
    // TUF 5.3.10: the final root must not have expired (freeze attack).
    if (root.expiredAt(now)) {
      throw new ExpiredException(root.file, Role.ROOT, "5.3.10", root.expires, now);
    }
    // TUF 5.3.12: consistent snapshots as the trusted root says.
    consistentSnapshot = root.root().consistentSnapshot();
  }

  private boolean rotated(Role role) {
    return !new HashSet<>(trustedRoot.root().roles().get(role).keyIds())
        .equals(new HashSet<>(root.root().roles().get(role).keyIds()));
  }

  private void loadLocalMetadata() throws IOException {
    boolean discard = root != trustedRoot && (rotated(Role.TIMESTAMP) || rotated(Role.SNAPSHOT));
    if (!discard) {
      localTimestamp = loadLocal(TrustedStore.TIMESTAMP, Role.TIMESTAMP);
      localSnapshot = loadLocal(TrustedStore.SNAPSHOT, Role.SNAPSHOT);
    }
    localTargets = loadLocal(TrustedStore.TARGETS, Role.TARGETS);
  }

  private Optional<Metadata> loadLocal(String name, Role role) throws IOException {
    Optional<byte[]> bytes = store.read(name);
    if (bytes.isEmpty()) {
      return Optional.empty();
    }
    try {
      Metadata local = Metadata.parse(name + " (trusted)", bytes.get(), role);
      if (!Arrays.equals(root.bytes, verified.root()) || !Arrays.equals(bytes.get(), verified.files().get(role))) {
        requireThreshold(local, root, "the trusted root", role, "5.2");
      }
      return Optional.of(local);
    } catch (FeedVerificationException e) {
      return Optional.empty();
    }
  }

  private void updateTimestamp() throws FeedVerificationException, IOException {
    String file = TrustedStore.TIMESTAMP;
    Optional<String> etag = localTimestamp.isPresent() ? store.etag(localTimestamp.get().bytes) : Optional.empty();
    // TUF 5.4.1: download timestamp.json, up to the timestamp cap (its length is unknown).
    Response response = fetcher.fetch(file, etag);
    if (response instanceof NotFound) {
      throw new MissingFileException(file, "5.4.1");
    }
    if (response instanceof NotModified) {
      if (localTimestamp.isEmpty()) {
        throw new IOException(file + ": expected a full response but found 304 Not Modified to an unconditional request");
      }
      timestamp = localTimestamp.get();
    } else {
      Found found = (Found) response;
      byte[] bytes = readCapped(file, found, limits.timestampBytes(), "5.4.1");
      Metadata candidate = Metadata.parse(file, bytes, Role.TIMESTAMP);
      // TUF 5.4.2: signed by a threshold of the trusted root's timestamp keys.
      requireThreshold(candidate, root, "the trusted root", Role.TIMESTAMP, "5.4.2");
      // TUF 5.4.3.1: the version must not go back; an equal version means nothing new.
      if (localTimestamp.isPresent() && candidate.version < localTimestamp.get().version) {
        throw new RollbackException(file, "timestamp.json", "5.4.3.1", localTimestamp.get().version,
            candidate.version);
      }
      if (localTimestamp.isPresent() && candidate.version == localTimestamp.get().version) {
        timestamp = localTimestamp.get();
        if (Arrays.equals(bytes, timestamp.bytes) && found.etag().isPresent() && !found.etag().equals(etag)) {
          changes.add(Change.write(TrustedStore.ETAG, TrustedStore.etagRecord(bytes, found.etag().get())));
        }
      } else {
        // TUF 5.4.3.2: the snapshot version it lists must not go back either.
        if (localTimestamp.isPresent()) {
          long trustedSnapshot = localTimestamp.get().meta().get(Role.SNAPSHOT.fileName()).version();
          long listed = candidate.meta().get(Role.SNAPSHOT.fileName()).version();
          if (listed < trustedSnapshot) {
            throw new RollbackException(file, "snapshot.json as listed in timestamp.json", "5.4.3.2",
                trustedSnapshot, listed);
          }
        }
        timestamp = candidate;
        updated = true;
        // TUF 5.4.5: persist as timestamp.json (applied at commit, with the entity tag of these bytes).
        changes.add(Change.write(TrustedStore.TIMESTAMP, bytes));
        changes.add(found.etag().map(tag -> Change.write(TrustedStore.ETAG, TrustedStore.etagRecord(bytes, tag)))
            .orElse(Change.delete(TrustedStore.ETAG)));
      }
    }
    // TUF 5.4.4: the timestamp must not have expired (freeze attack).
    if (timestamp.expiredAt(now)) {
      throw new ExpiredException(file, Role.TIMESTAMP, "5.4.4", timestamp.expires, now);
    }
  }

  private void updateSnapshot() throws FeedVerificationException, IOException {
    MetaFile listed = timestamp.meta().get(Role.SNAPSHOT.fileName());
    if (localSnapshot.isPresent() && matches(localSnapshot.get(), listed)) {
      // Nothing new: the trusted snapshot is exactly the one the timestamp lists (5.5.2-5.5.4 hold).
      snapshot = localSnapshot.get();
    } else {
      // TUF 5.5.1: download N.snapshot.json (or snapshot.json without consistent snapshots), up to the
      // length the timestamp lists or else the snapshot cap.
      String file = consistentSnapshot ? listed.version() + ".snapshot.json" : "snapshot.json";
      byte[] bytes = fetchListed(file, listed.length(), limits.snapshotBytes(), "timestamp.json", "5.5.1");
      // TUF 5.5.2: hashes as listed in the timestamp, checked before signatures.
      if (!listed.hashes().isEmpty()) {
        Hashes.verify(file, "timestamp.json", "5.5.2", listed.hashes(), bytes);
      }
      Metadata candidate = Metadata.parse(file, bytes, Role.SNAPSHOT);
      // TUF 5.5.3: signed by a threshold of the trusted root's snapshot keys.
      requireThreshold(candidate, root, "the trusted root", Role.SNAPSHOT, "5.5.3");
      // TUF 5.5.4: the version must be the one the timestamp lists (mix-and-match).
      if (candidate.version != listed.version()) {
        throw new MixAndMatchException(file, "timestamp.json", "5.5.4", listed.version(), candidate.version);
      }
      // TUF 5.5.5: every targets metadata file of the trusted snapshot is still listed, at no lower version.
      if (localSnapshot.isPresent()) {
        for (Map.Entry<String, MetaFile> trusted : localSnapshot.get().meta().entrySet()) {
          MetaFile now = candidate.meta().get(trusted.getKey());
          if (now == null) {
            throw new MetaFileRemovedException(file, trusted.getKey());
          }
          if (now.version() < trusted.getValue().version()) {
            throw new RollbackException(file, trusted.getKey() + " as listed in snapshot.json", "5.5.5",
                trusted.getValue().version(), now.version());
          }
        }
      }
      snapshot = candidate;
      updated = true;
      // TUF 5.5.7: persist as snapshot.json (applied at commit).
      changes.add(Change.write(TrustedStore.SNAPSHOT, bytes));
    }
    // TUF 5.5.6: the snapshot must not have expired (freeze attack).
    if (snapshot.expiredAt(now)) {
      throw new ExpiredException(snapshot.file, Role.SNAPSHOT, "5.5.6", snapshot.expires, now);
    }
  }

  private void updateTargets() throws FeedVerificationException, IOException {
    MetaFile listed = snapshot.meta().get(Role.TARGETS.fileName());
    if (listed == null) {
      throw new MalformedMetadataException(snapshot.file, "signed.meta: expected an entry for targets.json but found"
          + " none (TUF 5.6.1)");
    }
    if (localTargets.isPresent() && matches(localTargets.get(), listed)) {
      targets = localTargets.get();
    } else {
      // TUF 5.6.1: download N.targets.json (or targets.json), up to the listed length or the targets cap.
      String file = consistentSnapshot ? listed.version() + ".targets.json" : "targets.json";
      byte[] bytes = fetchListed(file, listed.length(), limits.targetsBytes(), "snapshot.json", "5.6.1");
      // TUF 5.6.2: hashes as listed in the snapshot, checked before signatures.
      if (!listed.hashes().isEmpty()) {
        Hashes.verify(file, "snapshot.json", "5.6.2", listed.hashes(), bytes);
      }
      Metadata candidate = Metadata.parse(file, bytes, Role.TARGETS);
      // TUF 5.6.3: signed by a threshold of the trusted root's targets keys.
      requireThreshold(candidate, root, "the trusted root", Role.TARGETS, "5.6.3");
      // TUF 5.6.4: the version must be the one the snapshot lists (mix-and-match).
      if (candidate.version != listed.version()) {
        throw new MixAndMatchException(file, "snapshot.json", "5.6.4", listed.version(), candidate.version);
      }
      targets = candidate;
      updated = true;
      // TUF 5.6.6: persist as targets.json (applied at commit).
      changes.add(Change.write(TrustedStore.TARGETS, bytes));
    }
    // TUF 5.6.5: the targets metadata must not have expired (freeze attack).
    if (targets.expiredAt(now)) {
      throw new ExpiredException(targets.file, Role.TARGETS, "5.6.5", targets.expires, now);
    }
  }

  /** Whether trusted metadata is exactly the file that the referring metadata lists. */
  private static boolean matches(Metadata local, MetaFile listed) {
    if (local.version != listed.version()) {
      return false;
    }
    if (listed.length().isPresent() && listed.length().getAsLong() < local.bytes.length) {
      return false;
    }
    try {
      if (!listed.hashes().isEmpty()) {
        Hashes.verify(local.file, "", "", listed.hashes(), local.bytes);
      }
      return true;
    } catch (FeedVerificationException e) {
      return false;
    }
  }

  /**
   * TUF 5.7: downloads one target listed in the trusted targets metadata, to exactly its listed length,
   * and checks its hashes. A verified copy in the store's target cache is reused.
   */
  static byte[] downloadTarget(TrustedStore store, boolean cache, Fetcher fetcher, Limits limits, Metadata targets,
      boolean consistentSnapshot, String name) throws FeedVerificationException, IOException {
    // TUF 5.7.1-5.7.2: the target must be listed in the trusted targets metadata.
    TargetFile target = targets.targets().get(name);
    if (target == null) {
      throw new UnknownTargetException(targets.file, name);
    }
    String hashAlgorithm = Hashes.preferred(target.hashes()).orElseThrow(() -> new MalformedMetadataException(
        targets.file, "signed.targets." + name + ".hashes: expected a sha256 or sha512 hash but found only "
        + target.hashes().keySet()));
    int slash = name.lastIndexOf('/');
    // TUF 5.7.3: with consistent snapshots the file is HASH.FILENAME, the hash prefixing the last segment.
    String path = "targets/" + (consistentSnapshot
        ? name.substring(0, slash + 1) + target.hashes().get(hashAlgorithm) + "." + name.substring(slash + 1)
        : name);
    if (target.length() > limits.targetFileBytes()) {
      throw new OversizedException(path, "5.7.3", limits.targetFileBytes());
    }
    if (cache) {
      Optional<byte[]> copy = cachedTarget(store, name, target);
      if (copy.isPresent()) {
        return copy.get();
      }
    }
    byte[] bytes = fetchListed(fetcher, path, OptionalLong.of(target.length()), limits.targetFileBytes(),
        targets.file, "5.7.3", true);
    // TUF 5.7.3: the hashes must match the targets metadata.
    Hashes.verify(path, targets.file, "5.7.3", target.hashes(), bytes);
    // TUF 5.7.3: write the file as FILENAME. It is a cache that is verified against the trusted targets
    // metadata on every read, so a torn write only costs a new download: no temporary file, no fsync.
    if (cache) {
      java.nio.file.Path cached = store.cachedTarget(name);
      AtomicFiles.ensureDirectory(cached.getParent());
      Files.write(cached, bytes);
    }
    return bytes;
  }

  /**
   * The store's cached copy of a target, if it has exactly the listed length and hashes; a missing,
   * stale or damaged copy is empty (it is simply fetched again).
   */
  static Optional<byte[]> cachedTarget(TrustedStore store, String name, TargetFile target) throws IOException {
    java.nio.file.Path cached = store.cachedTarget(name);
    if (!Files.isRegularFile(cached) || Files.size(cached) != target.length()) {
      return Optional.empty();
    }
    byte[] bytes = Files.readAllBytes(cached);
    try {
      Hashes.verify(cached.toString(), "targets.json", "5.7.3", target.hashes(), bytes);
      return Optional.of(bytes);
    } catch (FeedVerificationException stale) {
      return Optional.empty();
    }
  }

  private Optional<byte[]> fetchUnknownLength(String file, long cap, String step, boolean absentIsEnd)
      throws FeedVerificationException, IOException {
    Response response = fetcher.fetch(file, Optional.empty());
    if (response instanceof Found found) {
      return Optional.of(readCapped(file, found, cap, step));
    }
    if (absentIsEnd) {
      return Optional.empty();
    }
    throw new MissingFileException(file, step);
  }

  private static byte[] readCapped(String file, Found found, long cap, String step)
      throws OversizedException, IOException {
    try (found) {
      byte[] bytes = Bounded.read(found.body(), cap);
      if (bytes.length > cap) {
        throw new OversizedException(file, step, cap);
      }
      return bytes;
    }
  }

  private byte[] fetchListed(String file, OptionalLong length, long cap, String listedBy, String step)
      throws FeedVerificationException, IOException {
    return fetchListed(fetcher, file, length, cap, listedBy, step, false);
  }

  /**
   * Fetches a file whose length may be listed. For metadata (5.5.1, 5.6.1) the listed length is what the
   * specification makes it, the most to download: the hashes, when listed, pin the content. A target file
   * (5.7.3) must have exactly its listed length.
   */
  private static byte[] fetchListed(Fetcher fetcher, String file, OptionalLong length, long cap, String listedBy,
      String step, boolean exact) throws FeedVerificationException, IOException {
    if (length.isPresent() && length.getAsLong() > cap) {
      throw new OversizedException(file, step, cap);
    }
    Response response = fetcher.fetch(file, Optional.empty());
    if (!(response instanceof Found found)) {
      throw new MissingFileException(file, step);
    }
    if (length.isEmpty()) {
      return readCapped(file, found, cap, step);
    }
    long expected = length.getAsLong();
    try (found) {
      // Read one byte past the listed length: a longer file is rejected, never silently truncated.
      byte[] bytes = Bounded.read(found.body(), expected);
      if (bytes.length > expected || exact && bytes.length < expected) {
        throw new LengthMismatchException(file, listedBy, step, expected, bytes.length, bytes.length > expected);
      }
      return bytes;
    }
  }
}
