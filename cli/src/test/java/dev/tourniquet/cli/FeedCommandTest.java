package dev.tourniquet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.feed.tuf.KeyFiles;
import dev.tourniquet.feed.tuf.Role;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The publisher's command line, end to end through {@link Main#run}: keys, a feed repository whose root
 * keys live on separate machines (directories here, staged files carried between them), publishing the
 * M1 example, and verifying the result as an agent would, from a directory and from a bundle.
 */
class FeedCommandTest {
  private static final Path ROOT = Path.of(System.getProperty("tourniquet.repo.root", "..")).toAbsolutePath().normalize();
  private static final Path EXAMPLES = ROOT.resolve("examples/mitigations");
  private static final String NOTHING_STAGED = "nothing staged: the document is added together or not at all; mend the problems above and add again";

  @TempDir
  Path tmp;

  record Result(int code, String out, String err) {
    List<String> errLines() {
      return err.lines().toList();
    }
  }

  static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
    return new Result(code, out.toString(), err.toString());
  }

  /** Runs and requires success, so a broken step fails where it breaks. */
  static Result ok(String... args) {
    Result r = run(args);
    assertThat(r.code()).as("tourniquet %s%nout: %s%nerr: %s", String.join(" ", args), r.out(), r.err()).isZero();
    return r;
  }

  private Path repo() {
    return tmp.resolve("publisher/feed");
  }

  private String repoArg() {
    return repo().toString();
  }

  private Path key(String name) {
    return tmp.resolve("publisher/keys").resolve(name);
  }

  private Path machine(int n) {
    return tmp.resolve("machine-" + n);
  }

  private Path published() {
    return repo().resolve("published");
  }

  /**
   * Keys: root-1 with the publisher, root-2 and root-3 generated on their holders' machines (threshold 2 of
   * 3); targets, snapshot and timestamp keys with the publisher. Then init.
   */
  private void initialise() throws IOException {
    for (String name : List.of("root-1", "targets", "snapshot", "timestamp")) {
      ok("keys", "generate", "--out", key(name).toString());
    }
    for (int n : List.of(2, 3)) {
      ok("keys", "generate", "--out", machine(n).resolve("root-" + n).toString());
    }
    ok("feed", "init", "--repo", repoArg(),
        "--root-key", key("root-1.pub.json").toString(),
        "--root-key", machine(2).resolve("root-2.pub.json").toString(),
        "--root-key", machine(3).resolve("root-3.pub.json").toString(),
        "--root-threshold", "2",
        "--targets-key", key("targets.pub.json").toString(),
        "--snapshot-key", key("snapshot.pub.json").toString(),
        "--timestamp-key", key("timestamp.pub.json").toString());
  }

  /** Carries the staged root to a root key holder's machine, signs it there, and merges it back. */
  private void signRootOnMachine(int n) throws IOException {
    Path copy = machine(n).resolve("root.json");
    Files.copy(repo().resolve("staged/root.json"), copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Result signed = ok("feed", "sign", "--file", copy.toString(), "--key", machine(n).resolve("root-" + n + ".key").toString());
    assertThat(signed.out()).contains(": root version ").contains("root      threshold 2 of keys");
    Path back = tmp.resolve("publisher/root-signed-" + n + ".json");
    Files.copy(copy, back, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    ok("feed", "merge", "--repo", repoArg(), back.toString());
  }

  private Result publish() {
    return run("feed", "publish", "--repo", repoArg(), "--snapshot-key", key("snapshot.key").toString(),
        "--timestamp-key", key("timestamp.key").toString());
  }

  /** From nothing to a published feed carrying M1. */
  private void publishM1() throws IOException {
    initialise();
    ok("feed", "add", "--repo", repoArg(), EXAMPLES.resolve("M1.json").toString());
    signRootOnMachine(2);
    signRootOnMachine(3);
    ok("feed", "sign", "--repo", repoArg(), "--role", "targets", "--key", key("targets.key").toString());
    assertThat(publish().code()).isZero();
  }

  private Result verify(String from) {
    return run("feed", "verify", "--root", published().resolve("1.root.json").toString(), "--from", from);
  }

  private Path revisedM1(int revision) throws IOException {
    Path file = tmp.resolve("M1-r" + revision + ".json");
    Files.writeString(file, Files.readString(EXAMPLES.resolve("M1.json")).replace("\"revision\": 1,", "\"revision\": " + revision + ","));
    return file;
  }

  private void signTargetsAndPublish() {
    ok("feed", "sign", "--repo", repoArg(), "--role", "targets", "--key", key("targets.key").toString());
    assertThat(publish().code()).isZero();
  }

  // ------------------------------------------------------------------------------------------- keys

  @Test
  void keysGenerateWritesAnOwnerOnlyPrivateKeyAndAPublicKeyWithTheSameId() throws IOException {
    Result r = ok("keys", "generate", "--out", tmp.resolve("k/root-1").toString());

    String id = r.out().lines().findFirst().orElseThrow().replace("generated ed25519 key ", "");
    assertThat(id).matches("[0-9a-f]{64}");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tmp.resolve("k/root-1.key")))).isEqualTo("rw-------");
    assertThat(Files.readString(tmp.resolve("k/root-1.key"))).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(ok("keys", "show", tmp.resolve("k/root-1.pub.json").toString(), tmp.resolve("k/root-1.key").toString()).out())
        .isEqualTo(id + "  ed25519  " + tmp.resolve("k/root-1.pub.json") + "\n" + id + "  ed25519  " + tmp.resolve("k/root-1.key") + "\n");
  }

  @Test
  void keysGenerateRefusesToOverwriteAnExistingKey() {
    ok("keys", "generate", "--out", tmp.resolve("k").toString());

    Result again = run("keys", "generate", "--out", tmp.resolve("k").toString());

    assertThat(again.code()).isEqualTo(1);
    assertThat(again.err()).contains(tmp.resolve("k.key").toString()).contains("keys are never overwritten");
  }

  @Test
  void keysGenerateRefusesAPrefixThatAlreadyEndsInAKeyFileExtension() throws IOException {
    for (String out : List.of("root-1.key", "root-1.pub.json")) {
      Result r = run("keys", "generate", "--out", tmp.resolve(out).toString());

      // Before, root-1.key.key and root-1.key.pub.json were written, and --key root-1.key then found no file.
      assertThat(r.code()).isEqualTo(2);
      assertThat(r.err()).isEqualTo("tourniquet: --out: expected a PREFIX to which .key and .pub.json are added but found "
          + tmp.resolve(out) + "; use --out " + tmp.resolve("root-1") + "\n");
    }
    try (Stream<Path> files = Files.list(tmp)) {
      assertThat(files).isEmpty();
    }
  }

  @Test
  void keysGenerateRefusesADirectoryForAPrefix() throws IOException {
    Files.createDirectories(tmp.resolve("existing"));
    for (String out : List.of(tmp.resolve("keys") + "/", tmp.resolve("existing").toString())) {
      Result r = run("keys", "generate", "--out", out);

      // Before, keys/ wrote keys.key and keys.pub.json beside the directory.
      assertThat(r.code()).isEqualTo(2);
      assertThat(r.err()).startsWith("tourniquet: --out: expected a PREFIX to which .key and .pub.json are added but"
          + " found the directory " + out + "; use --out ").endsWith("root-1\n");
    }
    try (Stream<Path> files = Files.list(tmp)) {
      assertThat(files).containsExactly(tmp.resolve("existing"));
    }
  }

  @Test
  void encryptedKeyIsReadWithThePassphraseFromAFileAndRefusedWithAnotherOne() throws IOException {
    Path pass = tmp.resolve("pass");
    Files.writeString(pass, "correct horse battery staple\n");
    ok("keys", "generate", "--out", tmp.resolve("k").toString(), "--encrypt", "--passphrase-file", pass.toString());
    assertThat(Files.readString(tmp.resolve("k.key"))).contains("\"format\" : \"tourniquet-encrypted-private-key/1\"")
        .doesNotContain("correct horse");

    assertThat(ok("keys", "show", tmp.resolve("k.key").toString(), "--passphrase-file", pass.toString()).out())
        .startsWith(ok("keys", "show", tmp.resolve("k.pub.json").toString()).out().substring(0, 64));
    Files.writeString(pass, "wrong\n");
    Result wrong = run("keys", "show", tmp.resolve("k.key").toString(), "--passphrase-file", pass.toString());
    assertThat(wrong.code()).isEqualTo(1);
    assertThat(wrong.err()).contains("expected a passphrase that decrypts the key");
  }

  @Test
  void encryptedKeyWithNoPassphraseSourceAndNoConsoleIsRefused() {
    Result r = run("keys", "generate", "--out", tmp.resolve("k").toString(), "--encrypt");

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("tourniquet: passphrase: expected --passphrase-env, --passphrase-file or a console to type"
        + " it on but found none\n");
    assertThat(tmp.resolve("k.key")).doesNotExist();
  }

  @Test
  void passphraseIsReadFromTheEnvironmentVariableThatTheOptionNames() throws Exception {
    // The environment of a running JVM cannot change, so the command runs in its own process.
    ProcessBuilder process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), Main.class.getName(),
        "keys", "generate", "--out", tmp.resolve("k").toString(), "--encrypt", "--passphrase-env", "TQ_TEST_PASSPHRASE")
        .redirectErrorStream(true)
        .redirectOutput(tmp.resolve("child.log").toFile());
    process.environment().put("TQ_TEST_PASSPHRASE", "from the environment");
    Process child = process.start();
    assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(child.exitValue()).as(Files.readString(tmp.resolve("child.log"))).isZero();

    Path pass = tmp.resolve("pass");
    Files.writeString(pass, "from the environment\n");
    String id = ok("keys", "show", tmp.resolve("k.pub.json").toString()).out().substring(0, 64);
    assertThat(ok("keys", "show", tmp.resolve("k.key").toString(), "--passphrase-file", pass.toString()).out()).startsWith(id);
    Result unset = run("keys", "show", tmp.resolve("k.key").toString(), "--passphrase-env", "TQ_TEST_UNSET_VARIABLE");
    assertThat(unset.code()).isEqualTo(2);
    assertThat(unset.err()).contains("expected the environment variable TQ_TEST_UNSET_VARIABLE to hold a passphrase but found it unset");
  }

  @Test
  void publicKeyIsReadableByOthersAndPrivateKeyIsNotUnderAStrictUmask() throws Exception {
    underStrictUmask(List.of(List.of("keys", "generate", "--out", tmp.resolve("k").toString())));

    assertThat(permissions(tmp.resolve("k.pub.json"))).as("a public key is meant for others").isEqualTo("rw-r--r--");
    assertThat(permissions(tmp.resolve("k.key"))).isEqualTo("rw-------");
  }

  @Test
  void publishedFeedIsReadableByAWebServerUnderAStrictUmaskAndNothingElseIs() throws Exception {
    Path repo = tmp.resolve("repo");
    List<List<String>> steps = new ArrayList<>();
    List<String> init = new ArrayList<>(List.of("feed", "init", "--repo", repo.toString()));
    for (String role : List.of("root", "targets", "snapshot", "timestamp")) {
      steps.add(List.of("keys", "generate", "--out", tmp.resolve(role).toString()));
      init.addAll(List.of("--" + role + "-key", tmp.resolve(role + ".pub.json").toString()));
    }
    steps.add(init);
    steps.add(List.of("feed", "add", "--repo", repo.toString(), EXAMPLES.resolve("M1.json").toString()));
    steps.add(List.of("feed", "sign", "--repo", repo.toString(), "--role", "root", "--key", tmp.resolve("root.key").toString()));
    steps.add(List.of("feed", "sign", "--repo", repo.toString(), "--role", "targets", "--key",
        tmp.resolve("targets.key").toString()));
    steps.add(List.of("feed", "publish", "--repo", repo.toString(), "--snapshot-key", tmp.resolve("snapshot.key").toString(),
        "--timestamp-key", tmp.resolve("timestamp.key").toString()));

    underStrictUmask(steps);

    try (Stream<Path> published = Files.walk(repo.resolve("published"))) {
      assertThat(published.toList()).hasSizeGreaterThan(5).allSatisfy(p -> assertThat(permissions(p)).as(p.toString())
          .isEqualTo(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
    }
    try (Stream<Path> rest = Files.walk(repo)) {
      assertThat(rest.filter(p -> !p.startsWith(repo.resolve("published")) && Files.isRegularFile(p)).toList())
          .isNotEmpty().allSatisfy(p -> assertThat(permissions(p)).as(p.toString()).isEqualTo("rw-------"));
    }
  }

  /** Runs each command in a process of its own under the umask of a systemd unit (a JVM's cannot change). */
  private void underStrictUmask(List<List<String>> commands) throws Exception {
    StringBuilder script = new StringBuilder("umask 077\n");
    for (List<String> command : commands) {
      script.append("\"$JAVA\" -cp \"$CP\" ").append(Main.class.getName());
      command.forEach(arg -> script.append(" '").append(arg.replace("'", "'\\''")).append('\''));
      script.append(" || exit $?\n");
    }
    Path file = tmp.resolve("strict-umask.sh");
    Files.writeString(file, script);
    ProcessBuilder process = new ProcessBuilder("sh", file.toString())
        .redirectErrorStream(true)
        .redirectOutput(tmp.resolve("child.log").toFile());
    process.environment().put("JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString());
    process.environment().put("CP", System.getProperty("java.class.path"));
    Process child = process.start();
    assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(child.exitValue()).as(Files.readString(tmp.resolve("child.log"))).isZero();
  }

  private static String permissions(Path path) {
    try {
      return PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  // ------------------------------------------------------------------------------- publish and verify

  @Test
  void publisherTakesTheM1ExampleFromNothingToAVerifiedFeedWithRootKeysOnSeparateMachines() throws IOException {
    publishM1();

    Result verified = verify(published().toString());

    assertThat(verified.code()).isZero();
    assertThat(verified.out()).startsWith("verified " + published() + " against trusted root 1.root.json\n")
        .contains("  root version 1, timestamp version 1, snapshot version 1, targets version 1\n")
        .containsPattern("\n  M1\\.1 +mitigations/M1\\.json  " + Files.size(EXAMPLES.resolve("M1.json"))
            + " bytes  sha256 [0-9a-f]{64}\n");
    assertThat(ok("feed", "status", "--repo", repoArg()).out()).contains("published timestamp version 1, expires ")
        .endsWith("staged: nothing\n");
    assertThat(ok("feed", "list", "--repo", repoArg()).out()).startsWith("M1.1 ").contains("high     enforce microsoft-exchange-server");
  }

  @Test
  void publishBeforeTheRootThresholdIsMetFailsAndStatusSaysWhatIsMissing() throws IOException {
    initialise();
    ok("feed", "add", "--repo", repoArg(), EXAMPLES.resolve("M1.json").toString());
    signRootOnMachine(2);
    ok("feed", "sign", "--repo", repoArg(), "--role", "targets", "--key", key("targets.key").toString());

    Result r = publish();

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).isEqualTo("tourniquet: staged root.json: expected at least 2 valid signatures by root keys of the new"
        + " root (version 1) but found 1; sign it with more keys\n");
    assertThat(ok("feed", "status", "--repo", repoArg()).out())
        .contains("staged root version 1: 1 of 2 signatures by root keys of the new root (version 1) (needs more)\n")
        .endsWith("not ready to publish: sign with more keys\n");
    assertThat(published().resolve("timestamp.json")).doesNotExist();
  }

  @Test
  void bundleVerifiesFromScratchLikeTheDirectoryItWasMadeFrom() throws IOException {
    publishM1();

    ok("feed", "bundle", "--repo", repoArg(), "--out", tmp.resolve("m1.bundle").toString());
    Result fromBundle = verify(tmp.resolve("m1.bundle").toString());

    assertThat(fromBundle.code()).isZero();
    assertThat(fromBundle.out().lines().skip(1).toList()).isEqualTo(verify(published().toString()).out().lines().skip(1).toList());
  }

  @Test
  void timestampRefreshRaisesTheTimestampVersionAndTheFeedStillVerifies() throws IOException {
    publishM1();

    Result refreshed = ok("feed", "timestamp", "--repo", repoArg(), "--timestamp-key", key("timestamp.key").toString(),
        "--validity", "7d");

    assertThat(refreshed.out()).startsWith("refreshed timestamp: version 2, valid until ");
    assertThat(verify(published().toString()).out()).contains("timestamp version 2, snapshot version 1");
  }

  @Test
  void rotatedRootKeyNeedsTheOldAndTheNewThresholdAndAgentsFollowTheChain() throws IOException {
    publishM1();
    ok("keys", "generate", "--out", key("root-4").toString());

    Result rotated = ok("feed", "rotate", "--repo", repoArg(), "--role", "root", "--add", key("root-4.pub.json").toString(),
        "--remove", machine(3).resolve("root-3.pub.json").toString());
    ok("feed", "sign", "--repo", repoArg(), "--role", "root", "--key", key("root-1.key").toString(),
        "--key", key("root-4.key").toString());
    Result oneOldKeyShort = publish();
    signRootOnMachine(2);
    Result published = publish();

    assertThat(rotated.out()).contains("staged root version 2: 0 of 2 signatures by root keys of the published root (version 1)");
    assertThat(oneOldKeyShort.code()).isEqualTo(1);
    assertThat(oneOldKeyShort.err()).contains("expected at least 2 valid signatures by root keys of the published root"
        + " (version 1) but found 1");
    assertThat(published.code()).isZero();
    Result verified = verify(published().toString());
    assertThat(verified.code()).isZero();
    assertThat(verified.out()).contains("root version 2, timestamp version 2");
  }

  @Test
  void tamperedMitigationFailsVerificationWithExitOneNamingTheHashCheck() throws IOException {
    publishM1();
    Path target;
    try (Stream<Path> files = Files.list(published().resolve("targets/mitigations"))) {
      target = files.filter(p -> p.getFileName().toString().endsWith(".M1.json")).findFirst().orElseThrow();
    }
    // Same length, different content: only the hash check can catch it.
    Files.writeString(target, Files.readString(target).replace("\"severity\": \"high\"", "\"severity\": \"low\" "));

    Result r = verify(published().toString());

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).startsWith("tourniquet: verification failed: targets/mitigations/" + target.getFileName()
        + ": sha256 hash differs from the one listed in 1.targets.json (TUF 5.7.3): expected ");
  }

  @Test
  void timestampSignedByAnotherKeyFailsVerificationOnTheThresholdCheck() throws IOException {
    publishM1();
    StringBuilder timestamp = new StringBuilder(Files.readString(published().resolve("timestamp.json")));
    int sig = timestamp.indexOf("\"sig\":\"") + "\"sig\":\"".length();
    timestamp.setCharAt(sig, timestamp.charAt(sig) == '0' ? '1' : '0');
    Files.writeString(published().resolve("timestamp.json"), timestamp);

    Result r = verify(published().toString());

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).startsWith("tourniquet: verification failed: timestamp.json: signature threshold of the timestamp role");
  }

  @Test
  void feedSignedUnderAnotherRootFailsVerification() throws IOException {
    publishM1();
    Path otherRoot = tmp.resolve("other-root.json");
    Files.copy(published().resolve("1.root.json"), otherRoot);
    FeedCommandTest other = new FeedCommandTest();
    other.tmp = tmp.resolve("other");
    other.publishM1();

    Result r = run("feed", "verify", "--root", other.published().resolve("1.root.json").toString(), "--from",
        published().toString());

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("verification failed: timestamp.json: signature threshold of the timestamp role");
  }

  // ------------------------------------------------------------------------------ adding and removing

  @Test
  void addInvalidDocumentExitsTwoWithOneLinePerProblemAndStagesNothing() throws IOException {
    initialise();
    Path bad = tmp.resolve("bad.json");
    Files.writeString(bad, Files.readString(EXAMPLES.resolve("M1.json"))
        .replace("\"severity\": \"high\"", "\"severity\": \"urgent\"")
        .replace("{ \"from\": \"15.2.0\", \"fixed\": \"15.2.986.36\" }", "{ \"from\": \"15.2.0\", \"fixed\": \"15.2.986-SU\" }")
        .replace("(?=.*autodiscover)(?=.*powershell)", "(?&lt;=autodiscover)powershell"));

    Result r = run("feed", "add", "--repo", repoArg(), bad.toString());

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.errLines()).hasSize(4).last().isEqualTo(NOTHING_STAGED);
    assertThat(r.errLines().get(0)).isEqualTo("bad.json: severity: expected low, medium, high or critical but found the"
        + " string \"urgent\"");
    assertThat(r.errLines().get(1)).startsWith("bad.json: applicability.versions[3].fixed: expected a version")
        .endsWith("whose part \"986-SU\" is not a number");
    assertThat(r.errLines().get(2)).startsWith("bad.json: actions[0].rules: rule \"EEMS M1.1 PowerShell - inbound\", condition 1")
        .contains("lookbehind");
    assertThat(ok("feed", "list", "--repo", repoArg()).out()).isEqualTo("no mitigations\n");
  }

  @Test
  void oneRefusedDocumentStagesNoneOfTheOthersAndSaysSo() throws IOException {
    initialise();
    Path bad = tmp.resolve("bad.json");
    Files.writeString(bad, Files.readString(EXAMPLES.resolve("M1.json")).replace("\"severity\": \"high\"", "\"severity\": \"urgent\""));

    Result r = run("feed", "add", "--repo", repoArg(), EXAMPLES.resolve("TQ-2021-0001.json").toString(), bad.toString());

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.errLines()).containsExactly("bad.json: severity: expected low, medium, high or critical but found the"
        + " string \"urgent\"", "nothing staged: the 2 documents are added together or not at all; mend the problems"
        + " above and add again");
    assertThat(ok("feed", "list", "--repo", repoArg()).out()).isEqualTo("no mitigations\n");
  }

  @Test
  void addRefusesARevisionThatIsNotAboveTheFeedsAndAcceptsAHigherOne() throws IOException {
    publishM1();

    Result same = run("feed", "add", "--repo", repoArg(), revisedM1(1).toString());
    Result revised = run("feed", "add", "--repo", repoArg(), revisedM1(3).toString());
    Result lower = run("feed", "add", "--repo", repoArg(), revisedM1(2).toString());

    assertThat(same.code()).isEqualTo(2);
    assertThat(same.err()).isEqualTo("M1-r1.json: revision: expected a revision above 1 (the feed publishes M1.1) but found 1\n"
        + NOTHING_STAGED + "\n");
    assertThat(revised.code()).isZero();
    assertThat(revised.out()).startsWith("staged mitigations/M1.json (M1.3, revises M1.1)\n");
    assertThat(lower.code()).isEqualTo(2);
    assertThat(lower.err()).isEqualTo("M1-r2.json: revision: expected a revision of at least 3 (staged as M1.3) but found 2\n"
        + NOTHING_STAGED + "\n");
    signTargetsAndPublish();
    assertThat(verify(published().toString()).out()).contains("targets version 2").containsPattern("M1\\.3 +mitigations/M1\\.json");
  }

  @Test
  void stagedRevisionMayBeReplacedBeforePublishingButNeverGoBelowThePublishedOne() throws IOException {
    publishM1();
    ok("feed", "add", "--repo", repoArg(), revisedM1(3).toString());

    Result sameAsStaged = run("feed", "add", "--repo", repoArg(), revisedM1(3).toString());
    ok("feed", "remove", "--repo", repoArg(), "M1");
    Result belowPublishedAfterRemove = run("feed", "add", "--repo", repoArg(), revisedM1(1).toString());

    assertThat(sameAsStaged.code()).isZero();
    assertThat(sameAsStaged.out()).startsWith("staged mitigations/M1.json (M1.3, revises M1.1, replaces staged M1.3)\n");
    assertThat(belowPublishedAfterRemove.code()).isEqualTo(2);
    assertThat(belowPublishedAfterRemove.err()).contains("expected a revision above 1 (the feed publishes M1.1) but found 1");
  }

  @Test
  void aWithdrawnMitigationCannotComeBackAtARevisionNotAboveTheLastOnePublished() throws IOException {
    publishM1();
    ok("feed", "add", "--repo", repoArg(), revisedM1(3).toString());
    signTargetsAndPublish();
    ok("feed", "remove", "--repo", repoArg(), "M1");
    signTargetsAndPublish();

    Result old = run("feed", "add", "--repo", repoArg(), revisedM1(1).toString());
    Result same = run("feed", "add", "--repo", repoArg(), revisedM1(3).toString());
    Result higher = run("feed", "add", "--repo", repoArg(), revisedM1(4).toString());

    assertThat(old.code()).isEqualTo(2);
    assertThat(old.err()).isEqualTo("M1-r1.json: revision: expected a revision above 3 (the feed published M1.3 before"
        + " M1 was withdrawn) but found 1\n" + NOTHING_STAGED + "\n");
    assertThat(same.code()).isEqualTo(2);
    assertThat(same.err()).startsWith("M1-r3.json: revision: expected a revision above 3");
    assertThat(higher.code()).isZero();
    assertThat(higher.out()).startsWith("staged mitigations/M1.json (M1.4, re-adds M1, withdrawn at M1.3)\n");
  }

  @Test
  void aCopyOfThePublishedRepositoryRemembersAWithdrawnRevisionToo() throws IOException {
    publishM1();
    ok("feed", "add", "--repo", repoArg(), revisedM1(3).toString());
    signTargetsAndPublish();
    ok("feed", "remove", "--repo", repoArg(), "M1");
    signTargetsAndPublish();
    // Another publisher's machine: the settings and the published feed, nothing else (no staged files, no lock).
    Path copy = tmp.resolve("other-publisher/feed");
    Files.createDirectories(copy);
    Files.copy(repo().resolve("repository.json"), copy.resolve("repository.json"));
    try (Stream<Path> files = Files.walk(published())) {
      for (Path file : files.toList()) {
        Path to = copy.resolve("published").resolve(published().relativize(file).toString());
        if (Files.isDirectory(file)) {
          Files.createDirectories(to);
        } else {
          Files.copy(file, to);
        }
      }
    }

    Result old = run("feed", "add", "--repo", copy.toString(), revisedM1(2).toString());

    assertThat(old.code()).isEqualTo(2);
    assertThat(old.err()).startsWith("M1-r2.json: revision: expected a revision above 3 (the feed published M1.3 before"
        + " M1 was withdrawn) but found 2\n");
  }

  @Test
  void addReportsARevisionThatGoesBackUnderItsFileAlongWithTheOtherDocumentsProblems() throws IOException {
    publishM1();
    Path bad = tmp.resolve("bad.json");
    Files.writeString(bad, Files.readString(EXAMPLES.resolve("TQ-2021-0002.json"))
        .replace("\"severity\": \"high\"", "\"severity\": \"urgent\""));

    Result r = run("feed", "add", "--repo", repoArg(), revisedM1(1).toString(), bad.toString());

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.errLines()).containsExactly(
        "M1-r1.json: revision: expected a revision above 1 (the feed publishes M1.1) but found 1",
        "bad.json: severity: expected low, medium, high or critical but found the string \"urgent\"",
        "nothing staged: the 2 documents are added together or not at all; mend the problems above and add again");
  }

  @Test
  void signAndMergeRefuseStagedTargetsThatAnotherCopysPublishOvertookAndSayToDiscardThem() throws IOException {
    publishM1();
    Path other = tmp.resolve("other-publisher/feed");
    copyTree(repo(), other);
    // Here: a withdrawal of M1 staged, and a copy on its way to the targets key holder. There: M1.2 published.
    ok("feed", "remove", "--repo", repoArg(), "M1");
    Path carried = machine(2).resolve("targets.json");
    Files.copy(repo().resolve("staged/targets.json"), carried);
    ok("feed", "sign", "--file", carried.toString(), "--key", key("targets.key").toString());
    ok("feed", "add", "--repo", other.toString(), revisedM1(2).toString());
    ok("feed", "sign", "--repo", other.toString(), "--role", "targets", "--key", key("targets.key").toString());
    ok("feed", "publish", "--repo", other.toString(), "--snapshot-key", key("snapshot.key").toString(),
        "--timestamp-key", key("timestamp.key").toString());
    FeedCommand.deleteTree(published());
    copyTree(other.resolve("published"), published()); // the feed as served now
    byte[] staged = Files.readAllBytes(repo().resolve("staged/targets.json"));

    Result signed = run("feed", "sign", "--repo", repoArg(), "--role", "targets", "--key", key("targets.key").toString());
    Result merged = run("feed", "merge", "--repo", repoArg(), carried.toString());

    String stale = "tourniquet: staged targets.json: expected version 3, the one after the published targets version 2,"
        + " but found version 2: it was staged from another state of the feed (did another copy of the repository"
        + " publish since?) and can never be published; discard it (feed discard --role targets) and stage the changes"
        + " again on the published feed\n";
    assertThat(signed.code()).isEqualTo(1);
    assertThat(signed.err()).isEqualTo(stale);
    assertThat(merged.code()).isEqualTo(1);
    assertThat(merged.err()).isEqualTo(stale);
    assertThat(repo().resolve("staged/targets.json")).hasBinaryContent(staged);

    ok("feed", "discard", "--repo", repoArg(), "--role", "targets");
    ok("feed", "remove", "--repo", repoArg(), "M1");
    signTargetsAndPublish();
    assertThat(verify(published().toString()).out()).contains("targets version 3").contains("0 targets");
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path file : files.toList()) {
        Path target = to.resolve(from.relativize(file).toString());
        if (Files.isDirectory(file)) {
          Files.createDirectories(target);
        } else if (!file.getFileName().toString().equals(".lock")) {
          Files.copy(file, target);
        }
      }
    }
  }

  @Test
  void signingACopyOfStagedTargetsShowsTheWithdrawnRevisionsItSigns() throws IOException {
    publishM1();
    ok("feed", "add", "--repo", repoArg(), revisedM1(3).toString());
    signTargetsAndPublish();
    ok("feed", "remove", "--repo", repoArg(), "M1");
    Path copy = machine(2).resolve("targets.json");
    Files.copy(repo().resolve("staged/targets.json"), copy);

    Result signed = ok("feed", "sign", "--file", copy.toString(), "--key", key("targets.key").toString());

    assertThat(signed.out()).contains(": targets version 3, expires ")
        .contains("\n  withdrawn M1.3: M1 can come back only above revision 3\n");
  }

  @Test
  void discardUndoesAStagedWithdrawal() throws IOException {
    publishM1();
    ok("feed", "remove", "--repo", repoArg(), "M1");

    Result discarded = ok("feed", "discard", "--repo", repoArg(), "--role", "targets");
    Result again = run("feed", "discard", "--repo", repoArg(), "--role", "targets");

    assertThat(discarded.out()).isEqualTo("discarded staged targets.json\nstaged: nothing\n");
    assertThat(ok("feed", "list", "--repo", repoArg()).out()).startsWith("M1.1 ");
    assertThat(again.code()).isEqualTo(1);
    assertThat(again.err()).isEqualTo("tourniquet: staged targets.json: expected staged targets.json to discard but"
        + " found none; the published feed is what the next publish starts from\n");
  }

  @Test
  void addRefusesAnIdThatDiffersFromOneInTheFeedOnlyInCase() throws IOException {
    publishM1();
    Path lower = tmp.resolve("m1-lower.json");
    Files.writeString(lower, Files.readString(EXAMPLES.resolve("M1.json")).replace("\"id\": \"M1\"", "\"id\": \"m1\""));

    Result r = run("feed", "add", "--repo", repoArg(), lower.toString());

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("m1-lower.json: id: expected an id that differs from every other in the feed, ignoring"
        + " case, but found \"m1\" where the feed has \"M1\"\n" + NOTHING_STAGED + "\n");
  }

  @Test
  void addRefusesAnExpiredMitigation() throws IOException {
    initialise();
    Path expired = tmp.resolve("expired.json");
    Files.writeString(expired, Files.readString(EXAMPLES.resolve("TQ-2026-0001.json"))
        .replace("\"expires\": \"2036-06-01T00:00:00Z\"", "\"expires\": \"2020-01-01T00:00:00Z\""));

    Result r = run("feed", "add", "--repo", repoArg(), expired.toString());

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("expired.json: expires: expected an instant after now (").endsWith(") but found 2020-01-01T00:00:00Z\n" + NOTHING_STAGED + "\n");
  }

  @Test
  void addRefusesAnIdThatDiffersOnlyInCaseFromAWithdrawnOne() throws IOException {
    publishM1();
    ok("feed", "remove", "--repo", repoArg(), "M1");
    signTargetsAndPublish();
    Path lower = tmp.resolve("m1-lower.json");
    Files.writeString(lower, Files.readString(revisedM1(2)).replace("\"id\": \"M1\"", "\"id\": \"m1\""));

    Result r = run("feed", "add", "--repo", repoArg(), lower.toString());

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("m1-lower.json: id: expected an id that differs from every other in the feed, ignoring"
        + " case, but found \"m1\" where the feed had \"M1\" (withdrawn at M1.1)\n" + NOTHING_STAGED + "\n");
  }

  @Test
  void addReportsEveryRuleTheRepositoryHoldsToUnderItsFileInOneRun() throws IOException {
    publishM1();
    ok("feed", "add", "--repo", repoArg(), EXAMPLES.resolve("TQ-2021-0001.json").toString());
    Path oldAndExpired = tmp.resolve("old-expired.json");
    Files.writeString(oldAndExpired, Files.readString(EXAMPLES.resolve("M1.json"))
        .replace("\"revision\": 1,", "\"revision\": 1, \"expires\": \"2020-01-01T00:00:00Z\","));
    Path lower = tmp.resolve("tq-lower.json");
    Files.writeString(lower, Files.readString(EXAMPLES.resolve("TQ-2021-0001.json"))
        .replace("\"id\": \"TQ-2021-0001\"", "\"id\": \"tq-2021-0001\""));

    Result r = run("feed", "add", "--repo", repoArg(), oldAndExpired.toString(), lower.toString());

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.errLines()).hasSize(4);
    assertThat(r.errLines().get(0)).startsWith("old-expired.json: expires: expected an instant after now (")
        .endsWith(") but found 2020-01-01T00:00:00Z");
    assertThat(r.errLines().subList(1, 4)).containsExactly(
        "old-expired.json: revision: expected a revision above 1 (the feed publishes M1.1) but found 1",
        "tq-lower.json: id: expected an id that differs from every other in the feed, ignoring case, but found"
            + " \"tq-2021-0001\" where the feed has \"TQ-2021-0001\"",
        "nothing staged: the 2 documents are added together or not at all; mend the problems above and add again");
  }

  /**
   * Edits the staged targets metadata as a hand or another tool would, bypassing every check of feed add: lists
   * {@code name} with {@code content}, or with {@code content} null forgets the withdrawn revision of {@code name}.
   */
  private void editStagedTargets(String name, byte[] content) throws Exception {
    Path staged = repo().resolve("staged/targets.json");
    if (!Files.exists(staged)) {
      ok("feed", "renew", "--repo", repoArg(), "--role", "targets");
    }
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode signed =
        (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(staged.toFile()).get("signed");
    com.fasterxml.jackson.databind.node.ObjectNode envelope = json.createObjectNode();
    envelope.putArray("signatures");
    envelope.set("signed", signed);
    if (content == null) {
      signed.withObjectProperty("x-tourniquet-withdrawn").remove(name);
    } else {
      com.fasterxml.jackson.databind.node.ObjectNode entry = signed.withObjectProperty("targets").putObject(name);
      entry.put("length", content.length);
      entry.putObject("hashes").put("sha256", java.util.HexFormat.of().formatHex(
          java.security.MessageDigest.getInstance("SHA-256").digest(content)));
      Path file = repo().resolve("staged/targets").resolve(name);
      Files.createDirectories(file.getParent());
      Files.write(file, content);
    }
    json.writerWithDefaultPrettyPrinter().writeValue(staged.toFile(), envelope);
  }

  @Test
  void publishRefusesStagedTargetsEditedByHandToTakeARevisionBackAndSaysHowToMendThem() throws Exception {
    publishM1();
    ok("feed", "add", "--repo", repoArg(), revisedM1(3).toString());
    signTargetsAndPublish();
    editStagedTargets("mitigations/M1.json", Files.readAllBytes(EXAMPLES.resolve("M1.json")));
    String staged = repo().resolve("staged/targets.json").toString();

    Result signed = run("feed", "sign", "--repo", repoArg(), "--role", "targets", "--key", key("targets.key").toString());
    ok("feed", "sign", "--file", staged, "--key", key("targets.key").toString()); // a copy cannot tell
    Result status = ok("feed", "status", "--repo", repoArg());
    Result published = publish();

    String why = "tourniquet: mitigations/M1.json: revision: expected a revision above 3 (the feed publishes M1.3) but"
        + " found 1; the staged targets.json takes it back (edited by hand or by another tool?) and can never be"
        + " published: add each mitigation again with a revision as expected (feed add), or discard the staged"
        + " targets (feed discard --role targets)\n";
    assertThat(signed.code()).isEqualTo(1);
    assertThat(signed.err()).isEqualTo(why);
    assertThat(status.out()).contains("\nstaged targets.json: mitigations/M1.json: revision: expected a revision above 3")
        .endsWith("\nnot ready to publish: the staged metadata above can never be published as it is\n");
    assertThat(published.code()).isEqualTo(1);
    assertThat(published.err()).isEqualTo(why);
    assertThat(verify(published().toString()).out()).contains("targets version 2").containsPattern("M1\\.3 +mitigations");

    ok("feed", "add", "--repo", repoArg(), revisedM1(4).toString());
    signTargetsAndPublish();
    assertThat(verify(published().toString()).out()).containsPattern("M1\\.4 +mitigations");
  }

  @Test
  void publishRefusesStagedTargetsEditedByHandToListAnIdThatDiffersOnlyInCase() throws Exception {
    publishM1();
    editStagedTargets("mitigations/m1.json", Files.readString(EXAMPLES.resolve("M1.json"))
        .replace("\"id\": \"M1\"", "\"id\": \"m1\"").getBytes(StandardCharsets.UTF_8));
    ok("feed", "sign", "--file", repo().resolve("staged/targets.json").toString(), "--key", key("targets.key").toString());

    Result published = publish();

    assertThat(published.code()).isEqualTo(1);
    assertThat(published.err()).isEqualTo("tourniquet: mitigations/m1.json: id: expected an id that differs from every"
        + " other in the feed, ignoring case, but found \"m1\" where the feed has \"M1\"; the staged targets.json lists"
        + " it (edited by hand or by another tool?) and can never be published: withdraw it (feed remove m1) or"
        + " discard the staged targets (feed discard --role targets)\n");
    ok("feed", "remove", "--repo", repoArg(), "m1");
    signTargetsAndPublish();
  }

  @Test
  void publishNamesEveryRuleTheEditedStagedTargetsBreakOnALineOfItsOwn() throws Exception {
    publishM1();
    ok("feed", "add", "--repo", repoArg(), revisedM1(2).toString());
    signTargetsAndPublish();
    editStagedTargets("mitigations/M1.json", Files.readAllBytes(EXAMPLES.resolve("M1.json")));
    editStagedTargets("mitigations/m1.json", Files.readString(EXAMPLES.resolve("M1.json"))
        .replace("\"id\": \"M1\"", "\"id\": \"m1\"").getBytes(StandardCharsets.UTF_8));
    ok("feed", "sign", "--file", repo().resolve("staged/targets.json").toString(), "--key", key("targets.key").toString());

    Result published = publish();

    assertThat(published.code()).isEqualTo(1);
    assertThat(published.errLines()).hasSize(2);
    assertThat(published.errLines().get(0)).startsWith("tourniquet: mitigations/m1.json: id: expected an id that differs");
    assertThat(published.errLines().get(1)).startsWith("tourniquet: mitigations/M1.json: revision: expected a revision"
        + " above 2 (the feed publishes M1.2) but found 1; ");
  }

  @Test
  void publishRefusesStagedTargetsEditedByHandToForgetAWithdrawnRevision() throws Exception {
    publishM1();
    ok("feed", "remove", "--repo", repoArg(), "M1");
    editStagedTargets("M1", null);
    ok("feed", "sign", "--file", repo().resolve("staged/targets.json").toString(), "--key", key("targets.key").toString());

    Result published = publish();

    assertThat(published.code()).isEqualTo(1);
    assertThat(published.err()).isEqualTo("tourniquet: staged targets.json: x-tourniquet-withdrawn.M1: expected a"
        + " revision of at least 1 (the feed publishes M1.1, which this version withdraws) but found none; the staged"
        + " targets.json forgets a revision agents may have applied (edited by hand or by another tool?) and can never"
        + " be published: discard it (feed discard --role targets) and stage the changes again\n");
  }

  /** The example TQ-2026-0001 (which expires in 2036) expiring at {@code expires}. */
  private static byte[] exampleExpiring(Instant expires) throws IOException {
    return Files.readString(EXAMPLES.resolve("TQ-2026-0001.json"))
        .replace("\"expires\": \"2036-06-01T00:00:00Z\"", "\"expires\": \"" + expires + "\"")
        .getBytes(StandardCharsets.UTF_8);
  }

  /** The repository opened by the library on a clock two days before {@code now}, which the cli cannot do. */
  private FeedRepository twoDaysBefore(Instant now) throws Exception {
    return FeedRepository.open(repo(), Clock.fixed(now.minus(Duration.ofDays(2)), ZoneOffset.UTC));
  }

  @Test
  void signStatusAndPublishRefuseStagedTargetsListingAMitigationThatExpiredAfterItWasAdded() throws Exception {
    publishM1();
    // Added two days ago, when it had a day to run: feed add took it then (the repository's clock is the system's).
    Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    Instant yesterday = now.minus(Duration.ofDays(1));
    twoDaysBefore(now).addTarget("mitigations/TQ-2026-0001.json", exampleExpiring(yesterday));

    Result signed = run("feed", "sign", "--repo", repoArg(), "--role", "targets", "--key", key("targets.key").toString());
    Result status = ok("feed", "status", "--repo", repoArg());
    Result published = publish();

    String refused = "mitigations/TQ-2026-0001.json: expires: expected an instant after now (";
    String why = ") but found " + yesterday + " (TQ-2026-0001.1 was staged since the last publish and expired before"
        + " it was published); the staged targets.json lists it, but agents skip an expired mitigation (and remove it"
        + " where they applied it), so it can never be published: withdraw it (feed remove TQ-2026-0001) or add a"
        + " revision of it with a later expires (feed add)\n";
    assertThat(signed.code()).isEqualTo(1);
    assertThat(signed.err()).startsWith("tourniquet: " + refused).endsWith(why);
    assertThat(status.out()).contains("\nstaged targets.json: " + refused).contains(why)
        .endsWith("\nnot ready to publish: the staged metadata above can never be published as it is\n");
    assertThat(published.code()).isEqualTo(1);
    assertThat(published.err()).startsWith("tourniquet: " + refused).endsWith(why);
    assertThat(verify(published().toString()).out()).contains("targets version 1").doesNotContain("TQ-2026-0001");

    ok("feed", "remove", "--repo", repoArg(), "TQ-2026-0001");
    signTargetsAndPublish();
    assertThat(verify(published().toString()).out()).contains("targets version 2").doesNotContain("TQ-2026-0001");
  }

  @Test
  void aPublishedMitigationThatExpiredSinceIsMarkedByListAndStatusAndHoldsBackNoPublish() throws Exception {
    publishM1();
    // Published two days ago, when it had a day to run (the cli's clock is the system's, so the library publishes).
    Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    Instant yesterday = now.minus(Duration.ofDays(1));
    FeedRepository then = twoDaysBefore(now);
    then.addTarget("mitigations/TQ-2026-0001.json", exampleExpiring(yesterday));
    then.sign(Role.TARGETS, KeyFiles.readPrivateKey(key("targets.key"), null));
    then.publish(List.of(KeyFiles.readPrivateKey(key("snapshot.key"), null)),
        List.of(KeyFiles.readPrivateKey(key("timestamp.key"), null)));

    assertThat(ok("feed", "list", "--repo", repoArg()).out().lines()).satisfiesExactly(
        m1 -> assertThat(m1).startsWith("M1.1 ").doesNotContain("EXPIRED"),
        tq -> assertThat(tq).startsWith("TQ-2026-0001.1 ").endsWith("  (EXPIRED at " + yesterday + ": agents skip it;"
            + " feed remove TQ-2026-0001, or add a revision with a later expires)"));

    String note = "published TQ-2026-0001.1: EXPIRED at " + yesterday + ": agents skip it; feed remove TQ-2026-0001,"
        + " or add a revision with a later expires\n";
    assertThat(ok("feed", "status", "--repo", repoArg()).out()).contains(note).endsWith(note + "staged: nothing\n");

    // The next emergency does not wait for it.
    ok("feed", "add", "--repo", repoArg(), revisedM1(2).toString());
    String status = ok("feed", "status", "--repo", repoArg()).out();
    assertThat(status.lines().filter(l -> l.contains("TQ-2026-0001"))).containsExactly(note.strip());
    assertThat(status).endsWith("\nnot ready to publish: sign with more keys\n"); // and nothing else keeps it back
    signTargetsAndPublish();
    assertThat(verify(published().toString()).out()).contains("M1.2").contains("TQ-2026-0001");
  }

  @Test
  void mergeOfASignedCopyOfAVersionPublishedSinceSaysWhichVersionsAndWhatNext() throws IOException {
    publishM1();
    ok("feed", "add", "--repo", repoArg(), revisedM1(2).toString());
    Path late = machine(2).resolve("targets.json"); // on its way to a targets key holder, signed too late
    Files.copy(repo().resolve("staged/targets.json"), late);
    ok("feed", "sign", "--file", late.toString(), "--key", key("targets.key").toString());
    signTargetsAndPublish();

    Result nothingStaged = run("feed", "merge", "--repo", repoArg(), late.toString());
    ok("feed", "add", "--repo", repoArg(), revisedM1(3).toString());
    Result otherVersion = run("feed", "merge", "--repo", repoArg(), late.toString());

    assertThat(nothingStaged.code()).isEqualTo(1);
    assertThat(nothingStaged.err()).isEqualTo("tourniquet: staged targets.json: expected staged metadata to merge " + late
        + " into but found none; the copy is of targets version 2 and the feed publishes targets version 2: it was"
        + " published or discarded since the copy was taken, and nothing is left to merge it into\n");
    assertThat(otherVersion.code()).isEqualTo(1);
    assertThat(otherVersion.err()).startsWith("tourniquet: " + late + ": expected the same signed content (sha256 ")
        .endsWith("; the copy is of targets version 2 and the staged targets.json of version 3 (the feed publishes"
            + " targets version 2): the copy was taken before a publish or a discard and can never be published: copy"
            + " the staged targets.json again, sign that copy and merge it\n");
  }

  @Test
  void addingEveryExampleAtOnceStagesOneTargetsVersionThatPublishes() throws IOException {
    publishM1();
    List<String> args = new ArrayList<>(List.of("feed", "add", "--repo", repoArg()));
    try (Stream<Path> files = Files.list(EXAMPLES)) {
      files.filter(p -> !p.getFileName().toString().equals("M1.json")).sorted().forEach(p -> args.add(p.toString()));
    }

    Result added = ok(args.toArray(String[]::new));
    signTargetsAndPublish();

    assertThat(added.out().lines().filter(l -> l.startsWith("staged mitigations/"))).hasSize(5);
    assertThat(verify(published().toString()).out()).contains("6 targets").contains("TQ-2026-0002.1");
  }

  @Test
  void removeWithdrawsAMitigationSoThatVerifyNoLongerListsIt() throws IOException {
    publishM1();

    Result unknown = run("feed", "remove", "--repo", repoArg(), "M2");
    Result removed = ok("feed", "remove", "--repo", repoArg(), "M1");
    signTargetsAndPublish();

    assertThat(unknown.code()).isEqualTo(2);
    assertThat(unknown.err()).isEqualTo("M2: expected a mitigation in the feed but found none; the feed has M1\n");
    assertThat(removed.out()).startsWith("withdrew mitigations/M1.json\n");
    assertThat(verify(published().toString()).out()).contains("targets version 2").contains("0 targets").doesNotContain("M1.1");
  }

  @Test
  void checkValidatesDocumentsWithoutARepository() throws IOException {
    List<String> args = new ArrayList<>(List.of("feed", "check"));
    try (Stream<Path> files = Files.list(EXAMPLES)) {
      files.sorted().forEach(p -> args.add(p.toString()));
    }
    Path bad = tmp.resolve("bad.json");
    Files.writeString(bad, "{\"schema\": \"tourniquet-mitigation/1\", \"id\": \"../M1\"}");

    Result valid = ok(args.toArray(String[]::new));
    Result invalid = run("feed", "check", bad.toString());

    assertThat(valid.out()).contains("M1.json: valid: M1.1 high enforce, 1 action (request-rules), microsoft-exchange-server\n")
        .contains("TQ-2021-0002.json: valid: TQ-2021-0002.1 high enforce, 2 actions (disable-service), microsoft-exchange-server\n");
    assertThat(invalid.code()).isEqualTo(2);
    assertThat(invalid.out().lines()).hasSize(7).first().asString().startsWith("bad.json: id: expected 1 to 64 letters");
  }

  @Test
  void checkRefusesADocumentThatHasExpiredAsFeedAddWould() throws IOException {
    Path expired = tmp.resolve("expired.json");
    Files.write(expired, exampleExpiring(Instant.parse("2020-01-01T00:00:00Z")));

    Result r = run("feed", "check", expired.toString(), EXAMPLES.resolve("M1.json").toString());

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.out().lines()).satisfiesExactly(
        m1 -> assertThat(m1).startsWith("M1.json: valid: M1.1 "),
        tq -> assertThat(tq).startsWith("expired.json: expires: expected an instant after now (")
            .endsWith(") but found 2020-01-01T00:00:00Z"));
  }

  // ---------------------------------------------------------------------------------- other verbs

  @Test
  void renewedTargetsCarryTheSameMitigationsInANewVersion() throws IOException {
    publishM1();

    Result renewed = ok("feed", "renew", "--repo", repoArg(), "--role", "targets");
    signTargetsAndPublish();

    assertThat(renewed.out()).contains("staged targets version 2: 0 of 1 signatures");
    assertThat(verify(published().toString()).out()).contains("targets version 2").containsPattern("M1\\.1 +mitigations/M1\\.json");
  }

  @Test
  void mergeRefusesACopyThatSignsOtherContent() throws IOException {
    initialise();
    Path copy = machine(2).resolve("root.json");
    Files.copy(repo().resolve("staged/root.json"), copy);
    ok("feed", "sign", "--file", copy.toString(), "--key", machine(2).resolve("root-2.key").toString());
    Files.writeString(copy, Files.readString(copy).replaceFirst("\"threshold\" : 2", "\"threshold\" : 1"));

    Result r = run("feed", "merge", "--repo", repoArg(), copy.toString());

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).startsWith("tourniquet: " + copy + ": expected the same signed content (sha256 ");
  }

  @Test
  void mergeOfACopyTakenBeforeTheStagedMetadataChangedSaysToCopyItAgain() throws IOException {
    initialise();
    Path copy = machine(2).resolve("root.json");
    Files.copy(repo().resolve("staged/root.json"), copy);
    ok("feed", "rotate", "--repo", repoArg(), "--role", "snapshot", "--add", key("timestamp.pub.json").toString());
    ok("feed", "sign", "--file", copy.toString(), "--key", machine(2).resolve("root-2.key").toString());

    Result r = run("feed", "merge", "--repo", repoArg(), copy.toString());

    // Before, the message stopped at two hashes, which tell a signer at 3 a.m. neither why nor what next.
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).endsWith("; the staged root.json changed since this copy was taken, or the copy was altered:"
        + " copy the staged root.json again, sign that copy and merge it\n");
  }

  @Test
  void signingWithAKeyTheRoleDoesNotListFailsWithExitOne() throws IOException {
    initialise();

    Result r = run("feed", "sign", "--repo", repoArg(), "--role", "root", "--key", key("targets.key").toString());

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).startsWith("tourniquet: root role: expected a key listed for it in root version 1 but found key ");
  }

  @Test
  void publishWithThePublicKeyFileWhereThePrivateKeyBelongsSaysWhichFileToGive() throws IOException {
    publishM1();

    // init takes --snapshot-key PUB and publish takes --snapshot-key KEY: a tired publisher mixes them up.
    // Before, this asked for a passphrase (the file is JSON, as an encrypted key is), or for a public key
    // file made readable by others, complained that it was not owner-only.
    Result r = run("feed", "publish", "--repo", repoArg(), "--snapshot-key", key("snapshot.pub.json").toString(),
        "--timestamp-key", key("timestamp.key").toString());

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).isEqualTo("tourniquet: " + key("snapshot.pub.json") + ": expected a private key file but found a"
        + " public key file; give the private key written beside it by keys generate (PREFIX.key, not"
        + " PREFIX.pub.json)\n");
  }

  @Test
  void signWithThePublicKeyFileAndAPassphraseSourceSaysWhichFileToGive() throws IOException {
    initialise();
    Path pass = tmp.resolve("pass");
    Files.writeString(pass, "a passphrase\n");

    Result r = run("feed", "sign", "--repo", repoArg(), "--role", "root", "--key", key("root-1.pub.json").toString(),
        "--passphrase-file", pass.toString());

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains(key("root-1.pub.json") + ": expected a private key file but found a public key file")
        .doesNotContain("permissions");
  }

  @Test
  void initWithAPrivateKeyFileWhereThePublicKeyBelongsSaysWhichFileToGive() throws IOException {
    Path pass = tmp.resolve("pass");
    Files.writeString(pass, "a passphrase\n");
    ok("keys", "generate", "--out", key("plain").toString());
    ok("keys", "generate", "--out", key("encrypted").toString(), "--encrypt", "--passphrase-file", pass.toString());
    String pub = key("plain.pub.json").toString();

    for (String privateKey : List.of("plain.key", "encrypted.key")) {
      Result r = run("feed", "init", "--repo", repoArg(), "--root-key", key(privateKey).toString(), "--targets-key", pub,
          "--snapshot-key", pub, "--timestamp-key", pub);

      assertThat(r.code()).isEqualTo(2);
      assertThat(r.err()).isEqualTo("tourniquet: " + key(privateKey) + ": expected a public key file but found a private"
          + " key; give the public key written beside it by keys generate (PREFIX.pub.json), and keep the private key"
          + " where it is\n");
    }
    assertThat(repo()).doesNotExist();
  }

  @Test
  void verbRunInADirectoryThatHoldsNoRepositoryNamesTheDirectoryAndTheRepoOption() {
    Path cwd = Path.of("").toAbsolutePath();

    Result r = run("feed", "list");

    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).isEqualTo("tourniquet: " + cwd + ": expected a feed repository (repository.json) but found none;"
        + " give its directory with --repo DIR (default: the current directory), or create one with feed init\n");
  }

  @Test
  void addOrCheckOfADirectoryInsteadOfADocumentNamesIt() throws IOException {
    publishM1();

    Result check = run("feed", "check", EXAMPLES.toString());
    Result add = run("feed", "add", "--repo", repoArg(), EXAMPLES.toString());

    assertThat(check.code()).isEqualTo(2);
    assertThat(check.out()).isEqualTo("mitigations: document: expected a mitigation document (a JSON file) but found the"
        + " directory " + EXAMPLES + "; name its files (" + EXAMPLES + "/*.json)\n");
    assertThat(add.code()).isEqualTo(2);
    assertThat(add.errLines()).first().asString().startsWith("mitigations: document: expected a mitigation document");
  }

  @Test
  void keyTheRoleDoesNotListIsNamedByItsFileWhenSigningPublishingAndRefreshingTheTimestamp() throws IOException {
    publishM1();
    ok("feed", "renew", "--repo", repoArg(), "--role", "targets");

    // Before, only the key id was named: which of the publisher's key files is that?
    Result sign = run("feed", "sign", "--repo", repoArg(), "--role", "targets", "--key", key("snapshot.key").toString());
    ok("feed", "sign", "--repo", repoArg(), "--role", "targets", "--key", key("targets.key").toString());
    Result publish = run("feed", "publish", "--repo", repoArg(), "--snapshot-key", key("snapshot.key").toString(),
        "--timestamp-key", key("targets.key").toString());
    Result timestamp = run("feed", "timestamp", "--repo", repoArg(), "--timestamp-key", key("snapshot.key").toString());

    assertThat(sign.code()).isEqualTo(1);
    assertThat(sign.err()).startsWith("tourniquet: targets role: expected a key listed for it in root version 1 but found key ")
        .endsWith(", from " + key("snapshot.key") + "; give the private key file of a targets key that the root lists"
            + " (keys show FILE prints a file's key id)\n");
    assertThat(publish.code()).isEqualTo(1);
    assertThat(publish.err()).startsWith("tourniquet: timestamp role: ").contains(", from " + key("targets.key") + "; ");
    assertThat(timestamp.code()).isEqualTo(1);
    assertThat(timestamp.err()).startsWith("tourniquet: timestamp role: ").contains(", from " + key("snapshot.key") + "; ");
  }

  @Test
  void initWithTheRootKeyAlsoSigningOtherRolesWarnsButInitialises() throws IOException {
    ok("keys", "generate", "--out", key("k").toString());
    ok("keys", "generate", "--out", key("online").toString());
    String pub = key("k.pub.json").toString();

    Result r = ok("feed", "init", "--repo", repoArg(), "--root-key", pub, "--targets-key", pub,
        "--snapshot-key", key("online.pub.json").toString(), "--timestamp-key", pub);

    assertThat(r.err()).isEqualTo("warning: the root key " + pub + " also signs targets and timestamp: a root key"
        + " belongs offline, and one that signs other roles is used where they are; for a feed agents trust, give"
        + " each role its own key (keys generate)\n");
    assertThat(repo().resolve("repository.json")).exists();
  }

  @Test
  void initWithItsOwnKeyForEachRoleWarnsOfNothing() throws IOException {
    for (String name : List.of("root", "targets", "snapshot", "timestamp")) {
      ok("keys", "generate", "--out", key(name).toString());
    }

    Result r = ok("feed", "init", "--repo", repoArg(), "--root-key", key("root.pub.json").toString(),
        "--targets-key", key("targets.pub.json").toString(), "--snapshot-key", key("snapshot.pub.json").toString(),
        "--timestamp-key", key("timestamp.pub.json").toString());

    assertThat(r.err()).isEmpty();
  }

  @Test
  void initRefusesAThresholdAboveTheNumberOfKeys() throws IOException {
    ok("keys", "generate", "--out", key("k").toString());
    String pub = key("k.pub.json").toString();

    Result r = run("feed", "init", "--repo", repoArg(), "--root-key", pub, "--root-threshold", "2", "--targets-key", pub,
        "--snapshot-key", pub, "--timestamp-key", pub);

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("tourniquet: --root-threshold: expected 1 to 1 (the number of --root-key files given)"
        + " but found 2\n");
    assertThat(repo()).doesNotExist();
  }

  @Test
  void signNeedsExactlyOneOfRoleAndFile() {
    Result r = run("feed", "sign", "--key", "k.key");

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("tourniquet: feed sign: expected exactly one of --role and --file but found neither\n");
  }

  @Test
  void badDurationIsAnInvalidArgument() {
    Result r = run("feed", "timestamp", "--timestamp-key", "t.key", "--validity", "1 week");

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("expected a positive duration such as 365d, 12h, 30m or P365D but found '1 week'");
  }

  @Test
  void helpListsEveryFeedVerbAndTheKeysVerbs() {
    String feedHelp = ok("feed", "--help").out();
    String keysHelp = ok("keys", "--help").out();

    for (String verb : List.of("init", "check", "add", "remove", "list", "status", "sign", "merge", "publish", "timestamp",
        "renew", "rotate", "bundle", "verify")) {
      assertThat(feedHelp).containsPattern("\n  " + verb + " ");
    }
    assertThat(keysHelp).containsPattern("\n  generate ").containsPattern("\n  show ");
    assertThat(ok("--help").out()).containsPattern("\n  feed ").containsPattern("\n  keys ");
  }

  @Test
  void verifyFromSomethingThatIsNoFeedIsAnInvalidArgument() throws IOException {
    Path root = tmp.resolve("root.json");
    Files.writeString(root, "{}", StandardCharsets.UTF_8);

    Result r = run("feed", "verify", "--root", root.toString(), "--from", tmp.resolve("nowhere").toString());

    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("tourniquet: --from: expected a directory, a bundle file or an http(s) URL but found "
        + tmp.resolve("nowhere") + "\n");
  }
}
