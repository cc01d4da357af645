package dev.tourniquet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.MitigationException;
import dev.tourniquet.feed.mitigation.MitigationParser;
import dev.tourniquet.feed.tuf.BundleFetcher;
import dev.tourniquet.feed.tuf.ExpiredMitigationException;
import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.feed.tuf.FeedVerificationException;
import dev.tourniquet.feed.tuf.IdCaseConflictException;
import dev.tourniquet.feed.tuf.KeyNotAuthorisedException;
import dev.tourniquet.feed.tuf.Fetcher;
import dev.tourniquet.feed.tuf.Fetchers;
import dev.tourniquet.feed.tuf.Limits;
import dev.tourniquet.feed.tuf.PublisherException;
import dev.tourniquet.feed.tuf.RevisionRollbackException;
import dev.tourniquet.feed.tuf.Role;
import dev.tourniquet.feed.tuf.SigningKey;
import dev.tourniquet.feed.tuf.TargetFile;
import dev.tourniquet.feed.tuf.TrustedFeed;
import dev.tourniquet.feed.tuf.TufClient;
import dev.tourniquet.feed.tuf.VerificationKey;
import dev.tourniquet.rules.Problem;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code tourniquet feed …}: the publisher's workflow over a TUF feed repository, from an empty directory
 * to a published, signed feed of mitigations, and the agent's verification of it. The repository layout,
 * key files and bundle format are in {@code docs/publishing.md}; the verbs map one to one onto
 * {@link FeedRepository}.
 */
@Command(
    name = "feed",
    mixinStandardHelpOptions = true,
    description = {"Publish a signed feed of mitigations (a TUF 1.0 repository) and verify one as an agent would.",
        "Workflow: keys generate, feed init, feed add, feed sign (or sign --file + merge elsewhere), feed publish;",
        "then feed timestamp on a schedule. See docs/publishing.md."},
    subcommands = {FeedCommand.Init.class, FeedCommand.Check.class, FeedCommand.Add.class, FeedCommand.Remove.class,
        FeedCommand.ListTargets.class, FeedCommand.Status.class, FeedCommand.Sign.class, FeedCommand.Merge.class,
        FeedCommand.Discard.class, FeedCommand.Publish.class, FeedCommand.Timestamp.class, FeedCommand.Renew.class,
        FeedCommand.Rotate.class,
        FeedCommand.Bundle.class, FeedCommand.Verify.class})
final class FeedCommand {
  private static final ObjectMapper JSON = new ObjectMapper();

  private FeedCommand() {}

  /** A verb that works on a repository directory. */
  abstract static class RepositoryVerb extends Verb {
    @Option(names = "--repo", paramLabel = "DIR", defaultValue = ".",
        description = "The repository directory (default: the current directory).")
    Path repo;

    FeedRepository open() throws PublisherException, IOException, Failed {
      // Run from the wrong directory, "." alone names nothing, and "create one with init" would start a second
      // feed with a new root: name the directory and the option that points elsewhere.
      if (!Files.exists(repo.resolve("repository.json"))) {
        throw new Failed(repo.toAbsolutePath().normalize() + ": expected a feed repository (repository.json) but found"
            + " none; give its directory with --repo DIR (default: the current directory), or create one with feed init");
      }
      return FeedRepository.open(repo, Clock.systemUTC());
    }
  }

  /** Durations as {@code 365d}, {@code 12h}, {@code 30m} or ISO-8601 ({@code P365D}, {@code PT12H}). */
  static final class DurationConverter implements ITypeConverter<Duration> {
    private static final Pattern SHORT = Pattern.compile("([1-9][0-9]{0,5})([dhm])");

