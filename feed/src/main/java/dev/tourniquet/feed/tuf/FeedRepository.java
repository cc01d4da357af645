package dev.tourniquet.feed.tuf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.feed.tuf.Metadata.RootInfo;
import dev.tourniquet.feed.tuf.Metadata.Sig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A publisher's feed repository: the TUF repository writer. It lives in one directory:
 *
 * <pre>
 *   repository.json          settings: metadata validity periods
 *   staged/root.json         the next root version, awaiting signatures (after init or a key change)
 *   staged/targets.json      the next targets version, awaiting signatures (after add, remove, renew)
 *   staged/targets/NAME      the content of targets added since the last publish
 *   published/               the feed: serve this directory as it is, from any web server or CDN
 *     N.root.json            every root version (clients walk the chain), and root.json, the latest
 *     N.targets.json         targets metadata (consistent snapshots)
 *     N.snapshot.json        snapshot metadata
 *     timestamp.json         timestamp metadata
 *     targets/DIR/HASH.NAME  target files under their consistent-snapshot names (sha256)
 * </pre>
 *
 * <p>The workflow: {@link #init} stages root version 1 and an empty targets version 1; {@link #addTarget}
 * and {@link #removeTarget} stage a new targets version; {@link #changeKeys} stages a new root version
 * (rotation); staged files are signed with the offline root and targets keys, here with {@link #sign} or
 * on other machines with {@link #signFile} and then {@link #merge}d; {@link #publish} checks the
 * thresholds, signs new snapshot and timestamp metadata with the online keys, verifies the result exactly
 * as an agent would (the client workflow from root version 1) and only then writes it; {@link
 * #refreshTimestamp} re-signs the timestamp so agents can tell a live feed from a frozen one.
 *
 * <p>Every file is written atomically. An operation that fails leaves the published feed as it was.
 */
public final class FeedRepository {
  private static final String SETTINGS = "repository.json";
  /** The file whose lock an operation that writes the repository holds ({@link #exclusive}). */
  private static final String LOCK = ".lock";
  private static final String SETTINGS_FORMAT = "tourniquet-repository/1";
  private static final Pattern ROOT_FILE = Pattern.compile("([1-9][0-9]{0,17})\\.root\\.json");
  private static final Pattern MITIGATION_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  private static final Pattern TARGETS_FILE = Pattern.compile("([1-9][0-9]{0,17})\\.targets\\.json");
  private static final String MITIGATIONS = "mitigations/";
  /**
   * The field of the signed targets metadata that remembers withdrawn mitigations: {@code {"M1": 3}} says that
   * a targets version published revision 3 of M1 before M1 was withdrawn (in a repository older than the field,
   * the first targets version staged starts it with the highest revision of every mitigation its published
   * history lists, withdrawn or not). Entries are never dropped. A withdrawal leaves nothing else
   * behind, and the revision of an id must never go back (agents that applied M1.3 must not be handed M1.1),
   * so the memory travels with the feed: it is signed with the targets, copied into every next targets version,
   * and any copy of the published repository carries it, not a file on one publisher's machine. TUF lets
   * metadata carry fields it does not define (section 4, "Document formats"); clients keep them and sign over them.
   */
  static final String WITHDRAWN = "x-tourniquet-withdrawn";

  /**
   * The keys of one role and how many of them must sign.
   *
   * @param keys the role's public keys
   * @param threshold how many distinct keys must sign, from 1 to the number of keys
   */
  public record KeySet(List<VerificationKey> keys, int threshold) {
    /**
     * Validates the key set.
     *
     * @throws IllegalArgumentException if there are no keys, a key is listed twice, or the threshold is
     *     out of range
     */
    public KeySet {
      keys = List.copyOf(keys);
      if (keys.isEmpty()) {
        throw new IllegalArgumentException("keys: expected at least one key but found none");
      }
      if (keys.stream().map(VerificationKey::keyId).distinct().count() != keys.size()) {
        throw new IllegalArgumentException("keys: expected distinct keys but found one key twice");
      }
      if (threshold < 1 || threshold > keys.size()) {
        throw new IllegalArgumentException("threshold: expected 1 to " + keys.size() + " but found " + threshold);
      }
    }
  }

  /**
   * How long newly signed metadata of each role stays valid.
   *
   * @param root root metadata (offline keys; default 365 days)
   * @param targets targets metadata (offline keys; default 90 days)
   * @param snapshot snapshot metadata (online key; default 30 days)
   * @param timestamp timestamp metadata (online key, re-signed on a schedule; default 1 day)
   */
  public record Validity(Duration root, Duration targets, Duration snapshot, Duration timestamp) {
    /**
     * Validates the periods.
     *
     * @throws IllegalArgumentException if a period is not positive
     */
    public Validity {
      for (Duration d : new Duration[] {root, targets, snapshot, timestamp}) {
        if (d == null || d.isZero() || d.isNegative()) {
          throw new IllegalArgumentException("validity: expected a positive duration but found " + d);
        }
      }
    }

    /**
     * The defaults: root 365 days, targets 90, snapshot 30, timestamp 1.
     *
     * @return the default validity
     */
    public static Validity defaults() {
      return new Validity(Duration.ofDays(365), Duration.ofDays(90), Duration.ofDays(30), Duration.ofDays(1));
    }

    Duration of(Role role) {
      return switch (role) {
        case ROOT -> root;
        case TARGETS -> targets;
        case SNAPSHOT -> snapshot;
        case TIMESTAMP -> timestamp;
      };
    }
  }

  /**
   * How far staged metadata is signed.
   *
   * @param role the staged role ({@code ROOT} or {@code TARGETS})
   * @param version the staged version
   * @param keysOf which root lists the keys counted, e.g. {@code "the published root (version 1)"}
   * @param valid valid signatures by distinct keys of that root's role
   * @param threshold signatures required
   * @param unpublishable why the staged version can never be published as it is, if so: it is not the version after
   *     the published one (another copy of the repository published since it was staged), and must be discarded; or
   *     staged targets break a rule that {@link #sign} checks, e.g. list a mitigation that has expired since it was
   *     added, and the message says how to mend them
   */
  public record SigningStatus(Role role, long version, String keysOf, int valid, int threshold,
      Optional<String> unpublishable) {
    /**
     * Tells whether the threshold is met.
     *
     * @return true if enough keys signed
     */
    public boolean complete() {
      return valid >= threshold;
    }
  }

  /** Per repository directory, the lock of this JVM's threads, taken before the file lock (see {@link #exclusive}). */
  private static final Map<Path, ReentrantLock> LOCAL_LOCKS = new ConcurrentHashMap<>();

  private final Path dir;
  private final Path published;
  private final Path staged;
  private final Clock clock;
  private final Validity validity;

  private FeedRepository(Path dir, Clock clock, Validity validity) {
    this.dir = dir.toAbsolutePath().normalize();
    this.published = this.dir.resolve("published");
    this.staged = this.dir.resolve("staged");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.validity = Objects.requireNonNull(validity, "validity");
  }

  /** Holds the repository for one operation; see {@link #exclusive()}. */
  private static final class Exclusive implements AutoCloseable {
    private final ReentrantLock local;
    private final FileChannel channel;

    Exclusive(ReentrantLock local, FileChannel channel) {
      this.local = local;
      this.channel = channel;
    }

    @Override
    public void close() throws IOException {
      try {
        if (channel != null) {
          channel.close(); // releases the file lock
        }
      } finally {
        local.unlock();
      }
    }
  }

  /**
   * Takes the repository for an operation that writes it, waiting for any other: another process's
   * {@code feed timestamp} from cron that read the published snapshot just before a {@code publish}
   * replaced it would otherwise write a timestamp listing the old snapshot after the new one, so agents
   * that had not yet checked would never see the new mitigation, and those that had would refuse every
   * later timestamp as a rollback. The lock is {@code .lock} in the repository (a file lock, held by the
   * JVM, so threads of one JVM first take a lock of their own); an operation that calls another takes it once.
   */
  private Exclusive exclusive() throws IOException {
    ReentrantLock local = LOCAL_LOCKS.computeIfAbsent(dir, d -> new ReentrantLock());
    local.lock();
    if (local.getHoldCount() > 1) {
      return new Exclusive(local, null);
    }
    FileChannel channel = null;
    try {
      channel = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      channel.lock();
      return new Exclusive(local, channel);
    } catch (IOException | RuntimeException e) {
      if (channel != null) {
        channel.close();
      }
      local.unlock();
      throw e;
    }
  }

  /**
   * Creates a repository: stages root version 1 with the given keys and an empty targets version 1.
   * Sign both ({@link #sign}) with a threshold of the root and targets keys, then {@link #publish}.
   *
   * @param dir the repository directory, created if missing; it must not hold a repository yet
   * @param keys the key set of each of the four roles
   * @param validity the validity periods, saved with the repository
   * @param clock the clock for expiry dates
   * @return the repository
   * @throws RepositoryStateException if the directory already holds a repository
   * @throws IllegalArgumentException if a role has no key set
   * @throws IOException if the directory cannot be written
   */
  public static FeedRepository init(Path dir, Map<Role, KeySet> keys, Validity validity, Clock clock)
      throws PublisherException, IOException {
    for (Role role : Role.values()) {
      if (!keys.containsKey(role)) {
        throw new IllegalArgumentException("keys: expected a key set for every role but found none for "
            + role.typeName());
      }
    }
    if (Files.exists(dir.resolve(SETTINGS))) {
      throw new RepositoryStateException(dir.toString(), "expected no repository but found " + SETTINGS);
    }
    FeedRepository repo = new FeedRepository(dir, clock, validity);
    ObjectNode settings = Json.object();
    settings.put("format", SETTINGS_FORMAT);
    ObjectNode periods = settings.putObject("validity");
    for (Role role : Role.values()) {
      periods.put(role.typeName(), validity.of(role).toString());
    }
    AtomicFiles.ensurePublicDirectory(repo.published, repo.published);
    AtomicFiles.write(repo.dir.resolve(SETTINGS), Json.writePretty(settings));
    Map<Role, List<VerificationKey>> roleKeys = new EnumMap<>(Role.class);
    Map<Role, Integer> thresholds = new EnumMap<>(Role.class);
    keys.forEach((role, set) -> {
      roleKeys.put(role, set.keys());
      thresholds.put(role, set.threshold());
    });
    Instant now = clock.instant();
    repo.writeStaged(Role.ROOT,
        Envelopes.envelope(Envelopes.root(1, now.plus(validity.root()), roleKeys, thresholds)));
    ObjectNode targets = Envelopes.signedBase(Role.TARGETS, 1, now.plus(validity.targets()));
    targets.putObject("targets");
    repo.writeStaged(Role.TARGETS, Envelopes.envelope(targets));
    return repo;
  }

  /**
   * Opens an existing repository with its saved validity periods.
   *
   * @param dir the repository directory
   * @param clock the clock for expiry dates and checks
   * @return the repository
   * @throws RepositoryStateException if the directory holds no repository
   * @throws IOException if it cannot be read
   */
  public static FeedRepository open(Path dir, Clock clock) throws PublisherException, IOException {
    Path settingsFile = dir.resolve(SETTINGS);
    if (!Files.isRegularFile(settingsFile)) {
      throw new RepositoryStateException(dir.toString(), "expected a feed repository (" + SETTINGS
          + ") but found none; create one with init");
    }
    try {
      ObjectNode settings = Json.parseObject(SETTINGS, Files.readAllBytes(settingsFile));
      if (!SETTINGS_FORMAT.equals(settings.path("format").asText())) {
        throw new RepositoryStateException(settingsFile.toString(), "expected format " + SETTINGS_FORMAT
            + " but found " + settings.path("format"));
      }
      JsonNode periods = settings.path("validity");
      Validity validity = new Validity(Duration.parse(periods.path("root").asText()),
          Duration.parse(periods.path("targets").asText()), Duration.parse(periods.path("snapshot").asText()),
          Duration.parse(periods.path("timestamp").asText()));
      return new FeedRepository(dir, clock, validity);
    } catch (MalformedMetadataException | DateTimeParseException | IllegalArgumentException e) {
      throw new RepositoryStateException(settingsFile.toString(), "expected repository settings but found "
          + e.getMessage());
    }
  }

  /**
   * Returns a view of this repository that signs with other validity periods, e.g. a timestamp valid
   * for a week before carrying a bundle to an air-gapped site.
   *
   * @param other the validity periods
   * @return the view
   */
  public FeedRepository withValidity(Validity other) {
    return new FeedRepository(dir, clock, other);
  }

  /**
   * Returns the validity periods this repository signs with.
   *
   * @return the validity periods
   */
  public Validity validity() {
    return validity;
  }

  /**
   * Returns the directory to serve: the published feed.
   *
   * @return the published directory
   */
  public Path publishedDirectory() {
    return published;
  }

  /**
   * Returns where the staged metadata of a role is, to carry to another machine for signing.
   *
   * @param role {@code ROOT} or {@code TARGETS}
   * @return the staged file (it may not exist)
   */
  public Path stagedFile(Role role) {
    return staged.resolve(role.fileName());
  }

  /**
   * Returns the target path of a mitigation: {@code mitigations/<id>.json}.
   *
   * @param id the mitigation id, e.g. {@code M1} or {@code TQ-2026-0001}
   * @return the target path
   * @throws IllegalArgumentException if the id is not 1 to 64 letters, digits, {@code .}, {@code _} or
   *     {@code -} starting with a letter or digit
   */
  public static String mitigationTarget(String id) {
    if (!MITIGATION_ID.matcher(id).matches()) {
      throw new IllegalArgumentException("mitigation id: expected 1 to 64 of [A-Za-z0-9._-] starting with a letter"
          + " or digit but found \"" + id + "\"");
    }
    return "mitigations/" + id + ".json";
  }

  /**
   * Adds a target, or revises it if one of that name exists, in a new staged targets version. Any
   * signatures on the staged targets metadata are dropped: they signed other content. A mitigation's revision
   * never goes back, an expired one is not signed, and its id may not differ from another only in case (see
   * {@link #addTargets}).
   *
   * @param name the target path, e.g. from {@link #mitigationTarget(String)}
   * @param content the file's bytes
   * @throws IllegalArgumentException if the name is not a safe relative path
   * @throws IdCaseConflictException if the mitigation's id differs from one of the feed only in case
   * @throws ExpiredMitigationException if the content is a mitigation document that has expired
   * @throws RevisionRollbackException if the content is a mitigation document whose revision goes back
   * @throws RepositoryStateException if the repository has no targets metadata to start from, or the staged
   *     targets metadata was overtaken by another copy's publish
   * @throws IOException if files cannot be read or written
   */
  public void addTarget(String name, byte[] content) throws PublisherException, IOException {
    addTargets(Map.of(name, content));
  }

  /**
   * Adds or revises several targets in one new staged targets version, all of them or none.
   *
   * <p>A mitigation's revision never goes back: agents may have applied any revision the feed ever published,
   * withdrawn since or not, and refuse a lower one. So a mitigation document ({@code mitigations/<id>.json}) must
   * carry a revision above {@link #lastPublishedRevision} of its id; one staged since the last publish was seen by
   * no agent and may be replaced by a document of at least its revision. The rule is checked here, for every
   * caller, and not only by {@code tourniquet feed add}. It reads the document's {@code revision} alone, as agents
   * do; a target elsewhere than {@code mitigations/}, or a document without a whole-number revision from 1, is no
   * mitigation an agent applies (agents refuse it as invalid) and is staged as given: validating documents is
   * {@code MitigationParser}'s job, which {@code feed add} runs first.
   *
   * <p>Two more rules hold for every caller. A mitigation document whose {@code expires} (read alone, as the
   * revision is) is not after the repository clock's now is refused: agents would only skip it, so it is an old
   * document added by mistake. And a target {@code mitigations/<id>.json} whose id differs only in case from
   * another id of the feed (listed, published, withdrawn, or added alongside) is refused whatever its content: on a
   * file system that ignores case the two would be one file.
   *
   * <p>When the targets break more than one rule, the exception of the first rule broken, in the order id, expiry,
   * revision, is thrown, and the others are attached to it as {@linkplain Throwable#getSuppressed() suppressed}
   * exceptions: every problem of a batch can be reported at once.
   *
   * @param contents the files' bytes by target path
   * @throws IllegalArgumentException if a name is not a safe relative path
   * @throws IdCaseConflictException if a mitigation's id differs from another of the feed only in case; it lists
   *     every one
   * @throws ExpiredMitigationException if a mitigation document has expired; it lists every one
   * @throws RevisionRollbackException if the revision of a mitigation document goes back; it lists every one
   * @throws RepositoryStateException if the repository has no targets metadata to start from, the staged targets
   *     metadata was overtaken by another copy's publish, or the published or staged content of a mitigation to
   *     compare with is missing or differs from its listing
   * @throws IOException if files cannot be read or written
   */
  public void addTargets(Map<String, byte[]> contents) throws PublisherException, IOException {
    try (Exclusive held = exclusive()) {
      ObjectNode envelope = stageChecked(contents);
      ObjectNode targets = ((ObjectNode) envelope.get("signed")).withObjectProperty("targets");
      for (Map.Entry<String, byte[]> entry : new TreeMap<>(contents).entrySet()) {
        targets.set(entry.getKey(), Envelopes.targetEntry(entry.getValue()));
        AtomicFiles.write(staged.resolve("targets").resolve(entry.getKey()), entry.getValue());
      }
      writeStaged(Role.TARGETS, envelope);
    }
  }

  /**
   * Checks targets as {@link #addTargets} would, and stages nothing: to report every problem of a set of documents
   * at once before adding them. {@link #addTargets} checks again.
   *
   * @param contents the files' bytes by target path
   * @throws IllegalArgumentException if a name is not a safe relative path
   * @throws IdCaseConflictException as {@link #addTargets} would
   * @throws ExpiredMitigationException as {@link #addTargets} would
   * @throws RevisionRollbackException as {@link #addTargets} would
   * @throws RepositoryStateException as {@link #addTargets} would
   * @throws IOException if files cannot be read
   */
  public void checkTargets(Map<String, byte[]> contents) throws PublisherException, IOException {
    try (Exclusive held = exclusive()) {
      stageChecked(contents);
    }
  }

  /** The next staged targets envelope, once the targets to add pass every check; nothing is written. */
  private ObjectNode stageChecked(Map<String, byte[]> contents) throws PublisherException, IOException {
    contents.keySet().forEach(FeedRepository::requireSafeName);
    // A staged version another copy's publish overtook is refused first: no revision compares with it.
    ObjectNode envelope = stageTargets();
    if (contents.keySet().stream().noneMatch(name -> mitigationIdOf(name) != null)) {
      return envelope;
    }
    Published current = load(); // read once for all the documents: a batch may hold thousands
    Optional<Metadata> stagedTargets = readStaged(Role.TARGETS);
    Map<String, Integer> withdrawn = withdrawnMemory(current, stagedTargets);
    Map<String, String> otherIds = new TreeMap<>();
    for (Optional<Metadata> listing : List.of(stagedTargets, current.targets)) {
      listing.ifPresent(t -> t.targets().keySet().forEach(name -> feedHas(otherIds, name)));
    }
    withdrawn.forEach((id, revision) -> otherIds.putIfAbsent(id, feedHad(id, revision)));
    contents.keySet().forEach(name -> {
      String id = mitigationIdOf(name);
      if (id != null) {
        otherIds.putIfAbsent(id, "the same addition has \"" + id + "\"");
      }
    });
    List<PublisherException> refused = new ArrayList<>();
    List<IdCaseConflictException.Refusal> ids = idCaseRefusals(new TreeSet<>(contents.keySet()), otherIds);
    if (!ids.isEmpty()) {
      refused.add(new IdCaseConflictException(ids, "nothing staged: give each mitigation an id of its own, or the"
          + " feed's spelling of it, and add again"));
    }
    List<ExpiredMitigationException.Refusal> expired = expiredRefusals(contents);
    if (!expired.isEmpty()) {
      refused.add(new ExpiredMitigationException(expired));
    }
    List<RevisionRollbackException.Refusal> revisions = revisionRefusals(contents, current, stagedTargets, withdrawn);
    if (!revisions.isEmpty()) {
      refused.add(new RevisionRollbackException(revisions));
    }
    throwFirst(refused);
    return envelope;
  }

  /**
   * Throws the first refusal with the others attached as suppressed exceptions, so that a caller can report every
   * problem at once; does nothing when there is none.
   */
  private static void throwFirst(List<PublisherException> refused) throws PublisherException {
    if (refused.isEmpty()) {
      return;
    }
    PublisherException first = refused.get(0);
    refused.subList(1, refused.size()).forEach(first::addSuppressed);
    throw first;
  }

  /** Records the id of a listed target as one the feed has. */
  private static void feedHas(Map<String, String> otherIds, String name) {
    String id = mitigationIdOf(name);
    if (id != null) {
      otherIds.put(id, "the feed has \"" + id + "\"");
    }
  }

  private static String feedHad(String id, int revision) {
    return "the feed had \"" + id + "\" (withdrawn at " + id + "." + revision + ")";
  }

  /**
   * One refusal per target named {@code mitigations/<id>.json} and other id that differs from its id only in case.
   * A feed holds each mitigation as a file named after its id; on a file system that ignores case (an agent's cache
   * on Windows or macOS, a mirror, an unpacked bundle) {@code M1.json} and {@code m1.json} are one file, and one of
   * the two mitigations would silently replace the other. Withdrawn ids count too: ids are never freed.
   *
   * @param names the targets to check, in order
   * @param otherIds every other id of the feed, with where it is ({@code the feed has "M1"})
   */
  private static List<IdCaseConflictException.Refusal> idCaseRefusals(Collection<String> names,
      Map<String, String> otherIds) {
    List<IdCaseConflictException.Refusal> refusals = new ArrayList<>();
    for (String name : names) {
      String id = mitigationIdOf(name);
      if (id == null) {
        continue;
      }
      otherIds.forEach((other, where) -> {
        if (!other.equals(id) && other.equalsIgnoreCase(id)) {
          refusals.add(new IdCaseConflictException.Refusal(name, id, other, "expected an id that differs from every"
              + " other in the feed, ignoring case, but found \"" + id + "\" where " + where));
        }
      });
    }
    return refusals;
  }

  /**
   * One refusal per mitigation document that has expired at the clock's now: agents skip such a mitigation (and
   * remove it where they applied it), so signing it would cut off nothing. Its {@code expires} is read alone, as its
   * revision is; a document without a readable one is staged as given.
   */
  private List<ExpiredMitigationException.Refusal> expiredRefusals(Map<String, byte[]> contents) {
    Instant now = clock.instant();
    List<ExpiredMitigationException.Refusal> refusals = new ArrayList<>();
    for (Map.Entry<String, byte[]> entry : new TreeMap<>(contents).entrySet()) {
      if (mitigationIdOf(entry.getKey()) == null) {
        continue;
      }
      expiresOf(entry.getValue()).filter(expires -> !now.isBefore(expires)).ifPresent(expires -> refusals.add(
          new ExpiredMitigationException.Refusal(entry.getKey(), expires, now,
              "expected an instant after now (" + now + ") but found " + expires)));
    }
    return refusals;
  }

  /**
   * The publisher's revision rule (see {@link #addTargets}): one refusal per mitigation document whose revision
   * goes back, in target order.
   */
  private List<RevisionRollbackException.Refusal> revisionRefusals(Map<String, byte[]> contents, Published current,
      Optional<Metadata> stagedTargets, Map<String, Integer> withdrawn) throws PublisherException, IOException {
    List<RevisionRollbackException.Refusal> refusals = new ArrayList<>();
    for (Map.Entry<String, byte[]> entry : new TreeMap<>(contents).entrySet()) {
      String name = entry.getKey();
      String id = mitigationIdOf(name);
      OptionalInt found = id == null ? OptionalInt.empty() : revisionOf(Optional.of(entry.getValue()));
      if (found.isEmpty()) {
        continue;
      }
      int revision = found.getAsInt();
      Optional<byte[]> publishedDocument = readPublishedTarget(current, name);
      Optional<RevisionRollbackException.Refusal> rollback = rollback(name, id, revision, publishedDocument.isPresent(),
          revisionOf(publishedDocument), withdrawn);
      if (rollback.isPresent()) {
        refusals.add(rollback.get());
        continue;
      }
      // A revision staged since the last publish was never seen by an agent: it may be replaced by one of the same
      // revision (a mended document), but not by a lower one, which would undo the publisher's own raise.
      TargetFile stagedTarget = stagedTargets.map(t -> t.targets().get(name)).orElse(null);
      OptionalInt staged = stagedTarget == null ? OptionalInt.empty()
          : revisionOf(Optional.of(targetContent(stagedTarget)));
      if (staged.isPresent() && revision < staged.getAsInt()) {
        refusals.add(new RevisionRollbackException.Refusal(name, revision, staged.getAsInt(),
            "expected a revision of at least " + staged.getAsInt() + " (staged as " + id + "." + staged.getAsInt()
                + ") but found " + revision));
      }
    }
    return refusals;
  }

  /**
   * The refusal of a revision that is not above the highest the feed published of its id, if it is not.
   *
   * @param listed whether the published targets list the mitigation
   * @param published the revision of the published document, if readable
   * @param withdrawn the remembered revisions of withdrawn mitigations
   */
  private static Optional<RevisionRollbackException.Refusal> rollback(String name, String id, int revision,
      boolean listed, OptionalInt published, Map<String, Integer> withdrawn) {
    int last = Math.max(published.orElse(0), withdrawn.getOrDefault(id, 0));
    if (revision > last) {
      return Optional.empty();
    }
    String lastId = id + "." + last;
    String why = !listed ? "the feed published " + lastId + " before " + id + " was withdrawn"
        : published.isEmpty() ? "the feed published " + lastId + " before"
        : published.getAsInt() == last ? "the feed publishes " + lastId
        : "the feed published " + lastId + " before, and publishes " + id + "." + published.getAsInt() + " now";
    return Optional.of(new RevisionRollbackException.Refusal(name, revision, last + 1,
        "expected a revision above " + last + " (" + why + ") but found " + revision));
  }

  /**
   * Withdraws a target in a new staged targets version. Withdrawing a mitigation the feed publishes records
   * its published revision in the signed targets metadata ({@value #WITHDRAWN}), so that it can only come back
   * above it ({@link #lastPublishedRevision}).
   *
   * @param name the target path
   * @throws RepositoryStateException if no such target is listed
   * @throws IOException if files cannot be read or written
   */
  public void removeTarget(String name) throws PublisherException, IOException {
    try (Exclusive held = exclusive()) {
      requireSafeName(name);
      ObjectNode envelope = stageTargets();
      ObjectNode targets = ((ObjectNode) envelope.get("signed")).withObjectProperty("targets");
      if (!targets.has(name)) {
        throw new RepositoryStateException("targets.json", "expected a target named \"" + name + "\" but found only "
            + targets.size() + " others");
      }
      String id = mitigationIdOf(name);
      if (id != null) {
        // Only what agents may have applied counts: the published revision, not one staged since. A published
        // file that is damaged must not stop a withdrawal (it may be why): what it said is then not known.
        OptionalInt published;
        try {
          published = revisionOf(readPublishedTarget(name));
        } catch (RepositoryStateException e) {
          published = OptionalInt.empty();
        }
        if (published.isPresent()) {
          ObjectNode withdrawn = ((ObjectNode) envelope.get("signed")).withObjectProperty(WITHDRAWN);
          withdrawn.put(id, Math.max(published.getAsInt(), withdrawn.path(id).asInt(0)));
        }
      }
      targets.remove(name);
      Files.deleteIfExists(staged.resolve("targets").resolve(name));
      writeStaged(Role.TARGETS, envelope);
    }
  }

  /**
   * Lists the targets as they will be after the next publish (staged if staged, else published).
   *
   * @return the targets by name
   * @throws RepositoryStateException if there is no targets metadata
   * @throws IOException if files cannot be read
   */
  public Map<String, TargetFile> targets() throws PublisherException, IOException {
    Optional<Metadata> stagedTargets = readStaged(Role.TARGETS);
    if (stagedTargets.isPresent()) {
      return stagedTargets.get().targets();
    }
    return load().targets.orElseThrow(() -> new RepositoryStateException("targets.json",
        "expected published or staged targets metadata but found none")).targets();
  }

  /**
   * Reads the content of a target as it will be after the next publish (the staged content if it was
   * added since, else the published file), checked against the length and sha256 listed for it.
   *
   * @param name the target path, e.g. {@code mitigations/M1.json}
   * @return the content, or empty if no such target is listed
   * @throws RepositoryStateException if the listed content is missing or differs from its listing
   * @throws IOException if files cannot be read
   */
  public Optional<byte[]> readTarget(String name) throws PublisherException, IOException {
    TargetFile target = targets().get(name);
    return target == null ? Optional.empty() : Optional.of(targetContent(target));
  }

  /**
   * Reads the content of a target as agents see it now: listed in the published targets metadata, read from
   * the published directory and checked against its length and sha256. Staged changes are ignored.
   *
   * @param name the target path, e.g. {@code mitigations/M1.json}
   * @return the content, or empty if the published feed lists no such target (or nothing is published)
   * @throws RepositoryStateException if the published file is missing or differs from its listing
   * @throws IOException if files cannot be read
   */
  public Optional<byte[]> readPublishedTarget(String name) throws PublisherException, IOException {
    return readPublishedTarget(load(), name);
  }

  private Optional<byte[]> readPublishedTarget(Published current, String name) throws PublisherException, IOException {
    Optional<Metadata> targets = current.targets;
    if (targets.isEmpty() || !targets.get().targets().containsKey(name)) {
      return Optional.empty();
    }
    TargetFile target = targets.get().targets().get(name);
    Path file = published.resolve(targetPath(target));
    byte[] bytes = Files.isRegularFile(file) ? Files.readAllBytes(file) : new byte[0];
    if (bytes.length != target.length() || !Hashes.hex(Hashes.SHA256, bytes).equals(target.hashes().get(Hashes.SHA256))) {
      throw new RepositoryStateException(targetPath(target), "expected the published content with sha256 "
          + target.hashes().get(Hashes.SHA256) + " but found " + (Files.isRegularFile(file) ? "other content" : "no file"));
    }
    return Optional.of(bytes);
  }

  /**
   * Returns the highest revision of a mitigation that the feed has ever published: the revision it publishes
   * now, or the last one published before the mitigation was withdrawn (remembered in the signed targets
   * metadata, {@value #WITHDRAWN}). A document of that id must go above it, whether it revises the mitigation or
   * brings a withdrawn one back: agents may have applied it. A repository whose targets metadata predates that
   * memory has it read from the targets versions still in its published directory (each with its mitigation
   * files; one that is missing or unreadable tells nothing), and writes it into the next targets version staged.
   *
   * @param id the mitigation id
   * @return the highest revision published, or empty if no published targets version listed the id
   * @throws IllegalArgumentException if the id is not a mitigation id ({@link #mitigationTarget})
   * @throws RepositoryStateException if the published content of the mitigation is missing or differs from its
   *     listing, or the remembered revisions are malformed
   * @throws IOException if files cannot be read
   */
  public OptionalInt lastPublishedRevision(String id) throws PublisherException, IOException {
    String name = mitigationTarget(id);
    Published current = load();
    int highest = Math.max(revisionOf(readPublishedTarget(current, name)).orElse(0),
        withdrawnMemory(current, readStaged(Role.TARGETS)).getOrDefault(id, 0));
    return highest == 0 ? OptionalInt.empty() : OptionalInt.of(highest);
  }

  /** The remembered revisions of withdrawn mitigations, from the staged targets metadata if any, else the published. */
  private Map<String, Integer> withdrawnMemory(Published current, Optional<Metadata> stagedTargets)
      throws PublisherException, IOException {
    Optional<Metadata> next = stagedTargets.isPresent() ? stagedTargets : current.targets;
    return next.isPresent() ? withdrawn(next.get()) : Map.of();
  }

  /** The remembered revisions of withdrawn mitigations, or for older metadata, what the published history says. */
  private Map<String, Integer> withdrawn(Metadata targets) throws PublisherException, IOException {
    JsonNode node = targets.tree.path("signed").get(WITHDRAWN);
    if (node == null) {
      return publishedHistory();
    }
    if (!node.isObject()) {
      throw new RepositoryStateException(targets.file, "signed." + WITHDRAWN + ": expected an object of mitigation"
          + " ids and revisions but found " + Json.kind(node));
    }
    Map<String, Integer> revisions = new TreeMap<>();
    for (Map.Entry<String, JsonNode> entry : node.properties()) {
      JsonNode revision = entry.getValue();
      if (!revision.canConvertToInt() || !revision.isIntegralNumber() || revision.intValue() < 1) {
        throw new RepositoryStateException(targets.file, "signed." + WITHDRAWN + "." + entry.getKey()
            + ": expected a revision of at least 1 but found " + revision);
      }
      revisions.put(entry.getKey(), revision.intValue());
    }
    return revisions;
  }

  /**
   * The highest revision of every mitigation listed by any targets version in the published directory, read
   * from its published file: the memory of a repository whose targets metadata is older than {@value #WITHDRAWN}.
   * Best effort: a targets version or a mitigation file that is gone or unreadable is skipped.
   */
  private Map<String, Integer> publishedHistory() throws IOException {
    Map<String, Integer> revisions = new TreeMap<>();
    if (!Files.isDirectory(published)) {
      return revisions;
    }
    List<Path> files;
    try (Stream<Path> list = Files.list(published)) {
      files = list.filter(p -> TARGETS_FILE.matcher(p.getFileName().toString()).matches()).sorted().toList();
    }
    Set<Path> read = new HashSet<>();
    for (Path file : files) {
      Map<String, TargetFile> listed;
      try {
        listed = Metadata.parse(file.getFileName().toString(), Files.readAllBytes(file), Role.TARGETS).targets();
      } catch (MalformedMetadataException | IOException e) {
        continue;
      }
      for (TargetFile target : listed.values()) {
        String id = mitigationIdOf(target.name());
        Path content = published.resolve(targetPath(target));
        if (id == null || !read.add(content) || !Files.isRegularFile(content)) {
          continue;
        }
        byte[] bytes = Files.readAllBytes(content);
        if (bytes.length == target.length()
            && Hashes.hex(Hashes.SHA256, bytes).equals(target.hashes().get(Hashes.SHA256))) {
          revisionOf(Optional.of(bytes)).ifPresent(r -> revisions.merge(id, r, Math::max));
        }
      }
    }
    return revisions;
  }

  /** The id of a target named {@code mitigations/<id>.json}, or null for another target. */
  private static String mitigationIdOf(String name) {
    if (!name.startsWith(MITIGATIONS) || !name.endsWith(".json")) {
      return null;
    }
    String id = name.substring(MITIGATIONS.length(), name.length() - ".json".length());
    return MITIGATION_ID.matcher(id).matches() ? id : null;
  }

  /**
   * The {@code revision} of a mitigation document, read alone: a document this version no longer validates
   * still had a revision that agents may have applied.
   */
  private static OptionalInt revisionOf(Optional<byte[]> document) {
    if (document.isEmpty()) {
      return OptionalInt.empty();
    }
    try {
      JsonNode revision = Json.parseObject("mitigation", document.get()).get("revision");
      return revision != null && revision.isIntegralNumber() && revision.canConvertToInt() && revision.intValue() > 0
          ? OptionalInt.of(revision.intValue())
          : OptionalInt.empty();
    } catch (MalformedMetadataException e) {
      return OptionalInt.empty();
    }
  }

  /**
   * The {@code expires} of a mitigation document, read alone as {@link #revisionOf} reads the revision (and as
   * {@code MitigationParser} reads it: ISO-8601, with Z or an offset); empty when there is none to read.
   */
  private static Optional<Instant> expiresOf(byte[] document) {
    try {
      JsonNode expires = Json.parseObject("mitigation", document).get("expires");
      return expires != null && expires.isTextual() ? Optional.of(Instant.parse(expires.textValue())) : Optional.empty();
    } catch (MalformedMetadataException | DateTimeParseException e) {
      return Optional.empty();
    }
  }

  /**
   * The version and expiry of one role's published metadata.
   *
   * @param role the role
   * @param version its published version
   * @param expires when it expires
   */
  public record PublishedRole(Role role, long version, Instant expires) {}

  /**
   * Reports the published metadata of each role, in the order root, timestamp, snapshot, targets.
   *
   * @return the published roles; empty before the first publish
   * @throws RepositoryStateException if the published feed is incomplete or malformed
   * @throws IOException if files cannot be read
   */
  public List<PublishedRole> published() throws PublisherException, IOException {
    Published current = load();
    List<PublishedRole> roles = new ArrayList<>();
    for (Optional<Metadata> m : List.of(current.root, current.timestamp, current.snapshot, current.targets)) {
      m.ifPresent(meta -> roles.add(new PublishedRole(meta.role, meta.version, meta.expires)));
    }
    return roles;
  }

  /**
   * Stages a new version of root or targets metadata with the same content and a fresh expiry, to be
   * signed before the current one expires.
   *
   * @param role {@code ROOT} or {@code TARGETS}
   * @throws IllegalArgumentException for snapshot or timestamp, which {@link #publish} and
   *     {@link #refreshTimestamp} renew
   * @throws RepositoryStateException if there is nothing to renew
   * @throws IOException if files cannot be read or written
   */
  public void renew(Role role) throws PublisherException, IOException {
    try (Exclusive held = exclusive()) {
      requireOffline(role);
      writeStaged(role, role == Role.ROOT ? stageRoot() : stageTargets());
    }
  }

  /**
   * Rotates keys: stages a new root version in which {@code role} lists other keys or another threshold.
   * The new root must then be signed by a threshold of the published root's root keys <em>and</em> of
   * its own (TUF 5.3.4). When the targets keys change, stage and sign a targets renewal with the new
   * keys; when the snapshot or timestamp keys change, publish with the new keys.
   *
   * @param role the role whose keys change
   * @param add keys to add
   * @param removeKeyIds ids of keys to remove
   * @param threshold the new threshold, or empty to keep the current one
   * @throws IllegalArgumentException if a removed key is not listed or the result is not a valid key set
   * @throws RepositoryStateException if there is no root to start from
   * @throws IOException if files cannot be read or written
   */
  public void changeKeys(Role role, List<VerificationKey> add, Collection<String> removeKeyIds,
      OptionalInt threshold) throws PublisherException, IOException {
    try (Exclusive held = exclusive()) {
      ObjectNode envelope = stageRoot();
      ObjectNode signed = (ObjectNode) envelope.get("signed");
      ObjectNode roleNode = signed.withObjectProperty("roles").withObjectProperty(role.typeName());
      List<String> ids = new ArrayList<>();
      roleNode.withArray("keyids").forEach(id -> ids.add(id.asText()));
      for (String remove : removeKeyIds) {
        if (!ids.remove(remove)) {
          throw new IllegalArgumentException("remove: expected a key id listed for " + role.typeName() + " but found "
              + remove);
        }
      }
      ObjectNode keys = signed.withObjectProperty("keys");
      for (VerificationKey key : add) {
        if (ids.contains(key.keyId())) {
          throw new IllegalArgumentException("add: expected a key not yet listed for " + role.typeName()
              + " but found " + key.keyId());
        }
        ids.add(key.keyId());
        keys.set(key.keyId(), key.toJson());
      }
      int newThreshold = threshold.orElse(roleNode.path("threshold").asInt());
      if (add.isEmpty() && removeKeyIds.isEmpty() && newThreshold == roleNode.path("threshold").asInt()) {
        // A root version that changes nothing would still need the root keys' signatures before any publish.
        throw new IllegalArgumentException(role.typeName() + ": expected a key to add or remove or another threshold"
            + " but found none (threshold " + newThreshold + " of " + ids.size() + " keys, as now); nothing is staged");
      }
      if (ids.isEmpty() || newThreshold < 1 || newThreshold > ids.size()) {
        throw new IllegalArgumentException(role.typeName() + ": expected 1 to " + ids.size()
            + " required signatures of " + ids.size() + " keys but found a threshold of " + newThreshold);
      }
      ids.sort(Comparator.naturalOrder());
      ArrayNode idArray = roleNode.putArray("keyids");
      ids.forEach(idArray::add);
      roleNode.put("threshold", newThreshold);
      // Keys no role lists any more leave the root.
      Set<String> used = new HashSet<>();
      signed.withObjectProperty("roles").elements()
          .forEachRemaining(r -> r.path("keyids").forEach(id -> used.add(id.asText())));
      keys.retain(used);
      writeStaged(Role.ROOT, envelope);
    }
  }

  /**
   * Signs staged root or targets metadata with one key, replacing an earlier signature by that key.
   *
   * @param role {@code ROOT} or {@code TARGETS}
   * @param key the key
   * @throws KeyNotAuthorisedException if no relevant root lists the key for the role
   * @throws RepositoryStateException if nothing is staged for the role, or the staged version can never be
   *     published: another copy of the repository published since it was staged ({@link #discard} it), or staged
   *     targets metadata forgets a withdrawn revision (or the whole memory of them, which the published targets carry)
   * @throws IdCaseConflictException if staged targets metadata (edited by hand or another tool) newly lists an id
   *     that differs from another of the feed only in case
   * @throws RevisionRollbackException if staged targets metadata takes a published revision back
   * @throws ExpiredMitigationException if staged targets metadata lists a mitigation, staged since the last publish,
   *     whose {@code expires} has come (one the published feed lists unchanged is not refused: agents skip it already)
   * @throws IOException if files cannot be read or written
   */
  public void sign(Role role, SigningKey key) throws PublisherException, IOException {
    try (Exclusive held = exclusive()) {
      requireOffline(role);
      Metadata current = readStaged(role).orElseThrow(() -> nothingStaged(role));
      // A signature on a version that can never be published is an offline key holder's ceremony wasted.
      Published published = load();
      requireNext(current, published(published, role), role);
      if (role == Role.TARGETS) {
        throwFirst(stagedTargetsRefusals(published, current));
      }
      requireAuthorised(role, key.keyId());
      Envelopes.putSignature(current.tree, key.keyId(), key.signHex(current.canonicalSigned));
      writeStaged(role, current.tree);
    }
  }

  /**
   * Signs a copy of staged metadata away from the repository (an offline machine holding one root or
   * targets key). Bring the file back and {@link #merge} it.
   *
   * @param metadataFile the copy, rewritten in place with the signature added
   * @param key the key
   * @throws RepositoryStateException if the file is not TUF metadata
   * @throws IOException if the file cannot be read or written
   */
  public static void signFile(Path metadataFile, SigningKey key) throws PublisherException, IOException {
    byte[] bytes = Files.readAllBytes(metadataFile);
    ObjectNode tree;
    byte[] canonical;
    try {
      tree = Json.parseObject(metadataFile.toString(), bytes);
      JsonNode signed = tree.get("signed");
      if (signed == null || !signed.isObject() || !tree.path("signatures").isArray()) {
        throw new RepositoryStateException(metadataFile.toString(),
            "expected TUF metadata with signed and signatures but found neither");
      }
      canonical = CanonicalJson.encode(signed);
    } catch (MalformedMetadataException | IllegalArgumentException e) {
      throw new RepositoryStateException(metadataFile.toString(), "expected TUF metadata but found " + e.getMessage());
    }
    Envelopes.putSignature(tree, key.keyId(), key.signHex(canonical));
    AtomicFiles.write(metadataFile, Json.writePretty(tree));
  }

  /**
   * Merges the signatures of another copy of the staged metadata (signed elsewhere) into it. Every
   * imported signature must be by a key authorised for the role and must verify.
   *
   * @param role {@code ROOT} or {@code TARGETS}
   * @param otherCopy the other copy
   * @throws SignedContentMismatchException if the copy signs different content, e.g. it is of a version published
   *     or discarded since it was taken
   * @throws KeyNotAuthorisedException if the copy carries a signature by a key the role does not list
   * @throws RepositoryStateException if nothing is staged (the copy's version was published or discarded since it
   *     was taken), the staged version can never be published (another copy of the repository published since it
   *     was staged: {@link #discard} it; or staged targets forget a withdrawn revision, or the whole memory of them),
   *     the copy is not metadata of the role, or one of its signatures does not verify
   * @throws IdCaseConflictException if staged targets metadata newly lists an id that differs from another of the
   *     feed only in case
   * @throws RevisionRollbackException if staged targets metadata takes a published revision back
   * @throws ExpiredMitigationException if staged targets metadata lists a mitigation whose {@code expires} has come
   * @throws IOException if files cannot be read or written
   */
  public void merge(Role role, Path otherCopy) throws PublisherException, IOException {
    try (Exclusive held = exclusive()) {
      requireOffline(role);
      Published published = load();
      Optional<Metadata> staged = readStaged(role);
      if (staged.isEmpty()) {
        throw nothingToMergeInto(role, otherCopy, published(published, role));
      }
      Metadata current = staged.get();
      // Checked before the copy: whatever it signs, its signatures would go on a version that cannot be published.
      requireNext(current, published(published, role), role);
      if (role == Role.TARGETS) {
        throwFirst(stagedTargetsRefusals(published, current));
      }
      Metadata other = readCopy(role, otherCopy);
      if (!java.util.Arrays.equals(current.canonicalSigned, other.canonicalSigned)) {
        String expected = Hashes.hex(Hashes.SHA256, current.canonicalSigned);
        String found = Hashes.hex(Hashes.SHA256, other.canonicalSigned);
        if (other.version == current.version) {
          throw new SignedContentMismatchException(otherCopy.toString(), role.fileName(), expected, found);
        }
        // feed sign --file has no repository to tell a stale copy by: here is where it is told.
        throw new SignedContentMismatchException(otherCopy.toString(), role.fileName(), expected, found,
            "the copy is of " + role.typeName() + " version " + other.version + " and the staged " + role.fileName()
                + " of version " + current.version + " (" + publishes(role, published(published, role))
                + "): the copy was taken before a publish or a discard and can never be published");
      }
      Map<String, KeyInfo> keys = authorisedKeys(role);
      for (Sig sig : other.signatures) {
        KeyInfo key = keys.get(sig.keyId());
        if (key == null) {
          throw new KeyNotAuthorisedException(role, sig.keyId(), describeAuthorisingRoots(role));
        }
        if (!key.verifies(sig.sig(), current.canonicalSigned)) {
          throw new RepositoryStateException(otherCopy.toString(), "signature by key " + sig.keyId()
              + ": expected a valid signature over the staged content but found one that does not verify");
        }
        Envelopes.putSignature(current.tree, sig.keyId(), sig.sig());
      }
      writeStaged(role, current.tree);
    }
  }

  private static Metadata readCopy(Role role, Path copy) throws PublisherException, IOException {
    try {
      return Metadata.parse(copy.toString(), Files.readAllBytes(copy), role);
    } catch (MalformedMetadataException e) {
      throw new RepositoryStateException(copy.toString(), e.problem());
    }
  }

  private static String publishes(Role role, Optional<Metadata> published) {
    return published.map(p -> "the feed publishes " + role.typeName() + " version " + p.version)
        .orElse("the feed publishes nothing yet");
  }

  /**
   * Nothing is staged to merge a copy into: the version it signs was published or discarded since the copy was
   * taken (a signer's late copy, or one signed after another copy of the repository published). Say so, with the
   * versions, rather than that there is nothing to sign.
   */
  private static RepositoryStateException nothingToMergeInto(Role role, Path copy, Optional<Metadata> published)
      throws PublisherException, IOException {
    Metadata other = readCopy(role, copy);
    return new RepositoryStateException("staged " + role.fileName(), "expected staged metadata to merge " + copy
        + " into but found none; the copy is of " + role.typeName() + " version " + other.version + " and "
        + publishes(role, published) + ": it was published or discarded since the copy"
        + " was taken, and nothing is left to merge it into");
  }

  /**
   * Reports how far the staged metadata is signed.
   *
   * @return one entry per threshold to meet (a staged root has two: the published root's and its own)
   * @throws IOException if files cannot be read
   * @throws RepositoryStateException if staged metadata is malformed
   */
  public List<SigningStatus> status() throws PublisherException, IOException {
    List<SigningStatus> result = new ArrayList<>();
    Published current = load();
    Optional<Metadata> stagedRoot = readStaged(Role.ROOT);
    if (stagedRoot.isPresent()) {
      Metadata root = stagedRoot.get();
      Optional<String> stale = notNext(root, current.root, Role.ROOT);
      if (current.root.isPresent()) {
        result.add(status(root, current.root.get(), "the published root", Role.ROOT, stale));
      }
      result.add(status(root, root, "the new root", Role.ROOT, stale));
    }
    Optional<Metadata> stagedTargets = readStaged(Role.TARGETS);
    if (stagedTargets.isPresent()) {
      Metadata root = stagedRoot.or(() -> current.root).orElseThrow(() -> notInitialised());
      Optional<String> unpublishable = notNext(stagedTargets.get(), current.targets, Role.TARGETS);
      if (unpublishable.isEmpty()) {
        try {
          unpublishable = why(stagedTargetsRefusals(current, stagedTargets.get()));
        } catch (RepositoryStateException e) { // e.g. a staged target's content is gone: publish would refuse it too
          unpublishable = Optional.of(e.getMessage());
        }
      }
      result.add(status(stagedTargets.get(), root, stagedRoot.isPresent() ? "the new root" : "the published root",
          Role.TARGETS, unpublishable));
    }
    return result;
  }

  /** Every refusal's message, one after the other. */
  private static Optional<String> why(List<PublisherException> refused) {
    return refused.isEmpty() ? Optional.empty()
        : Optional.of(refused.stream().map(Throwable::getMessage).collect(Collectors.joining("; ")));
  }

  private static SigningStatus status(Metadata m, Metadata root, String description, Role role,
      Optional<String> unpublishable) {
    return new SigningStatus(role, m.version, description + " (version " + root.version + ")",
        Signatures.countValid(m, root.root(), role), root.root().roles().get(role).threshold(), unpublishable);
  }

  /**
   * Publishes: checks that staged root and targets metadata meet their thresholds, signs new snapshot and
   * timestamp metadata, verifies the complete feed as an agent would, and writes it to the published
   * directory (timestamp last). With nothing staged it re-signs snapshot and timestamp.
   *
   * @param snapshotKeys keys of the snapshot role, at least its threshold
   * @param timestampKeys keys of the timestamp role, at least its threshold
   * @return the feed as an agent now sees it
   * @throws KeyNotAuthorisedException if a snapshot or timestamp key is not listed for its role
   * @throws RepositoryStateException if staged metadata is out of date, under-signed, forgets a withdrawn
   *     revision (or the whole memory of them), or a target's content is missing
   * @throws IdCaseConflictException if staged targets newly list an id that differs from another of the feed
   *     only in case (staged by hand or by another tool: {@link #addTargets} refuses it)
   * @throws RevisionRollbackException if staged targets take a published revision back (likewise)
   * @throws ExpiredMitigationException if staged targets list a mitigation, staged since the last publish, whose
   *     {@code expires} has come: no targets version that lists it is signed. One the published feed lists unchanged
   *     stops nothing (agents skip it already); withdraw it when convenient
   * @throws FeedVerificationException if the feed would not verify (nothing is written then)
   * @throws IOException if files cannot be read or written
   */
  public TrustedFeed publish(List<SigningKey> snapshotKeys, List<SigningKey> timestampKeys)
      throws PublisherException, FeedVerificationException, IOException {
    try (Exclusive held = exclusive()) {
      Published current = load();
      Instant now = clock.instant();
      Map<String, byte[]> files = new LinkedHashMap<>();

      Optional<Metadata> stagedRoot = readStaged(Role.ROOT);
      Metadata root;
      if (stagedRoot.isPresent()) {
        root = stagedRoot.get();
        requireNext(root, current.root, Role.ROOT);
        requireComplete(root, current.root, Role.ROOT);
        files.put(root.version + ".root.json", Json.write(root.tree));
      } else {
        root = current.root.orElseThrow(() -> notInitialised());
      }
      if (root.expiredAt(now)) {
        throw new RepositoryStateException("root.json", "expected an expiry after " + now + " but found "
            + root.expires + "; renew the root");
      }

      Optional<Metadata> stagedTargets = readStaged(Role.TARGETS);
      Metadata targets;
      if (stagedTargets.isPresent()) {
        targets = stagedTargets.get();
        requireNext(targets, current.targets, Role.TARGETS);
        // Before the signatures: signing more would not help.
        throwFirst(stagedTargetsRefusals(current, targets));
        requireComplete(targets, Optional.of(root), Role.TARGETS);
        files.put(targets.version + ".targets.json", Json.write(targets.tree));
      } else {
        targets = current.targets.orElseThrow(() -> new RepositoryStateException("targets.json",
            "expected staged or published targets metadata but found none"));
        int targetsThreshold = root.root().roles().get(Role.TARGETS).threshold();
        if (Signatures.countValid(targets, root.root(), Role.TARGETS) < targetsThreshold) {
          throw new RepositoryStateException("targets.json", "expected a signature threshold of the targets keys in"
              + " root version " + root.version + " but found the published targets signed by other keys; renew"
              + " targets and sign it with the new keys");
        }
      }
      if (targets.expiredAt(now)) {
        throw new RepositoryStateException("targets.json", "expected an expiry after " + now + " but found "
            + targets.expires + "; renew targets and sign it");
      }
      for (TargetFile target : targets.targets().values()) {
        String path = targetPath(target);
        if (!Files.isRegularFile(published.resolve(path))) {
          files.put(path, targetContent(target));
        }
      }

      byte[] targetsBytes = files.containsKey(targets.version + ".targets.json")
          ? files.get(targets.version + ".targets.json")
          : targets.bytes;
      long snapshotVersion = current.snapshot.map(s -> s.version + 1).orElse(1L);
      ObjectNode snapshot = Envelopes.signedBase(Role.SNAPSHOT, snapshotVersion, now.plus(validity.snapshot()));
      snapshot.putObject("meta").set(Role.TARGETS.fileName(), Envelopes.metaEntry(targets.version, targetsBytes));
      byte[] snapshotBytes = signOnline(Role.SNAPSHOT, snapshot, root, snapshotKeys);
      files.put(snapshotVersion + ".snapshot.json", snapshotBytes);

      files.put(TrustedStore.TIMESTAMP, timestamp(current, root, snapshotVersion, snapshotBytes, timestampKeys, now));
      if (stagedRoot.isPresent()) {
        files.put("root.json", files.get(root.version + ".root.json"));
      }

      TrustedFeed feed = verify(files);
      writePublished(files);
      clearStaged();
      return feed;
    }
  }

  /**
   * Re-signs the timestamp with a new version and expiry, pointing at the same snapshot. Run it on a
   * schedule well within the timestamp validity; agents reject an expired timestamp as a frozen feed.
   *
   * @param timestampKeys keys of the timestamp role, at least its threshold
   * @return the feed as an agent now sees it
   * @throws KeyNotAuthorisedException if a key is not listed for the timestamp role
   * @throws RepositoryStateException if nothing is published yet, the published root or targets metadata has
   *     expired (renew it), or the snapshot expires before the new timestamp would (publish again to re-sign
   *     the snapshot)
   * @throws FeedVerificationException if the feed would not verify (nothing is written then)
   * @throws IOException if files cannot be read or written
   */
  public TrustedFeed refreshTimestamp(List<SigningKey> timestampKeys)
      throws PublisherException, FeedVerificationException, IOException {
    try (Exclusive held = exclusive()) {
      Published current = load();
      Metadata snapshot = current.snapshot.orElseThrow(() -> new RepositoryStateException("timestamp.json",
          "expected a published feed but found none; publish first"));
      Instant now = clock.instant();
      // The publisher's own metadata expired: say which and what to do, before the check as an agent would
      // (below) reports it as a possible freeze attack.
      Metadata root = current.root.orElseThrow();
      if (root.expiredAt(now)) {
        throw new RepositoryStateException("root.json", "expected an expiry after " + now + " but found " + root.expires
            + "; renew the root, sign it and publish");
      }
      Metadata targets = current.targets.orElseThrow();
      if (targets.expiredAt(now)) {
        throw new RepositoryStateException(targets.file, "expected an expiry after " + now + " but found "
            + targets.expires + "; renew targets, sign it and publish");
      }
      Instant expires = now.plus(validity.timestamp());
      if (snapshot.expires.isBefore(expires)) {
        throw new RepositoryStateException(snapshot.file, "expected a snapshot valid past the new timestamp's expiry "
            + expires + " but found one that expires " + snapshot.expires + "; publish to re-sign the snapshot");
      }
      Map<String, byte[]> files = new LinkedHashMap<>();
      files.put(TrustedStore.TIMESTAMP, timestamp(current, root, snapshot.version, snapshot.bytes, timestampKeys, now));
      TrustedFeed feed = verify(files);
      writePublished(files);
      return feed;
    }
  }

  /**
   * Writes an offline bundle: one file holding the whole root chain and the current timestamp, snapshot
   * and targets metadata and target files, for sites without network access. The bundle is a ZIP archive
   * whose entries are named exactly as the files on a feed server ({@code 1.root.json},
   * {@code timestamp.json}, {@code 4.snapshot.json}, {@code targets/mitigations/HASH.M1.json} ...) plus a
   * descriptor, {@code tourniquet-bundle.json}; {@link Fetchers#bundle(Path)} serves it to the client,
   * which verifies it exactly as if fetched over HTTP. The bundle is verified that way before it is
   * written. Mind the timestamp's expiry: refresh it (with a longer validity if needed) just before.
   *
   * @param out the bundle file, replaced atomically
   * @return the feed as an agent importing the bundle sees it
   * @throws RepositoryStateException if nothing is published yet
   * @throws FeedVerificationException if the published feed does not verify
   * @throws IOException if files cannot be read or written
   */
  public TrustedFeed writeBundle(Path out) throws PublisherException, FeedVerificationException, IOException {
    try (Exclusive held = exclusive()) {
      Published current = load();
      Metadata timestamp = current.timestamp.orElseThrow(() -> new RepositoryStateException("timestamp.json",
          "expected a published feed but found none; publish first"));
      Map<String, byte[]> entries = new TreeMap<>();
      for (long v = 1; v <= current.root.orElseThrow().version; v++) {
        entries.put(v + ".root.json", Files.readAllBytes(published.resolve(v + ".root.json")));
      }
      entries.put(TrustedStore.TIMESTAMP, timestamp.bytes);
      Metadata snapshot = current.snapshot.orElseThrow();
      entries.put(snapshot.version + ".snapshot.json", snapshot.bytes);
      Metadata targets = current.targets.orElseThrow();
      entries.put(targets.version + ".targets.json", targets.bytes);
      for (TargetFile target : targets.targets().values()) {
        entries.put(targetPath(target), Files.readAllBytes(published.resolve(targetPath(target))));
      }
      ObjectNode descriptor = Json.object();
      descriptor.put("format", BundleFetcher.FORMAT);
      descriptor.put("created", Metadata.formatExpires(clock.instant()));
      descriptor.put("root_version", current.root.get().version);
      descriptor.put("timestamp_version", timestamp.version);
      descriptor.put("timestamp_expires", Metadata.formatExpires(timestamp.expires));
      ByteArrayOutputStream zipBytes = new ByteArrayOutputStream();
      try (ZipOutputStream zip = new ZipOutputStream(zipBytes)) {
        zipEntry(zip, BundleFetcher.DESCRIPTOR, Json.writePretty(descriptor));
        for (Map.Entry<String, byte[]> entry : entries.entrySet()) {
          zipEntry(zip, entry.getKey(), entry.getValue());
        }
      }
      Path temp = Files.createTempFile(dir, ".bundle-", ".zip");
      try {
        Files.write(temp, zipBytes.toByteArray());
        TrustedFeed feed;
        try (BundleFetcher fetcher = Fetchers.bundle(temp)) {
          feed = verifyWith(fetcher);
        }
        AtomicFiles.write(out, zipBytes.toByteArray(), true, false, AtomicFiles.PUBLIC);
        return feed;
      } finally {
        Files.deleteIfExists(temp);
      }
    }
  }

  private static void zipEntry(ZipOutputStream zip, String name, byte[] bytes) throws IOException {
    ZipEntry entry = new ZipEntry(name);
    entry.setTime(315_532_800_000L + 86_400_000L); // 1980-01-02: fixed, so equal feeds give equal bundles
    zip.putNextEntry(entry);
    zip.write(bytes);
    zip.closeEntry();
  }

  private byte[] timestamp(Published current, Metadata root, long snapshotVersion, byte[] snapshotBytes,
      List<SigningKey> timestampKeys, Instant now) throws PublisherException {
    long version = current.timestamp.map(t -> t.version + 1).orElse(1L);
    ObjectNode timestamp = Envelopes.signedBase(Role.TIMESTAMP, version, now.plus(validity.timestamp()));
    timestamp.putObject("meta").set(Role.SNAPSHOT.fileName(), Envelopes.metaEntry(snapshotVersion, snapshotBytes));
    return signOnline(Role.TIMESTAMP, timestamp, root, timestampKeys);
  }

  private static byte[] signOnline(Role role, ObjectNode signed, Metadata root, List<SigningKey> keys)
      throws PublisherException {
    RootInfo info = root.root();
    Set<String> authorised = new HashSet<>(info.roles().get(role).keyIds());
    ObjectNode envelope = Envelopes.envelope(signed);
    Set<String> signers = new HashSet<>();
    for (SigningKey key : keys) {
      if (!authorised.contains(key.keyId())) {
        throw new KeyNotAuthorisedException(role, key.keyId(), "root version " + root.version);
      }
      Envelopes.sign(envelope, key);
      signers.add(key.keyId());
    }
    int threshold = info.roles().get(role).threshold();
    if (signers.size() < threshold) {
      throw new RepositoryStateException(role.fileName(), "expected at least " + threshold + " " + role.typeName()
          + " key" + (threshold == 1 ? "" : "s") + " to sign but found " + signers.size());
    }
    return Json.write(envelope);
  }

  private void requireComplete(Metadata staged, Optional<Metadata> authorisingRoot, Role role)
      throws RepositoryStateException {
    List<Metadata> roots = new ArrayList<>();
    authorisingRoot.ifPresent(roots::add);
    if (role == Role.ROOT) {
      roots.add(staged);
    }
    for (Metadata root : roots) {
      SigningStatus status = status(staged, root, root == staged ? "the new root" : "the published root", role,
          Optional.empty());
      if (!status.complete()) {
        throw new RepositoryStateException("staged " + role.fileName(), "expected at least " + status.threshold()
            + " valid signature" + (status.threshold() == 1 ? "" : "s") + " by " + role.typeName() + " keys of "
            + status.keysOf() + " but found " + status.valid() + "; sign it with more keys");
      }
    }
  }

  /** Runs the client workflow from root version 1 over the published feed overlaid with new files. */
  private TrustedFeed verify(Map<String, byte[]> newFiles) throws FeedVerificationException, IOException {
    Fetcher directory = Fetchers.directory(published);
    Fetcher overlay = (path, etag) -> newFiles.containsKey(path)
        ? new Fetcher.Found(new java.io.ByteArrayInputStream(newFiles.get(path)), Optional.empty())
        : directory.fetch(path, etag);
    return verifyWith(overlay);
  }

  private TrustedFeed verifyWith(Fetcher fetcher) throws FeedVerificationException, IOException {
    Path store = Files.createTempDirectory(dir, ".verify-");
    try {
      Fetcher.Response first = fetcher.fetch("1.root.json", Optional.empty());
      if (!(first instanceof Fetcher.Found found)) {
        throw new MissingFileException("1.root.json", "5.2");
      }
      byte[] rootBytes;
      try (found) {
        rootBytes = Bounded.read(found.body(), Limits.defaults().rootBytes());
      }
      TufClient.bootstrap(store, rootBytes);
      TufClient client = TufClient.open(store, fetcher, clock);
      TrustedFeed feed = client.refresh();
      for (String name : feed.targets().keySet()) {
        client.download(name);
      }
      return feed;
    } finally {
      deleteTree(store);
    }
  }

  private void writePublished(Map<String, byte[]> files) throws IOException {
    // Targets and versioned metadata first, timestamp.json last: a client never sees a timestamp that
    // points at files not yet written.
    List<String> order = new ArrayList<>(files.keySet());
    order.sort(Comparator.comparingInt(FeedRepository::writeRank));
    Set<Path> directories = new HashSet<>();
    for (String path : order) {
      Path file = published.resolve(path);
      if (directories.add(file.getParent())) {
        AtomicFiles.ensurePublicDirectory(published, file.getParent());
      }
      AtomicFiles.write(file, files.get(path), true, false, AtomicFiles.PUBLIC);
    }
  }

  private static int writeRank(String path) {
    if (path.startsWith("targets/")) {
      return 0;
    }
    if (path.endsWith(".targets.json")) {
      return 1;
    }
    if (path.endsWith("root.json")) {
      return 2;
    }
    if (path.endsWith(".snapshot.json")) {
      return 3;
    }
    return 4;
  }

  private void clearStaged() throws IOException {
    deleteTree(staged);
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  private static String targetPath(TargetFile target) {
    String name = target.name();
    int slash = name.lastIndexOf('/');
    return "targets/" + name.substring(0, slash + 1) + target.hashes().get(Hashes.SHA256) + "."
        + name.substring(slash + 1);
  }

  private byte[] targetContent(TargetFile target) throws PublisherException, IOException {
    for (Path candidate : List.of(staged.resolve("targets").resolve(target.name()), published.resolve(targetPath(target)))) {
      if (Files.isRegularFile(candidate)) {
        byte[] bytes = Files.readAllBytes(candidate);
        if (bytes.length == target.length()
            && Hashes.hex(Hashes.SHA256, bytes).equals(target.hashes().get(Hashes.SHA256))) {
          return bytes;
        }
      }
    }
    throw new RepositoryStateException(target.name(), "expected content with sha256 " + target.hashes().get(Hashes.SHA256)
        + " but found none; add the target again");
  }

  /**
   * Staged metadata must be the version after the published one. Another copy of the repository may have
   * published since this one was staged (the publisher then fetched the feed as served): the staged version
   * was built on an older feed, lacks what was published since, and can never be published. Changes staged on
   * top of it would be lost with it, so they are refused too, with the way out.
   */
  private static void requireNext(Metadata staged, Optional<Metadata> published, Role role)
      throws RepositoryStateException {
    Optional<String> problem = notNext(staged, published, role);
    if (problem.isPresent()) {
      throw new RepositoryStateException("staged " + role.fileName(), problem.get());
    }
  }

  /**
   * The rules {@link #addTargets} holds to, checked again on staged targets metadata against the published feed,
   * for what reached it another way: a hand edit of {@code staged/targets.json}, another tool, a file carried from
   * elsewhere. Agents refuse a revision that goes back on their own, but only those that applied the higher one;
   * the publisher refuses first, before an offline key signs it and before any agent sees it. Only what changes is
   * checked (a target the published feed lists with the same content passed when it was published), so a feed
   * older than a rule still publishes. Expiry is checked again for what changes: time alone breaks it
   * ({@link #listedExpiredRefusals}).
   * Empty when the staged targets may be published.
   */
  private List<PublisherException> stagedTargetsRefusals(Published current, Metadata staged)
      throws PublisherException, IOException {
    Map<String, TargetFile> published = current.targets.map(Metadata::targets).orElse(Map.of());
    Map<String, Integer> publishedMemory = current.targets.isPresent() ? withdrawn(current.targets.get()) : Map.of();
    // Without the field, the staged metadata is older than the memory (the next one staged reads it from history), or
    // edited to drop it. While the published metadata lacks it too, both memories are the published history, read
    // from the same files (withdrawn): comparing them could never find a revision forgotten, so they are not compared.
    // Once a published version carries it, one without it is refused below.
    Map<String, Integer> stagedMemory = staged.tree.path("signed").has(WITHDRAWN) ? withdrawn(staged) : null;
    Map<String, TargetFile> listed = staged.targets();
    List<PublisherException> refused = new ArrayList<>();

    Map<String, String> otherIds = new TreeMap<>();
    listed.keySet().forEach(name -> feedHas(otherIds, name));
    published.keySet().forEach(name -> feedHas(otherIds, name));
    publishedMemory.forEach((id, revision) -> otherIds.putIfAbsent(id, feedHad(id, revision)));
    if (stagedMemory != null) {
      stagedMemory.forEach((id, revision) -> otherIds.putIfAbsent(id, feedHad(id, revision)));
    }
    TreeSet<String> added = new TreeSet<>(listed.keySet());
    added.removeAll(published.keySet());
    List<IdCaseConflictException.Refusal> ids = idCaseRefusals(added, otherIds);
    if (!ids.isEmpty()) {
      String remove = ids.stream().map(IdCaseConflictException.Refusal::id).distinct()
          .collect(Collectors.joining(" "));
      refused.add(new IdCaseConflictException(ids, "the staged targets.json lists it (edited by hand or by another"
          + " tool?) and can never be published: withdraw it (feed remove " + remove + ") or discard the staged"
          + " targets (feed discard --role targets)"));
    }

    List<ExpiredMitigationException.Refusal> expired = listedExpiredRefusals(listed, published);
    if (!expired.isEmpty()) {
      String remove = expired.stream().map(r -> mitigationIdOf(r.target())).distinct().collect(Collectors.joining(" "));
      refused.add(new ExpiredMitigationException(expired, "the staged targets.json lists it, but agents skip an expired"
          + " mitigation (and remove it where they applied it), so it can never be published: withdraw it (feed remove "
          + remove + ") or add a revision of it with a later expires (feed add)"));
    }

    Optional<Metadata> remembering = current.targets.filter(t -> t.tree.path("signed").has(WITHDRAWN));
    if (stagedMemory == null && remembering.isPresent()) {
      // Out of the signed feed, the revisions would rest on old files of published/, which may be deleted, and a
      // copy of the repository would not carry them.
      String remembered = publishedMemory.entrySet().stream().map(e -> e.getKey() + "." + e.getValue())
          .collect(Collectors.joining(", "));
      refused.add(new RepositoryStateException("staged targets.json", WITHDRAWN + ": expected the memory of withdrawn"
          + " revisions that the published targets version " + remembering.get().version + " carries ("
          + (remembered.isEmpty() ? "no revision yet" : remembered) + ") but found none; the staged targets.json drops"
          + " it (edited by hand or by another tool?) and can never be published: discard it (feed discard --role"
          + " targets) and stage the changes again"));
    }

    List<String> forgotten = new ArrayList<>();
    if (stagedMemory != null) {
      publishedMemory.forEach((id, revision) -> {
        if (stagedMemory.getOrDefault(id, 0) < revision) {
          forgotten.add(WITHDRAWN + "." + id + ": expected a revision of at least " + revision + " ("
              + (published.containsKey(MITIGATIONS + id + ".json") ? "the published targets remember " + id + "." + revision
                  : "the feed published " + id + "." + revision + " before " + id + " was withdrawn")
              + ") but found " + Optional.ofNullable(stagedMemory.get(id)).map(String::valueOf).orElse("none"));
        }
      });
      for (String name : published.keySet()) {
        String id = mitigationIdOf(name);
        if (id == null || listed.containsKey(name)) {
          continue;
        }
        OptionalInt revision = publishedRevision(current, name);
        if (revision.isPresent() && stagedMemory.getOrDefault(id, 0) < revision.getAsInt()) {
          forgotten.add(WITHDRAWN + "." + id + ": expected a revision of at least " + revision.getAsInt() + " (the feed"
              + " publishes " + id + "." + revision.getAsInt() + ", which this version withdraws) but found "
              + Optional.ofNullable(stagedMemory.get(id)).map(String::valueOf).orElse("none"));
        }
      }
    }
    if (!forgotten.isEmpty()) {
      refused.add(new RepositoryStateException("staged targets.json", String.join("; ", forgotten) + "; the staged"
          + " targets.json forgets a revision agents may have applied (edited by hand or by another tool?) and can"
          + " never be published: discard it (feed discard --role targets) and stage the changes again"));
    }

    List<RevisionRollbackException.Refusal> revisions = new ArrayList<>();
    for (TargetFile target : listed.values()) {
      String id = mitigationIdOf(target.name());
      if (id == null || target.equals(published.get(target.name()))) {
        continue;
      }
      OptionalInt revision = revisionOf(Optional.of(targetContent(target)));
      if (revision.isPresent()) {
        rollback(target.name(), id, revision.getAsInt(), published.containsKey(target.name()),
            publishedRevision(current, target.name()), publishedMemory).ifPresent(revisions::add);
      }
    }
    if (!revisions.isEmpty()) {
      refused.add(new RevisionRollbackException(revisions, "the staged targets.json takes it back (edited by hand or"
          + " by another tool?) and can never be published: add each mitigation again with a revision as expected"
          + " (feed add), or discard the staged targets (feed discard --role targets)"));
    }
    return refused;
  }

  /**
   * The expiry rule of {@link #addTargets} again, at the clock's now, for every mitigation document the staged
   * targets list with other content than the published feed: time has passed since each was added. A document
   * added on Monday that expires on Tuesday must not be signed or published on Wednesday: the security team would
   * believe a mitigation is out that no agent applies. A document the published feed lists unchanged is left alone
   * even once it has expired: agents already skip it (and removed it where they had applied it), so listing it again
   * changes nothing on any server, and refusing it would hold back whatever else the targets version carries, an
   * emergency mitigation or a renewal of the targets metadata, until someone withdraws it. A document whose content
   * or {@code expires} cannot be read is left to the checks that read it.
   */
  private List<ExpiredMitigationException.Refusal> listedExpiredRefusals(Map<String, TargetFile> listed,
      Map<String, TargetFile> published) throws IOException {
    Instant now = clock.instant();
    List<ExpiredMitigationException.Refusal> refusals = new ArrayList<>();
    for (TargetFile target : listed.values()) {
      String id = mitigationIdOf(target.name());
      if (id == null || target.equals(published.get(target.name()))) {
        continue;
      }
      byte[] content;
      try {
        content = targetContent(target);
      } catch (PublisherException e) {
        continue;
      }
      Optional<Instant> expires = expiresOf(content).filter(e -> !now.isBefore(e));
      if (expires.isEmpty()) {
        continue;
      }
      OptionalInt revision = revisionOf(Optional.of(content));
      String applied = revision.isPresent() ? id + "." + revision.getAsInt() : id;
      refusals.add(new ExpiredMitigationException.Refusal(target.name(), expires.get(), now,
          "expected an instant after now (" + now + ") but found " + expires.get() + " (" + applied
          + " was staged since the last publish and expired before it was published)"));
    }
    return refusals;
  }

  /**
   * The revision of a published mitigation, or empty if it is not listed or cannot be read: a damaged published
   * file must not stop what replaces or withdraws it (it may be why), as {@link #removeTarget} allows.
   */
  private OptionalInt publishedRevision(Published current, String name) throws PublisherException, IOException {
    try {
      return revisionOf(readPublishedTarget(current, name));
    } catch (RepositoryStateException e) {
      return OptionalInt.empty();
    }
  }

  /** The published metadata of a staged role: root or targets. */
  private static Optional<Metadata> published(Published current, Role role) {
    return role == Role.ROOT ? current.root : current.targets;
  }

  /** Why staged metadata is not the version after the published one and can never be published, if so. */
  private static Optional<String> notNext(Metadata staged, Optional<Metadata> published, Role role) {
    long expected = published.map(p -> p.version + 1).orElse(1L);
    if (staged.version == expected) {
      return Optional.empty();
    }
    return Optional.of("expected version " + expected
        + (published.isPresent() ? ", the one after the published " + role.typeName() + " version "
            + published.get().version : ", the first") + ", but found version " + staged.version
        + ": it was staged from another state of the feed (did another copy of the repository publish since?)"
        + " and can never be published; discard it (feed discard --role " + role.typeName()
        + ") and stage the changes again on the published feed");
  }

  /**
   * Discards the staged metadata of a role, with its signatures: for targets, every mitigation added or
   * withdrawn since the last publish (the staged contents go too); for root, a staged key change or renewal.
   * The published feed is not touched. Before the first publish, the staged targets become the empty
   * targets version 1 that {@link #init} staged; the first root, which the repository cannot do without, is
   * not discarded.
   *
   * @param role {@code ROOT} or {@code TARGETS}
   * @throws IllegalArgumentException for snapshot or timestamp, which are never staged
   * @throws RepositoryStateException if nothing is staged for the role, or it is the first root
   * @throws IOException if files cannot be read or deleted
   */
  public void discard(Role role) throws PublisherException, IOException {
    try (Exclusive held = exclusive()) {
      requireOffline(role);
      if (!Files.exists(stagedFile(role))) {
        throw new RepositoryStateException("staged " + role.fileName(), "expected staged " + role.fileName()
            + " to discard but found none; the published feed is what the next publish starts from");
      }
      Published current = load();
      if (role == Role.ROOT) {
        if (current.root.isEmpty()) {
          throw new RepositoryStateException("staged root.json", "expected a staged root after a published one but"
              + " found the first root, which init staged and the repository cannot do without; sign it, or start"
              + " over with feed init in another directory");
        }
        Files.delete(stagedFile(Role.ROOT));
        return;
      }
      deleteTree(staged.resolve("targets"));
      if (current.targets.isEmpty()) {
        ObjectNode empty = Envelopes.signedBase(Role.TARGETS, 1, clock.instant().plus(validity.targets()));
        empty.putObject("targets");
        writeStaged(Role.TARGETS, Envelopes.envelope(empty));
      } else {
        Files.delete(stagedFile(Role.TARGETS));
      }
    }
  }

  private ObjectNode stageTargets() throws PublisherException, IOException {
    Optional<Metadata> existing = readStaged(Role.TARGETS);
    ObjectNode envelope;
    if (existing.isPresent()) {
      requireNext(existing.get(), load().targets, Role.TARGETS);
      envelope = existing.get().tree;
    } else {
      Metadata base = load().targets.orElseThrow(() -> new RepositoryStateException("targets.json",
          "expected published or staged targets metadata but found none; init the repository"));
      envelope = base.tree.deepCopy();
      ((ObjectNode) envelope.get("signed")).put("version", base.version + 1);
    }
    ObjectNode signed = (ObjectNode) envelope.get("signed");
    signed.put("expires", Metadata.formatExpires(clock.instant().plus(validity.targets())));
    if (!signed.has(WITHDRAWN)) {
      // Metadata older than the memory of withdrawn revisions: start it from the published history.
      ObjectNode withdrawn = signed.putObject(WITHDRAWN);
      publishedHistory().forEach(withdrawn::put);
    }
    Envelopes.clearSignatures(envelope);
    return envelope;
  }

  private ObjectNode stageRoot() throws PublisherException, IOException {
    Optional<Metadata> existing = readStaged(Role.ROOT);
    ObjectNode envelope;
    if (existing.isPresent()) {
      requireNext(existing.get(), load().root, Role.ROOT);
      envelope = existing.get().tree;
    } else {
      Metadata base = load().root.orElseThrow(() -> notInitialised());
      envelope = base.tree.deepCopy();
      ((ObjectNode) envelope.get("signed")).put("version", base.version + 1);
    }
    ((ObjectNode) envelope.get("signed")).put("expires", Metadata.formatExpires(clock.instant().plus(validity.root())));
    Envelopes.clearSignatures(envelope);
    return envelope;
  }

  private void writeStaged(Role role, ObjectNode envelope) throws IOException {
    AtomicFiles.write(stagedFile(role), Json.writePretty(envelope));
  }

  private Optional<Metadata> readStaged(Role role) throws PublisherException, IOException {
    Path file = stagedFile(role);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    try {
      return Optional.of(Metadata.parse("staged " + role.fileName(), bytes, role));
    } catch (MalformedMetadataException e) {
      throw new RepositoryStateException("staged " + role.fileName(), e.problem());
    }
  }

  private void requireAuthorised(Role role, String keyId) throws PublisherException, IOException {
    if (!authorisedKeys(role).containsKey(keyId)) {
      throw new KeyNotAuthorisedException(role, keyId, describeAuthorisingRoots(role));
    }
  }

  /** Keys whose signatures count for staged metadata of the role, from every root that will check it. */
  private Map<String, KeyInfo> authorisedKeys(Role role) throws PublisherException, IOException {
    Map<String, KeyInfo> keys = new TreeMap<>();
    for (Metadata root : authorisingRoots(role)) {
      RootInfo info = root.root();
      for (String id : info.roles().get(role).keyIds()) {
        KeyInfo key = info.keys().get(id);
        if (key != null && key.usable()) {
          keys.put(id, key);
        }
      }
    }
    return keys;
  }

  private List<Metadata> authorisingRoots(Role role) throws PublisherException, IOException {
    Optional<Metadata> stagedRoot = readStaged(Role.ROOT);
    Optional<Metadata> publishedRoot = load().root;
    List<Metadata> roots = new ArrayList<>();
    if (role == Role.ROOT) {
      publishedRoot.ifPresent(roots::add);
      stagedRoot.ifPresent(roots::add);
    } else {
      stagedRoot.or(() -> publishedRoot).ifPresent(roots::add);
    }
    if (roots.isEmpty()) {
      throw notInitialised();
    }
    return roots;
  }

  private String describeAuthorisingRoots(Role role) throws PublisherException, IOException {
    return authorisingRoots(role).stream().map(r -> "root version " + r.version)
        .reduce((a, b) -> a + " or " + b).orElse("no root");
  }

  private static void requireOffline(Role role) {
    if (role != Role.ROOT && role != Role.TARGETS) {
      throw new IllegalArgumentException("role: expected root or targets (staged, offline keys) but found "
          + role.typeName() + ", which publish signs");
    }
  }

  private static void requireSafeName(String name) {
    String unsafe = Metadata.unsafeTargetPath(name);
    if (unsafe != null) {
      throw new IllegalArgumentException("target name: expected a relative path of safe segments but found " + unsafe);
    }
  }

  private RepositoryStateException nothingStaged(Role role) {
    return new RepositoryStateException("staged " + role.fileName(), "expected staged metadata to sign but found none;"
        + (role == Role.ROOT ? " change keys or renew root first" : " add, remove or renew targets first"));
  }

  private RepositoryStateException notInitialised() {
    return new RepositoryStateException(dir.toString(), "expected a published or staged root but found none");
  }

  /** The published feed's current metadata, read from the published directory. */
  private record Published(Optional<Metadata> root, Optional<Metadata> timestamp, Optional<Metadata> snapshot,
      Optional<Metadata> targets) {}

  private Published load() throws PublisherException, IOException {
    long latest = 0;
    if (Files.isDirectory(published)) {
      try (Stream<Path> list = Files.list(published)) {
        for (Path p : list.toList()) {
          Matcher m = ROOT_FILE.matcher(p.getFileName().toString());
          if (m.matches()) {
            latest = Math.max(latest, Long.parseLong(m.group(1)));
          }
        }
      }
    }
    if (latest == 0) {
      return new Published(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
    }
    try {
      Metadata root = Metadata.parse(latest + ".root.json", Files.readAllBytes(published.resolve(latest + ".root.json")),
          Role.ROOT);
      Path timestampFile = published.resolve(TrustedStore.TIMESTAMP);
      if (!Files.isRegularFile(timestampFile)) {
        return new Published(Optional.of(root), Optional.empty(), Optional.empty(), Optional.empty());
      }
      Metadata timestamp = Metadata.parse(TrustedStore.TIMESTAMP, Files.readAllBytes(timestampFile), Role.TIMESTAMP);
      long snapshotVersion = timestamp.meta().get(Role.SNAPSHOT.fileName()).version();
      String snapshotFile = snapshotVersion + ".snapshot.json";
      Metadata snapshot = Metadata.parse(snapshotFile, Files.readAllBytes(published.resolve(snapshotFile)), Role.SNAPSHOT);
      Metadata.MetaFile targetsMeta = snapshot.meta().get(Role.TARGETS.fileName());
      String targetsFile = targetsMeta.version() + ".targets.json";
      Metadata targets = Metadata.parse(targetsFile, Files.readAllBytes(published.resolve(targetsFile)), Role.TARGETS);
      return new Published(Optional.of(root), Optional.of(timestamp), Optional.of(snapshot), Optional.of(targets));
    } catch (MalformedMetadataException e) {
      throw new RepositoryStateException("published " + e.file(), e.problem());
    } catch (NoSuchFileException e) {
      throw new RepositoryStateException(published.toString(), "expected a complete feed but found " + e.getFile()
          + " missing");
    }
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