    @Override
    public Duration convert(String value) {
      Matcher m = SHORT.matcher(value);
      if (m.matches()) {
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
          case "d" -> Duration.ofDays(n);
          case "h" -> Duration.ofHours(n);
          default -> Duration.ofMinutes(n);
        };
      }
      try {
        Duration d = Duration.parse(value);
        if (!d.isNegative() && !d.isZero()) {
          return d;
        }
      } catch (DateTimeParseException e) {
        // Reported below.
      }
      throw new TypeConversionException("expected a positive duration such as 365d, 12h, 30m or P365D but found '"
          + value + "'");
    }
  }

  /** Role names as metadata writes them: root, targets, snapshot, timestamp. */
  static final class RoleConverter implements ITypeConverter<Role> {
    @Override
    public Role convert(String value) {
      for (Role role : Role.values()) {
        if (role.typeName().equals(value)) {
          return role;
        }
      }
      throw new TypeConversionException("expected root, targets, snapshot or timestamp but found '" + value + "'");
    }
  }

  // ---------------------------------------------------------------------------------------------- init

  @Command(name = "init", mixinStandardHelpOptions = true,
      description = {"Create a repository: stage root version 1 and an empty targets version 1.",
          "The root lists each role's public keys and threshold. Then add mitigations, sign root and targets,"
              + " and publish."})
  static final class Init extends RepositoryVerb {
    @Option(names = "--root-key", required = true, paramLabel = "PUB", description = "A root public key file (repeat for each root key).")
    List<Path> rootKeys;

    @Option(names = "--root-threshold", defaultValue = "1", paramLabel = "N", description = "Root signatures required (default 1).")
    int rootThreshold;

    @Option(names = "--targets-key", required = true, paramLabel = "PUB", description = "A targets public key file (repeatable).")
    List<Path> targetsKeys;

    @Option(names = "--targets-threshold", defaultValue = "1", paramLabel = "N", description = "Targets signatures required (default 1).")
    int targetsThreshold;

    @Option(names = "--snapshot-key", required = true, paramLabel = "PUB", description = "A snapshot public key file (repeatable).")
    List<Path> snapshotKeys;

    @Option(names = "--snapshot-threshold", defaultValue = "1", paramLabel = "N", description = "Snapshot signatures required (default 1).")
    int snapshotThreshold;

    @Option(names = "--timestamp-key", required = true, paramLabel = "PUB", description = "A timestamp public key file (repeatable).")
    List<Path> timestampKeys;

    @Option(names = "--timestamp-threshold", defaultValue = "1", paramLabel = "N", description = "Timestamp signatures required (default 1).")
    int timestampThreshold;

    @Option(names = "--root-validity", defaultValue = "365d", converter = DurationConverter.class, paramLabel = "DURATION",
        description = "How long signed root metadata stays valid (default 365d).")
    Duration rootValidity;

    @Option(names = "--targets-validity", defaultValue = "90d", converter = DurationConverter.class, paramLabel = "DURATION",
        description = "How long signed targets metadata stays valid (default 90d).")
    Duration targetsValidity;

    @Option(names = "--snapshot-validity", defaultValue = "30d", converter = DurationConverter.class, paramLabel = "DURATION",
        description = "How long snapshot metadata stays valid (default 30d).")
    Duration snapshotValidity;

    @Option(names = "--timestamp-validity", defaultValue = "1d", converter = DurationConverter.class, paramLabel = "DURATION",
        description = "How long timestamp metadata stays valid (default 1d); refresh it well within that.")
    Duration timestampValidity;

    @Override
    void run() throws Exception {
      Map<Role, FeedRepository.KeySet> keys = new EnumMap<>(Role.class);
      keys.put(Role.ROOT, keySet("--root-key", rootKeys, rootThreshold));
      keys.put(Role.TARGETS, keySet("--targets-key", targetsKeys, targetsThreshold));
      keys.put(Role.SNAPSHOT, keySet("--snapshot-key", snapshotKeys, snapshotThreshold));
      keys.put(Role.TIMESTAMP, keySet("--timestamp-key", timestampKeys, timestampThreshold));
      FeedRepository.init(repo, keys, new FeedRepository.Validity(rootValidity, targetsValidity, snapshotValidity,
          timestampValidity), Clock.systemUTC());
      out().println("initialised feed repository " + repo);
      warnAboutSharedRootKeys(keys);
      out().printf(Locale.ROOT, "staged root version 1: sign it with %d of the %d root keys%n", rootThreshold, rootKeys.size());
      out().printf(Locale.ROOT, "staged targets version 1: sign it with %d of the %d targets keys (after adding mitigations)%n",
          targetsThreshold, targetsKeys.size());
    }

    /**
     * A root key that also signs another role is no longer offline: snapshot and timestamp keys sign at every
     * publish, and whoever holds one of them could then also sign a new root. Allowed (a demo, a test feed),
     * but said.
     */
    private void warnAboutSharedRootKeys(Map<Role, FeedRepository.KeySet> keys) {
      for (int i = 0; i < rootKeys.size(); i++) {
        String id = keys.get(Role.ROOT).keys().get(i).keyId();
        List<String> roles = new ArrayList<>();
        for (Role role : List.of(Role.TARGETS, Role.SNAPSHOT, Role.TIMESTAMP)) {
          if (keys.get(role).keys().stream().anyMatch(k -> k.keyId().equals(id))) {
            roles.add(role.name().toLowerCase(Locale.ROOT));
          }
        }
        if (!roles.isEmpty()) {
          err().println("warning: the root key " + rootKeys.get(i) + " also signs " + String.join(" and ", roles)
              + ": a root key belongs offline, and one that signs other roles is used where they are; for a feed"
              + " agents trust, give each role its own key (keys generate)");
        }
      }
    }

    private static FeedRepository.KeySet keySet(String option, List<Path> files, int threshold) throws IOException {
      if (threshold < 1 || threshold > files.size()) {
        // Named after the option that set it (--root-threshold), not the keys it is checked against.
        String thresholdOption = option.replace("-key", "-threshold");
        throw new IllegalArgumentException(thresholdOption + ": expected 1 to " + files.size() + " (the number of "
            + option + " files given) but found " + threshold);
      }
      List<VerificationKey> keys = new ArrayList<>();
      for (Path file : files) {
        keys.add(VerificationKey.read(file));
      }
      try {
        return new FeedRepository.KeySet(keys, threshold);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(option + ": " + e.getMessage(), e);
      }
    }
  }

  // ---------------------------------------------------------------------------------------- documents

  /** A mitigation document as read: the exact bytes validated, so that the same bytes are staged. */
  record Document(byte[] bytes, Mitigation mitigation) {}

  /** Reads and validates a mitigation document; problems become lines {@code FILE: path: message}. */
  static Document readMitigation(Path file, List<String> problems) throws IOException {
    String name = file.getFileName() == null ? file.toString() : file.getFileName().toString();
    if (Files.isDirectory(file)) {
      // Reading a directory fails with a bare "Is a directory" that names no file.
      problems.add(name + ": document: expected a mitigation document (a JSON file) but found the directory " + file
          + "; name its files (" + file + java.io.File.separator + "*.json)");
      return null;
    }
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MitigationParser.MAX_BYTES + 1);
    }
    try {
      return new Document(bytes, MitigationParser.parse(bytes));
    } catch (MitigationException e) {
      for (Problem p : e.problems()) {
        problems.add(name + ": " + p);
      }
      return null;
    }
  }

  static String summary(Mitigation m) {
    String kinds = m.actions().stream().map(Action::kind).distinct().collect(Collectors.joining(", "));
    return String.format(Locale.ROOT, "%s %s %s, %d action%s (%s), %s", m.appliedId(), m.severity().jsonName(),
        m.mode().jsonName(), m.actions().size(), m.actions().size() == 1 ? "" : "s", kinds,
        m.applicability().product());
  }

  @Command(name = "check", mixinStandardHelpOptions = true,
      description = {"Validate mitigation documents without a repository (the same checks feed add and agents run,"
          + " an expiry already past included).",
          "Exit 0 and one summary line per file when all are valid; exit 2 and one line per problem when not."})
  static final class Check extends Verb {
    @Parameters(paramLabel = "FILE", arity = "1..*", description = "Mitigation documents (tourniquet-mitigation/1 JSON).")
    List<Path> files;

    @Override
    void run() throws Exception {
      List<String> problems = new ArrayList<>();
      List<String> valid = new ArrayList<>();
      Instant now = Instant.now();
      for (Path file : files) {
        Document document = readMitigation(file, problems);
        if (document == null) {
          continue;
        }
        Mitigation m = document.mitigation();
        if (m.isExpiredAt(now)) {
          // feed add would refuse it (and agents skip it) in these words: an author is not told it is fine first.
          problems.add(file.getFileName() + ": expires: expected an instant after now (" + now + ") but found "
              + m.expires().orElseThrow());
        } else {
          valid.add(file.getFileName() + ": valid: " + summary(m));
        }
      }
      valid.forEach(out()::println);
      if (!problems.isEmpty()) {
        problems.forEach(out()::println);
        throw new Invalid(List.of());
      }
    }
  }

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = {"Validate mitigation documents and stage each as target mitigations/<id>.json in the next targets version.",
          "A document that does not validate, has expired, has an id that differs only in case from one in the feed,",
          "or whose revision is not above the feed's is refused: exit 2, one line per problem, nothing staged.",
          "Then sign targets and publish."})
  static final class Add extends RepositoryVerb {
    @Parameters(paramLabel = "FILE", arity = "1..*", description = "Mitigation documents.")
    List<Path> files;

    @Override
    void run() throws Exception {
      FeedRepository repository = open();
      // One list of problems per file, so that what the repository refuses goes under its file.
      List<List<String>> problemsOf = new ArrayList<>();
      Map<String, Integer> fileOfTarget = new LinkedHashMap<>();
      Map<String, byte[]> staged = new LinkedHashMap<>();
      List<String> notes = new ArrayList<>();
      Map<String, String> idsInThisRun = new LinkedHashMap<>();
      for (Path file : files) {
        String name = file.getFileName().toString();
        List<String> problems = new ArrayList<>();
        problemsOf.add(problems);
        Document document = readMitigation(file, problems);
        if (document == null) {
          continue;
        }
        Mitigation m = document.mitigation();
        String lower = m.id().toLowerCase(Locale.ROOT);
        String earlier = idsInThisRun.putIfAbsent(lower, name);
        if (earlier != null) {
          problems.add(name + ": id: expected a mitigation once per run but found \"" + m.id() + "\" in " + earlier + " too");
          continue;
        }
        // What the document does to the feed, for the publisher to read back. Whether it may be staged (its expiry,
        // an id that differs from another only in case, its revision) is the repository's rule
        // (FeedRepository.addTargets), checked below for every document at once.
        Optional<Mitigation> published = feedRevision(name, m, repository.readPublishedTarget(m.targetName()));
        Optional<Mitigation> current = feedRevision(name, m, repository.readTarget(m.targetName()));
        int last = repository.lastPublishedRevision(m.id()).orElse(0);
        String note = "new";
        if (published.isPresent()) {
          note = "revises " + published.get().appliedId();
        } else if (last > 0) {
          note = "re-adds " + m.id() + ", withdrawn at " + m.id() + "." + last;
        }
        if (current.isPresent() && !current.equals(published)) {
          note += ", replaces staged " + current.get().appliedId();
        }
        // The bytes validated are the bytes signed: the file is not read again.
        staged.put(m.targetName(), document.bytes());
        fileOfTarget.put(m.targetName(), problemsOf.size() - 1);
        notes.add("staged " + m.targetName() + " (" + m.appliedId() + ", " + note + ")");
      }
      try {
        if (!staged.isEmpty()) {
          repository.checkTargets(staged);
        }
        if (problemsOf.stream().allMatch(List::isEmpty)) {
          repository.addTargets(staged);
        }
      } catch (IdCaseConflictException | ExpiredMitigationException | RevisionRollbackException e) {
        // One exception per rule broken, the others suppressed by the first: listed under each file in the order
        // expiry, id, revision, whichever the repository threw first.
        List<Throwable> refused = new ArrayList<>(List.of(e));
        refused.addAll(List.of(e.getSuppressed()));
        for (Throwable t : refused) {
          if (t instanceof ExpiredMitigationException x) {
            x.refusals().forEach(r -> addUnder(problemsOf, fileOfTarget, r.target(), "expires", r.problem()));
          }
        }
        for (Throwable t : refused) {
          if (t instanceof IdCaseConflictException x) {
            x.refusals().forEach(r -> addUnder(problemsOf, fileOfTarget, r.target(), "id", r.problem()));
          }
        }
        for (Throwable t : refused) {
          if (t instanceof RevisionRollbackException x) {
            x.refusals().forEach(r -> addUnder(problemsOf, fileOfTarget, r.target(), "revision", r.problem()));
          }
        }
      }
      List<String> problems = problemsOf.stream().flatMap(List::stream).collect(Collectors.toCollection(ArrayList::new));
      if (!problems.isEmpty()) {
        problems.add("nothing staged: the " + (files.size() == 1 ? "document is" : files.size() + " documents are")
            + " added together or not at all; mend the problems above and add again");
        throw new Invalid(problems);
      }
      notes.forEach(out()::println);
      out().println("next: sign targets (feed sign --role targets --key KEY), then publish");
    }

    /** Adds a problem the repository found with a target under the file it was read from. */
    private void addUnder(List<List<String>> problemsOf, Map<String, Integer> fileOfTarget, String target, String field,
        String problem) {
      int file = fileOfTarget.get(target);
      problemsOf.get(file).add(files.get(file).getFileName() + ": " + field + ": " + problem);
    }
  }

  /** Parses the feed's copy of a mitigation to compare revisions with. */
  private static Optional<Mitigation> feedRevision(String name, Mitigation m, Optional<byte[]> content) throws Verb.Invalid {
    if (content.isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.of(MitigationParser.parse(content.get()));
    } catch (MitigationException e) {
      throw new Verb.Invalid(name + ": revision: expected to compare with the feed's " + m.targetName()
          + " but it is not a valid mitigation document (" + e.problems().get(0) + "); withdraw it with feed remove first");
    }
  }

  /** The id of a target named {@code mitigations/<id>.json}, or null for other targets. */
  static String mitigationId(String target) {
    if (target.startsWith("mitigations/") && target.endsWith(".json") && target.indexOf('/', 12) < 0) {
      return target.substring("mitigations/".length(), target.length() - ".json".length());
    }
    return null;
  }

  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = "Withdraw mitigations by id in the next targets version; agents remove what they applied. Then sign targets and publish.")
  static final class Remove extends RepositoryVerb {
    @Parameters(paramLabel = "ID", arity = "1..*", description = "Mitigation ids, e.g. M1.")
    List<String> ids;

    @Override
    void run() throws Exception {
      FeedRepository repository = open();
      Map<String, TargetFile> existing = repository.targets();
      List<String> problems = new ArrayList<>();
      for (String id : ids) {
        String target = "mitigations/" + id + ".json";
        if (!existing.containsKey(target)) {
          String have = existing.keySet().stream().map(FeedCommand::mitigationId).filter(x -> x != null)
              .collect(Collectors.joining(", "));
          problems.add(id + ": expected a mitigation in the feed but found none; the feed has " + (have.isEmpty() ? "none" : have));
        }
      }
      if (!problems.isEmpty()) {
        throw new Invalid(problems);
      }
      for (String id : ids) {
        repository.removeTarget("mitigations/" + id + ".json");
        out().println("withdrew mitigations/" + id + ".json");
      }
      out().println("next: sign targets (feed sign --role targets --key KEY), then publish");
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = {"List the feed's mitigations as they will be after the next publish: applied id, severity, mode,"
          + " product, title.", "One that has expired is marked: agents skip it; withdraw it (feed remove ID) or add a"
          + " revision with a later expires."})
  static final class ListTargets extends RepositoryVerb {
    @Override
    void run() throws Exception {
      FeedRepository repository = open();
      Map<String, TargetFile> targets = repository.targets();
      Instant now = Instant.now();
      if (targets.isEmpty()) {
        out().println("no mitigations");
        return;
      }
      for (String name : targets.keySet()) {
        byte[] content = repository.readTarget(name).orElseThrow();
        if (mitigationId(name) == null) {
          out().println(name + "  (not a mitigation)");
          continue;
        }
        try {
          Mitigation m = MitigationParser.parse(content);
          String expired = m.isExpiredAt(now) ? "  (" + expiredNote(m) + ")" : "";
          out().printf(Locale.ROOT, "%-16s %-8s %-7s %s  %s%s%n", m.appliedId(), m.severity().jsonName(), m.mode().jsonName(),
              m.applicability().product(), m.title(), expired);
        } catch (MitigationException e) {
          out().println(name + "  (invalid: " + e.problems().get(0) + ")");
        }
      }
    }
  }

  /**
   * What {@code list} and {@code status} say of a mitigation that has expired. Published once, it holds no targets
   * version back (publish signs it again unchanged, since agents skip it already), so these two say it instead.
   */
  static String expiredNote(Mitigation m) {
    return "EXPIRED at " + m.expires().orElseThrow() + ": agents skip it; feed remove " + m.id()
        + ", or add a revision with a later expires";
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = {"Show the published versions and expiries, published mitigations that have expired, and how far"
          + " staged root and targets metadata are signed.",
          "Staged metadata that sign and publish would refuse (overtaken by another copy's publish, or staged targets"
              + " that break a rule of feed add, e.g. list a mitigation that has expired since) is named, with why."})
  static final class Status extends RepositoryVerb {
    @Override
    void run() throws Exception {
      FeedRepository repository = open();
      List<FeedRepository.PublishedRole> published = repository.published();
      out().println("repository " + repo);
      if (published.isEmpty()) {
        out().println("published: nothing yet");
      } else {
        Instant now = Instant.now();
        for (FeedRepository.PublishedRole r : published) {
          out().printf(Locale.ROOT, "published %-9s version %d, expires %s%s%n", r.role().typeName(), r.version(),
              r.expires(), r.expires().isAfter(now) ? "" : " (EXPIRED)");
        }
        printExpiredMitigations(repository, now);
      }
      printSigningStatus(repository, null, out());
    }

    /**
     * Names each mitigation the published feed lists that has expired and that the next publish would list unchanged
     * (one staged since is refused by sign and publish, and the signing status below says so).
     */
    private void printExpiredMitigations(FeedRepository repository, Instant now) throws Exception {
      for (String name : repository.targets().keySet()) {
        Optional<byte[]> published = mitigationId(name) == null ? Optional.empty() : repository.readPublishedTarget(name);
        if (published.isEmpty() || !Arrays.equals(published.get(), repository.readTarget(name).orElseThrow())) {
          continue;
        }
        try {
          Mitigation m = MitigationParser.parse(published.get());
          if (m.isExpiredAt(now)) {
            out().println("published " + m.appliedId() + ": " + expiredNote(m));
          }
        } catch (MitigationException e) {
          // Validated when it was added, so by an earlier version's rules: feed list names the problem.
        }
      }
    }
  }

  /** Prints one line per staged role and threshold; returns whether everything staged is signed enough. */
  static boolean printSigningStatus(FeedRepository repository, Role only, PrintWriter out)
      throws PublisherException, IOException {
    List<FeedRepository.SigningStatus> status = repository.status();
    boolean complete = true;
    for (FeedRepository.SigningStatus s : status) {
      if (only != null && s.role() != only) {
        continue;
      }
      out.printf(Locale.ROOT, "staged %s version %d: %d of %d signatures by %s keys of %s%s%n", s.role().typeName(),
          s.version(), s.valid(), s.threshold(), s.role().typeName(), s.keysOf(), s.complete() ? "" : " (needs more)");
      complete &= s.complete();
    }
    // A staged version another copy's publish overtook, or staged targets edited to break the repository's rules,
    // can never be published, however well signed.
    List<String> stale = status.stream().filter(s -> only == null || s.role() == only)
        .flatMap(s -> s.unpublishable().map(why -> "staged " + s.role().fileName() + ": " + why).stream())
        .distinct().toList();
    stale.forEach(out::println);
    if (only == null) {
      out.println(status.isEmpty() ? "staged: nothing" : !stale.isEmpty() ? "not ready to publish: the staged metadata"
          + " above can never be published as it is" : complete ? "ready to publish" : "not ready to publish: sign with"
          + " more keys");
    }
    complete &= stale.isEmpty();
    return complete;
  }

  // ------------------------------------------------------------------------------------------ signing

  @Command(name = "sign", mixinStandardHelpOptions = true,
      description = {"Sign staged root or targets metadata.",
          "--role ROLE signs in the repository; --file COPY signs on another machine (a copy of staged/root.json or"
              + " staged/targets.json, signed in place; bring it back and feed merge it).",
          "With --file, what is signed is printed first: read it before you trust it.",
          "--role refuses staged metadata that another copy's publish overtook (discard it), or staged targets that"
              + " take a revision back or list a mitigation that has expired since it was added; --file"
              + " cannot tell, so run feed status before carrying a copy to a signer"
              + " (feed merge refuses a copy that went stale on the way, naming its version)."})
  static final class Sign extends RepositoryVerb {
    @Option(names = "--role", converter = RoleConverter.class, paramLabel = "ROLE", description = "root or targets.")
    Role role;

    @Option(names = "--file", paramLabel = "COPY", description = "Sign this copy of staged metadata instead (no repository needed).")
    Path file;

    @Option(names = "--key", required = true, paramLabel = "KEY", description = "A private key file (repeatable).")
    List<Path> keys;

    @Mixin
    Passphrases passphrases;

    @Override
    void run() throws Exception {
      if ((role == null) == (file == null)) {
        throw new Invalid("tourniquet: feed sign: expected exactly one of --role and --file but found "
            + (role == null ? "neither" : "both"));
      }
      if (file != null) {
        describe(file, out());
        for (Path keyFile : keys) {
          SigningKey key = passphrases.readKey(keyFile);
          FeedRepository.signFile(file, key);
          out().println("signed " + file + " with key " + key.keyId());
        }
        return;
      }
      FeedRepository repository = open();
      for (Path keyFile : keys) {
        SigningKey key = passphrases.readKey(keyFile);
        try {
          repository.sign(role, key);
        } catch (KeyNotAuthorisedException e) {
          throw unauthorised(e, Map.of(key.keyId(), keyFile));
        }
        out().println("signed staged " + role.fileName() + " with key " + key.keyId());
      }
      printSigningStatus(repository, role, out());
    }
  }

  /** Prints what a copy of staged metadata says, so its signer knows what they sign. */
  static void describe(Path file, PrintWriter out) throws IOException, Verb.Invalid {
    JsonNode signed;
    try {
      signed = JSON.readTree(file.toFile()).path("signed");
    } catch (IOException e) {
      throw new Verb.Invalid("tourniquet: " + file + ": expected TUF metadata but found " + e.getMessage().lines().findFirst().orElse(""));
    }
    String type = signed.path("_type").asText("?");
    out.printf(Locale.ROOT, "%s: %s version %s, expires %s%n", file, type, signed.path("version").asText("?"),
        signed.path("expires").asText("?"));
    if (type.equals("root")) {
      signed.path("roles").properties().forEach(e -> out.printf(Locale.ROOT, "  %-9s threshold %d of keys %s%n", e.getKey(),
          e.getValue().path("threshold").asInt(), String.join(", ", texts(e.getValue().path("keyids")))));
    } else if (type.equals("targets")) {
      signed.path("targets").properties().forEach(e -> out.printf(Locale.ROOT, "  %s  %d bytes  sha256 %s%n", e.getKey(),
          e.getValue().path("length").asLong(), e.getValue().path("hashes").path("sha256").asText()));
      // Signed too: a copy that raised a revision here would keep the id from ever coming back below it.
      signed.path("x-tourniquet-withdrawn").properties().forEach(e -> out.printf(Locale.ROOT,
          "  withdrawn %s.%s: %s can come back only above revision %s%n", e.getKey(), e.getValue().asText(), e.getKey(),
          e.getValue().asText()));
    }
  }

  private static List<String> texts(JsonNode array) {
    List<String> result = new ArrayList<>();
    array.forEach(n -> result.add(n.asText()));
    return result;
  }

  @Command(name = "merge", mixinStandardHelpOptions = true,
      description = {"Merge the signatures of copies signed elsewhere (feed sign --file) into the staged metadata.",
          "Refuses staged metadata that another copy's publish overtook (discard it), staged targets that take a"
              + " revision back or list a mitigation that has expired since it was added, a copy of other content or of a version"
              + " published or discarded since it was taken, a signature by a key the role does not list, or one that"
              + " does not verify."})
  static final class Merge extends RepositoryVerb {
    @Parameters(paramLabel = "COPY", arity = "1..*", description = "Signed copies of staged/root.json or staged/targets.json.")
    List<Path> copies;

    @Override
    void run() throws Exception {
      FeedRepository repository = open();
      for (Path copy : copies) {
        String type;
        try {
          type = JSON.readTree(copy.toFile()).path("signed").path("_type").asText("");
        } catch (IOException e) {
          throw new Invalid("tourniquet: " + copy + ": expected TUF metadata but found no JSON");
        }
        Role role = switch (type) {
          case "root" -> Role.ROOT;
          case "targets" -> Role.TARGETS;
          default -> throw new Invalid("tourniquet: " + copy + ": expected root or targets metadata but found _type \""
              + type + "\"");
        };
        repository.merge(role, copy);
        out().println("merged " + copy + " into staged " + role.fileName());
      }
      printSigningStatus(repository, null, out());
    }
  }

  @Command(name = "discard", mixinStandardHelpOptions = true,
      description = {"Discard the staged root or targets metadata and its signatures; the published feed stays as it is.",
          "For targets: every add and remove since the last publish. For root: a staged key change or renewal.",
          "Then stage the changes again on the published feed (e.g. after another copy of the repository published)."})
  static final class Discard extends RepositoryVerb {
    @Option(names = "--role", required = true, converter = RoleConverter.class, paramLabel = "ROLE", description = "root or targets.")
    Role role;

    @Override
    void run() throws Exception {
      FeedRepository repository = open();
      repository.discard(role);
      out().println("discarded staged " + role.fileName());
      printSigningStatus(repository, null, out());
    }
  }

  // --------------------------------------------------------------------------------------- publishing

  @Command(name = "publish", mixinStandardHelpOptions = true,
      description = {"Publish the feed to DIR/published, verified first exactly as an agent would.",
          "Checks that staged root and targets meet their thresholds, signs new snapshot and timestamp metadata,"
              + " verifies the complete feed, and only then writes it (timestamp last).",
          "Refuses staged targets edited (by hand or another tool) to take a revision back, forget a withdrawn one or"
              + " list an id that differs from another only in case, and staged targets that list a mitigation that has"
              + " expired since it was added (withdraw it, or add a revision with a later expires).",
          "With nothing staged, re-signs snapshot and timestamp. Serve DIR/published as it is."})
  static final class Publish extends RepositoryVerb {
    @Option(names = "--snapshot-key", required = true, paramLabel = "KEY", description = "A snapshot private key file (repeatable).")
    List<Path> snapshotKeys;

    @Option(names = "--timestamp-key", required = true, paramLabel = "KEY", description = "A timestamp private key file (repeatable).")
    List<Path> timestampKeys;

    @Mixin
    Passphrases passphrases;

    @Override
    void run() throws Exception {
      FeedRepository repository = open();
      Map<String, Path> files = new LinkedHashMap<>();
      TrustedFeed feed;
      try {
        feed = repository.publish(readKeys(snapshotKeys, passphrases, files), readKeys(timestampKeys, passphrases, files));
      } catch (KeyNotAuthorisedException e) {
        throw unauthorised(e, files);
      }
      out().println("published " + repo.resolve("published"));
      printFeed(feed, out());
    }
  }

  /** Reads private key files, recording which file each key id came from. */
  static List<SigningKey> readKeys(List<Path> files, Passphrases passphrases, Map<String, Path> fileOfKey)
      throws Exception {
    List<SigningKey> keys = new ArrayList<>();
    for (Path file : files) {
      SigningKey key = passphrases.readKey(file);
      fileOfKey.putIfAbsent(key.keyId(), file);
      keys.add(key);
    }
    return keys;
  }

  /** A key the role does not list, named by the file it was read from: a key id alone names no file. */
  static Verb.Failed unauthorised(KeyNotAuthorisedException e, Map<String, Path> fileOfKey) {
    Path file = fileOfKey.get(e.keyId());
    return new Verb.Failed(e.getMessage() + (file == null ? "" : ", from " + file) + "; give the private key file of a "
        + e.role().typeName() + " key that the root lists (keys show FILE prints a file's key id)");
  }

  static void printFeed(TrustedFeed feed, PrintWriter out) {
    out.printf(Locale.ROOT, "  root version %d, timestamp version %d, snapshot version %d, targets version %d%n",
        feed.rootVersion(), feed.timestampVersion(), feed.snapshotVersion(), feed.targetsVersion());
    out.printf(Locale.ROOT, "  %d target%s; valid until %s%n", feed.targets().size(), feed.targets().size() == 1 ? "" : "s",
        feed.expires());
  }

  @Command(name = "timestamp", mixinStandardHelpOptions = true,
      description = {"Re-sign the timestamp: a new version and expiry, the same snapshot.",
          "Agents tell a live feed from a frozen one by it: run this on a schedule well within the timestamp's"
              + " validity."})
  static final class Timestamp extends RepositoryVerb {
    @Option(names = "--timestamp-key", required = true, paramLabel = "KEY", description = "A timestamp private key file (repeatable).")
    List<Path> timestampKeys;

    @Option(names = "--validity", converter = DurationConverter.class, paramLabel = "DURATION",
        description = "Validity of this timestamp instead of the repository's (e.g. 7d before carrying a bundle to an air-gapped site).")
    Duration validity;

    @Mixin
    Passphrases passphrases;

    @Override
    void run() throws Exception {
      FeedRepository repository = open();
      if (validity != null) {
        FeedRepository.Validity v = repository.validity();
        repository = repository.withValidity(new FeedRepository.Validity(v.root(), v.targets(), v.snapshot(), validity));
      }
      Map<String, Path> files = new LinkedHashMap<>();
      TrustedFeed feed;
      try {
        feed = repository.refreshTimestamp(readKeys(timestampKeys, passphrases, files));
      } catch (KeyNotAuthorisedException e) {
        throw unauthorised(e, files);
      }
      out().println("refreshed timestamp: version " + feed.timestampVersion() + ", valid until " + feed.expires());
    }
  }

  @Command(name = "renew", mixinStandardHelpOptions = true,
      description = "Stage root or targets metadata with the same content and a fresh expiry, before the published one expires; then sign and publish.")
  static final class Renew extends RepositoryVerb {
    @Option(names = "--role", required = true, converter = RoleConverter.class, paramLabel = "ROLE", description = "root or targets.")
    Role role;

    @Override
    void run() throws Exception {
      FeedRepository repository = open();
      repository.renew(role);
      out().println("staged a renewal of " + role.fileName());
      printSigningStatus(repository, role, out());
    }
  }

  @Command(name = "rotate", mixinStandardHelpOptions = true,
      description = {"Change a role's keys or threshold: stage the next root version.",
          "Sign it with a threshold of the published root's root keys and of the new root's root keys (TUF 5.3.4),"
              + " then publish. After a targets key change, renew targets and sign them with the new key; after a"
              + " snapshot or timestamp key change, publish with the new key."})
  static final class Rotate extends RepositoryVerb {
    @Option(names = "--role", required = true, converter = RoleConverter.class, paramLabel = "ROLE",
        description = "root, targets, snapshot or timestamp.")
    Role role;

    @Option(names = "--add", paramLabel = "PUB", description = "A public key file to add (repeatable).")
    List<Path> add = new ArrayList<>();

    @Option(names = "--remove", paramLabel = "KEY", description = "A key to remove: its id, or its public key file (repeatable).")
    List<String> remove = new ArrayList<>();

    @Option(names = "--threshold", paramLabel = "N", description = "The new threshold (default: unchanged).")
    Integer threshold;

    @Override
    void run() throws Exception {
      if (add.isEmpty() && remove.isEmpty() && threshold == null) {
        throw new Invalid("tourniquet: feed rotate: expected --add, --remove or --threshold but found none");
      }
      List<VerificationKey> added = new ArrayList<>();
      for (Path file : add) {
        added.add(VerificationKey.read(file));
      }
      List<String> removed = new ArrayList<>();
      for (String key : remove) {
        removed.add(key.matches("[0-9a-f]{64}") ? key : VerificationKey.read(Path.of(key)).keyId());
      }
      FeedRepository repository = open();
      repository.changeKeys(role, added, removed, threshold == null ? OptionalInt.empty() : OptionalInt.of(threshold));
      added.forEach(k -> out().println("added " + role.typeName() + " key " + k.keyId()));
      removed.forEach(k -> out().println("removed " + role.typeName() + " key " + k));
      printSigningStatus(repository, Role.ROOT, out());
      out().println("next: sign the staged root with the old and the new root keys (feed sign --role root), then publish");
    }
  }

  @Command(name = "bundle", mixinStandardHelpOptions = true,
      description = {"Write an offline bundle, for sites without network access.",
          "One file with the whole root chain, the current metadata and the mitigations; verified as an agent would"
              + " before it is written."})
  static final class Bundle extends RepositoryVerb {
    @Option(names = "--out", required = true, paramLabel = "FILE", description = "The bundle file to write.")
    Path out;

    @Override
    void run() throws Exception {
      TrustedFeed feed = open().writeBundle(out);
      out().println("wrote bundle " + out);
      printFeed(feed, out());
    }
  }

  // ----------------------------------------------------------------------------------------- verifying

  @Command(name = "verify", mixinStandardHelpOptions = true,
      description = {"Verify a published feed from scratch, exactly as an agent does.",
          "Trusts only --root, runs the TUF client workflow (root chain, thresholds, rollback, expiry, snapshot and"
              + " targets listings, hashes, sizes), downloads every target and validates every mitigation document."
              + " Prints what it verified; exit 1 with the failed check when anything does not verify."})
  static final class Verify extends Verb {
    @Option(names = "--root", required = true, paramLabel = "ROOT",
        description = "The trusted root metadata, obtained out of band (e.g. the feed's 1.root.json, shipped with the agent).")
    Path root;

    @Option(names = "--from", required = true, paramLabel = "SOURCE",
        description = "The feed: a directory (a published/ directory or a mirror), an http(s) URL, or a bundle file.")
    String from;

    @Override
    void run() throws Exception {
      byte[] rootBytes = Files.readAllBytes(root);
      Path store = Files.createTempDirectory("tourniquet-verify-");
      Fetcher fetcher = null;
      try {
        fetcher = fetcher(from);
        TufClient.bootstrap(store, rootBytes);
        TufClient client = TufClient.open(store, fetcher, Clock.systemUTC(), Limits.defaults(), false);
        TrustedFeed feed = client.refresh();
        List<String> lines = new ArrayList<>();
        for (TargetFile target : feed.targets().values()) {
          byte[] content = client.download(target.name());
          String id = mitigationId(target.name());
          String hash = target.hashes().getOrDefault("sha256", "?");
          if (id == null) {
            lines.add(String.format(Locale.ROOT, "  %s  %d bytes  sha256 %s", target.name(), content.length, hash));
            continue;
          }
          Mitigation m;
          try {
            m = MitigationParser.parse(content);
          } catch (MitigationException e) {
            throw new FeedContentException(target.name() + ": verified, but expected a valid mitigation document and found "
                + e.problems().get(0));
          }
          if (!m.id().equals(id)) {
            throw new FeedContentException(target.name() + ": verified, but expected the mitigation with id \"" + id
                + "\" its name promises and found \"" + m.id() + "\"");
          }
          lines.add(String.format(Locale.ROOT, "  %-16s %s  %d bytes  sha256 %s", m.appliedId(), target.name(),
              content.length, hash));
        }
        out().println("verified " + from + " against trusted root " + root.getFileName());
        printFeed(feed, out());
        lines.forEach(out()::println);
      } catch (FeedVerificationException | FeedContentException e) {
        throw new Failed("verification failed: " + e.getMessage());
      } finally {
        if (fetcher instanceof BundleFetcher bundle) {
          bundle.close();
        }
        deleteTree(store);
      }
    }

    private static Fetcher fetcher(String source) throws IOException, Invalid {
      if (source.startsWith("https://") || source.startsWith("http://")) {
        return Fetchers.http(URI.create(source));
      }
      Path path = Path.of(source);
      if (Files.isDirectory(path)) {
        return Fetchers.directory(path);
      }
      if (Files.isRegularFile(path)) {
        return Fetchers.bundle(path);
      }
      throw new Invalid("tourniquet: --from: expected a directory, a bundle file or an http(s) URL but found " + source);
    }
  }

  /** A verified target is not what a feed of mitigations must hold. */
  private static final class FeedContentException extends Exception {
    private static final long serialVersionUID = 1L;

    FeedContentException(String message) {
      super(message, null, false, false);
    }
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
