package dev.tourniquet.feed.tuf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Each attack on the feed that the client must reject, with a fixture built by {@link TestRepository}
 * (the real publisher plus forgeries). Every test checks the exception type, that its message names the
 * check and the expected and found values, and that the trusted store is byte for byte unchanged.
 */
class AttackTest {
  @TempDir Path temp;
  TestRepository repo;
  Path store;

  @BeforeEach
  void publishAFeed() throws Exception {
    repo = new TestRepository(temp);
    store = repo.newStore(temp.resolve("store"));
  }

  private void assertRejectedAndStoreUnchanged(ThrowingCallable update, Class<? extends FeedVerificationException> type,
      String... messageParts) {
    StoreSnapshot before = StoreSnapshot.of(store);
    assertThatThrownBy(update).isInstanceOf(type).message().contains(messageParts);
    assertThat(StoreSnapshot.of(store)).isEqualTo(before);
  }

  private byte[] timestampListing(long version, long snapshotVersion, byte[] snapshot) {
    return TestRepository.forge(repo.publishedFile("timestamp.json"), s -> {
      s.put("version", version);
      s.withObjectProperty("meta").set("snapshot.json", TestRepository.metaEntry(snapshotVersion, snapshot));
    }, repo.timestampKey);
  }

  // --- signatures -------------------------------------------------------------------------------

  @Test
  void newRootSignedByFewerRootKeysThanTheThresholdIsRejected() throws Exception {
    repo.overrides.put("2.root.json", TestRepository.forge(repo.publishedFile("1.root.json"),
        s -> s.put("version", 2), repo.rootKeys.get(0)));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), ThresholdNotMetException.class,
        "2.root.json", "root role in the trusted root (version 1)", "TUF 5.3.4",
        "expected at least 2 valid signatures", "but found 1");
  }

  @Test
  void timestampSignedByAnUnknownKeyIsRejected() throws Exception {
    SigningKey attacker = SigningKey.generate();
    repo.overrides.put("timestamp.json", TestRepository.forge(repo.publishedFile("timestamp.json"),
        s -> s.put("version", 2), attacker));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), ThresholdNotMetException.class,
        "timestamp.json", "timestamp role", "TUF 5.4.2", "expected at least 1 valid signature", "but found 0");
  }

  @Test
  void timestampSignedByTheSnapshotKeyIsRejected() throws Exception {
    repo.overrides.put("timestamp.json", TestRepository.forge(repo.publishedFile("timestamp.json"),
        s -> s.put("version", 2), repo.snapshotKey));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), ThresholdNotMetException.class,
        "timestamp role", "but found 0");
  }

  @Test
  void repeatedSignaturesByOneKeyCountOnceTowardTheThreshold() throws Exception {
    byte[] forged = TestRepository.forge(repo.publishedFile("1.root.json"), s -> s.put("version", 2),
        repo.rootKeys.get(0));
    ObjectNode envelope = Json.parseObject("forged", forged);
    envelope.withArray("signatures").add(envelope.withArray("signatures").get(0).deepCopy());
    envelope.withArray("signatures").add(envelope.withArray("signatures").get(0).deepCopy());
    assertThat(envelope.withArray("signatures")).hasSize(3);
    repo.overrides.put("2.root.json", Json.write(envelope));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), ThresholdNotMetException.class,
        "expected at least 2 valid signatures", "but found 1");
  }

  @Test
  void signatureUnderARootKeyIdThatIsNotTheSignersKeyIsRejected() throws Exception {
    SigningKey attacker = SigningKey.generate();
    byte[] forged = TestRepository.forge(repo.publishedFile("timestamp.json"), s -> s.put("version", 2), attacker);
    ObjectNode envelope = Json.parseObject("forged", forged);
    ((ObjectNode) envelope.withArray("signatures").get(0)).put("keyid", repo.timestampKey.keyId());
    repo.overrides.put("timestamp.json", Json.write(envelope));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), ThresholdNotMetException.class,
        "timestamp role", "but found 0");
  }

  // Character.digit takes the digits of every script; HexFormat only ASCII ones. Neither input may turn
  // into an unchecked exception: no key is needed to send it.
  @Test
  void signatureOfNonAsciiDigitsIsInvalidRatherThanAnUncheckedError() throws Exception {
    ObjectNode envelope = Json.parseObject("forged", TestRepository.forge(repo.publishedFile("timestamp.json"),
        s -> s.put("version", 2), repo.timestampKey));
    ((ObjectNode) envelope.withArray("signatures").get(0)).put("sig", "\u0660\u0661\u0662\u0663");
    repo.overrides.put("timestamp.json", Json.write(envelope));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), ThresholdNotMetException.class,
        "timestamp role", "TUF 5.4.2", "but found 0");
  }

  @Test
  void hashOfNonAsciiDigitsIsMalformedRatherThanAnUncheckedError() throws Exception {
    repo.overrides.put("timestamp.json", TestRepository.forge(repo.publishedFile("timestamp.json"), s ->
        ((ObjectNode) s.withObjectProperty("meta").get("snapshot.json")).putObject("hashes")
            .put("sha256", "\uff10\uff11")));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), MalformedMetadataException.class,
        "signed.meta.snapshot.json.hashes.sha256: expected a hex digest but found \"\uff10\uff11\"");
  }

  @Test
  void signedQuestionMarkSwappedForAnUnpairedSurrogateIsMalformedNotStillSigned() throws Exception {
    // Encoded to UTF-8, an unpaired surrogate becomes "?": without a check both documents would have one
    // canonical form, so the signature over one would verify the other (TUF 4.1: signatures are over the
    // canonical form of the signed value as received).
    String signed = new String(TestRepository.forge(repo.publishedFile("timestamp.json"), s -> {
      s.put("version", 2);
      s.put("note", "a?b");
    }, repo.timestampKey), StandardCharsets.UTF_8);
    assertThat(signed).contains("\"a?b\"");
    repo.overrides.put("timestamp.json", signed.replace("\"a?b\"", "\"a\\ud800b\"").getBytes(StandardCharsets.UTF_8));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), MalformedMetadataException.class,
        "timestamp.json", "signed: expected a string of Unicode characters but found the unpaired surrogate U+D800");
  }

  // --- rollback -----------------------------------------------------------------------------------

  @Test
  void rootServedAsNextVersionButHoldingAnOlderVersionIsARollback() throws Exception {
    repo.overrides.put("2.root.json", repo.publishedFile("1.root.json"));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), RollbackException.class,
        "2.root.json", "rollback of root", "TUF 5.3.5", "expected version 2 or later but found 1");
  }

  @Test
  void olderTimestampAfterANewerOneIsARollback() throws Exception {
    byte[] oldTimestamp = repo.publishedFile("timestamp.json");
    repo.publishRevision(2);
    repo.client(store).refresh();
    repo.overrides.put("timestamp.json", oldTimestamp);

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), RollbackException.class,
        "timestamp.json: rollback of timestamp.json (TUF 5.4.3.1)", "expected version 2 or later but found 1");
  }

  @Test
  void timestampListingAnOlderSnapshotIsARollback() throws Exception {
    byte[] oldSnapshot = repo.publishedFile("1.snapshot.json");
    repo.publishRevision(2);
    repo.client(store).refresh();
    repo.overrides.put("timestamp.json", timestampListing(3, 1, oldSnapshot));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), RollbackException.class,
        "rollback of snapshot.json as listed in timestamp.json (TUF 5.4.3.2)", "expected version 2 or later but found 1");
  }

  @Test
  void snapshotListingOlderTargetsIsARollback() throws Exception {
    byte[] oldTargets = repo.publishedFile("1.targets.json");
    repo.publishRevision(2);
    repo.client(store).refresh();
    byte[] snapshot = TestRepository.forge(repo.publishedFile("2.snapshot.json"), s -> {
      s.put("version", 3);
      s.withObjectProperty("meta").set("targets.json", TestRepository.metaEntry(1, oldTargets));
    }, repo.snapshotKey);
    repo.overrides.put("3.snapshot.json", snapshot);
    repo.overrides.put("timestamp.json", timestampListing(3, 3, snapshot));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), RollbackException.class,
        "3.snapshot.json", "rollback of targets.json as listed in snapshot.json (TUF 5.5.5)",
        "expected version 2 or later but found 1");
  }

  @Test
  void snapshotThatDropsTheTargetsMetadataIsRejected() throws Exception {
    repo.client(store).refresh();
    byte[] snapshot = TestRepository.forge(repo.publishedFile("1.snapshot.json"), s -> {
      s.put("version", 2);
      s.putObject("meta");
    }, repo.snapshotKey);
    repo.overrides.put("2.snapshot.json", snapshot);
    repo.overrides.put("timestamp.json", timestampListing(2, 2, snapshot));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), MetaFileRemovedException.class,
        "2.snapshot.json", "TUF 5.5.5", "expected an entry for targets.json but found none");
  }

  // --- freeze (expiry) ----------------------------------------------------------------------------

  @Test
  void expiredRootIsAFreeze() throws Exception {
    repo = new TestRepository(temp.resolve("short-root"), new FeedRepository.Validity(Duration.ofDays(1),
        Duration.ofDays(10), Duration.ofDays(10), Duration.ofDays(10)));
    store = repo.newStore(temp.resolve("short-root-store"));
    repo.clock.advance(Duration.ofDays(2));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), ExpiredException.class,
        "root metadata expired", "TUF 5.3.10", "expected an expiry after 2026-03-03T12:00:00Z but found 2026-03-02T12:00:00Z");
  }

  @Test
  void expiredTimestampIsAFreeze() throws Exception {
    repo.client(store).refresh();
    repo.clock.advance(Duration.ofDays(1).plusSeconds(1));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), ExpiredException.class,
        "timestamp.json", "timestamp metadata expired", "TUF 5.4.4", "but found 2026-03-02T12:00:00Z");
  }

  @Test
  void expiredSnapshotIsAFreeze() throws Exception {
    repo = new TestRepository(temp.resolve("short-snapshot"), new FeedRepository.Validity(Duration.ofDays(365),
        Duration.ofDays(90), Duration.ofDays(1), Duration.ofDays(10)));
    store = repo.newStore(temp.resolve("short-snapshot-store"));
    repo.clock.advance(Duration.ofDays(2));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), ExpiredException.class,
        "1.snapshot.json", "snapshot metadata expired", "TUF 5.5.6");
  }

  @Test
  void expiredTargetsIsAFreeze() throws Exception {
    repo = new TestRepository(temp.resolve("short-targets"), new FeedRepository.Validity(Duration.ofDays(365),
        Duration.ofDays(1), Duration.ofDays(10), Duration.ofDays(10)));
    store = repo.newStore(temp.resolve("short-targets-store"));
    repo.clock.advance(Duration.ofDays(2));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), ExpiredException.class,
        "1.targets.json", "targets metadata expired", "TUF 5.6.5");
  }

  // --- mix-and-match ------------------------------------------------------------------------------

  @Test
  void snapshotOfAnotherVersionThanTheTimestampListsIsMixAndMatch() throws Exception {
    byte[] oldSnapshot = repo.publishedFile("1.snapshot.json");
    repo.publishRevision(2);
    repo.overrides.put("2.snapshot.json", oldSnapshot);
    repo.overrides.put("timestamp.json", timestampListing(2, 2, oldSnapshot));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), MixAndMatchException.class,
        "2.snapshot.json", "listed in timestamp.json", "TUF 5.5.4", "expected version 2 but found 1");
  }

  @Test
  void targetsOfAnotherVersionThanTheSnapshotListsIsMixAndMatch() throws Exception {
    byte[] oldTargets = repo.publishedFile("1.targets.json");
    repo.publishRevision(2);
    byte[] snapshot = TestRepository.forge(repo.publishedFile("2.snapshot.json"), s -> {
      s.put("version", 3);
      s.withObjectProperty("meta").set("targets.json", TestRepository.metaEntry(2, oldTargets));
    }, repo.snapshotKey);
    repo.overrides.put("3.snapshot.json", snapshot);
    repo.overrides.put("2.targets.json", oldTargets);
    repo.overrides.put("timestamp.json", timestampListing(3, 3, snapshot));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), MixAndMatchException.class,
        "2.targets.json", "listed in snapshot.json", "TUF 5.6.4", "expected version 2 but found 1");
  }

  // --- target files -------------------------------------------------------------------------------

  private String m1Path() {
    return "targets/mitigations/" + Hashes.hex(Hashes.SHA256, TestRepository.mitigation("M1", 1)) + ".M1.json";
  }

  @Test
  void targetWithTheRightLengthButOtherBytesIsAHashMismatch() throws Exception {
    TufClient client = repo.client(store);
    client.refresh();
    byte[] tampered = TestRepository.mitigation("M1", 1);
    tampered[tampered.length - 2] = '!';
    repo.overrides.put(m1Path(), tampered);

    assertRejectedAndStoreUnchanged(() -> client.download("mitigations/M1.json"), HashMismatchException.class,
        m1Path(), "sha256 hash differs from the one listed in 1.targets.json (TUF 5.7.3)",
        "expected " + Hashes.hex(Hashes.SHA256, TestRepository.mitigation("M1", 1)),
        "but found " + Hashes.hex(Hashes.SHA256, tampered));
  }

  @Test
  void targetLongerThanListedIsALengthMismatchAndIsNotTruncated() throws Exception {
    TufClient client = repo.client(store);
    client.refresh();
    byte[] genuine = TestRepository.mitigation("M1", 1);
    byte[] longer = (new String(genuine, StandardCharsets.UTF_8) + "\n\n").getBytes(StandardCharsets.UTF_8);
    repo.overrides.put(m1Path(), longer);

    assertRejectedAndStoreUnchanged(() -> client.download("mitigations/M1.json"), LengthMismatchException.class,
        "TUF 5.7.3", "expected " + genuine.length + " bytes but found more than " + genuine.length);
  }

  @Test
  void targetShorterThanListedIsALengthMismatch() throws Exception {
    TufClient client = repo.client(store);
    client.refresh();
    byte[] genuine = TestRepository.mitigation("M1", 1);
    repo.overrides.put(m1Path(), java.util.Arrays.copyOf(genuine, genuine.length - 1));

    assertRejectedAndStoreUnchanged(() -> client.download("mitigations/M1.json"), LengthMismatchException.class,
        "expected " + genuine.length + " bytes but found " + (genuine.length - 1) + " bytes");
  }

  @Test
  void targetNotListedIsUnknown() throws Exception {
    TufClient client = repo.client(store);
    client.refresh();

    assertRejectedAndStoreUnchanged(() -> client.download("mitigations/M9.json"), UnknownTargetException.class,
        "TUF 5.7.2", "expected an entry for \"mitigations/M9.json\" but found none");
  }

  // --- endless data -------------------------------------------------------------------------------

  /** An attacker's stream that never ends; counts what the client read from it. */
  static final class EndlessStream extends InputStream {
    final AtomicLong read = new AtomicLong();

    @Override
    public int read() {
      read.incrementAndGet();
      return ' ';
    }

    @Override
    public int read(byte[] b, int off, int len) {
      java.util.Arrays.fill(b, off, off + len, (byte) ' ');
      read.addAndGet(len);
      return len;
    }
  }

  private TufClient clientWithEndless(String path, EndlessStream endless) {
    Fetcher mirror = repo.mirror();
    return TufClient.open(store, (p, etag) -> p.equals(path)
        ? new Fetcher.Found(endless, Optional.empty())
        : mirror.fetch(p, etag), repo.clock);
  }

  @Test
  void endlessTimestampIsCutAtTheTimestampCap() throws Exception {
    EndlessStream endless = new EndlessStream();

    assertRejectedAndStoreUnchanged(() -> clientWithEndless("timestamp.json", endless).refresh(),
        OversizedException.class, "timestamp.json", "TUF 5.4.1", "expected at most 16384 bytes but found more");
    assertThat(endless.read.get()).isLessThanOrEqualTo(16_385);
  }

  @Test
  void endlessRootIsCutAtTheRootCap() throws Exception {
    EndlessStream endless = new EndlessStream();

    assertRejectedAndStoreUnchanged(() -> clientWithEndless("2.root.json", endless).refresh(),
        OversizedException.class, "2.root.json", "TUF 5.3.3", "expected at most 512000 bytes but found more");
    assertThat(endless.read.get()).isLessThanOrEqualTo(512_001);
  }

  @Test
  void endlessSnapshotIsCutOneBytePastItsListedLength() throws Exception {
    EndlessStream endless = new EndlessStream();
    long listed = repo.publishedFile("1.snapshot.json").length;

    assertRejectedAndStoreUnchanged(() -> clientWithEndless("1.snapshot.json", endless).refresh(),
        LengthMismatchException.class, "1.snapshot.json", "TUF 5.5.1",
        "expected " + listed + " bytes but found more than " + listed);
    assertThat(endless.read.get()).isLessThanOrEqualTo(listed + 1);
  }

  @Test
  void endlessTargetIsCutOneBytePastItsListedLength() throws Exception {
    EndlessStream endless = new EndlessStream();
    TufClient client = clientWithEndless(m1Path(), endless);
    client.refresh();
    long listed = TestRepository.mitigation("M1", 1).length;

    assertRejectedAndStoreUnchanged(() -> client.download("mitigations/M1.json"), LengthMismatchException.class,
        "expected " + listed + " bytes but found more than " + listed);
    assertThat(endless.read.get()).isLessThanOrEqualTo(listed + 1);
  }

  @Test
  void targetListedAboveTheTargetCapIsRefusedBeforeDownloading() throws Exception {
    TufClient client = repo.client(store, Limits.defaults().withTargetFileBytes(10));
    client.refresh();

    assertRejectedAndStoreUnchanged(() -> client.download("mitigations/M1.json"), OversizedException.class,
        "expected at most 10 bytes but found more");
  }

  // --- malformed ----------------------------------------------------------------------------------

  @Test
  void timestampThatIsNotJsonIsMalformed() throws Exception {
    repo.overrides.put("timestamp.json", "{\"signed\": {\"_type\": ".getBytes(StandardCharsets.UTF_8));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), MalformedMetadataException.class,
        "timestamp.json: malformed metadata: expected JSON but found a syntax error");
  }

  @Test
  void metadataWithADuplicateKeyIsMalformedRatherThanGuessed() throws Exception {
    String genuine = new String(repo.publishedFile("timestamp.json"), StandardCharsets.UTF_8);
    String duplicated = genuine.substring(0, genuine.length() - 1) + ",\"signatures\":[]}";
    repo.overrides.put("timestamp.json", duplicated.getBytes(StandardCharsets.UTF_8));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), MalformedMetadataException.class,
        "expected JSON but found a syntax error", "Duplicate field 'signatures'");
  }

  @Test
  void metadataWithAFloatingPointVersionIsMalformed() throws Exception {
    repo.overrides.put("timestamp.json", TestRepository.forge(repo.publishedFile("timestamp.json"),
        s -> s.put("version", 2.0)));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), MalformedMetadataException.class,
        "canonical JSON has no floating-point numbers");
  }

  @Test
  void metadataOfTheWrongRoleIsMalformed() throws Exception {
    repo.overrides.put("timestamp.json", repo.publishedFile("1.snapshot.json"));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), MalformedMetadataException.class,
        "signed._type: expected \"timestamp\" but found \"snapshot\"");
  }

  @Test
  void targetEntryWithoutHashesIsMalformed() throws Exception {
    serveTargets(targets -> ((ObjectNode) targets.get("mitigations/M1.json")).remove("hashes"));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), MalformedMetadataException.class,
        "signed.targets.mitigations/M1.json.hashes: expected an object but found nothing");
  }

  /** Serves targets (version 2, signed by the targets key) that also list {@code name}, with snapshot and timestamp. */
  private void serveTargetsAlsoListing(String name) {
    serveTargets(targets -> targets.set(name, Envelopes.targetEntry(new byte[] {'x'})));
  }

  /** Serves targets version 2 with its {@code targets} edited, signed by the targets key, with snapshot and timestamp. */
  private void serveTargets(java.util.function.Consumer<ObjectNode> edit) {
    byte[] targets = TestRepository.forge(repo.publishedFile("1.targets.json"), s -> {
      s.put("version", 2);
      edit.accept(s.withObjectProperty("targets"));
    }, repo.targetsKey);
    byte[] snapshot = TestRepository.forge(repo.publishedFile("1.snapshot.json"), s -> {
      s.put("version", 2);
      s.withObjectProperty("meta").set("targets.json", TestRepository.metaEntry(2, targets));
    }, repo.snapshotKey);
    repo.overrides.put("2.targets.json", targets);
    repo.overrides.put("2.snapshot.json", snapshot);
    repo.overrides.put("timestamp.json", timestampListing(2, 2, snapshot));
  }

  // The target cache is targets/NAME in the store (TUF 5.7.3). On Windows a drive letter makes NAME absolute
  // or drive-relative, so that Path.resolve leaves the store; ':' after a name opens an alternate data
  // stream; a device name (in any directory, with any extension) is the device; a trailing dot or space is
  // stripped. A signed targets file must not be able to write there, whatever platform verified it.
  @ParameterizedTest
  @ValueSource(strings = {"C:/Windows/System32/drivers/etc/hosts", "C:hosts", "mitigations/M1.json:hidden",
      "mitigations/CON.json", "mitigations/nul", "mitigations/Com1.json", "lpt1/M1.json", "mitigations/M1.json.",
      "mitigations/M1.json ", "mitigations/M?.json", "mitigations/M*.json", "mitigations/M<1>.json"})
  void targetsListingANameThatIsNotAPlainFileOnWindowsIsMalformed(String name) throws Exception {
    serveTargetsAlsoListing(name);

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), MalformedMetadataException.class,
        "2.targets.json", "signed.targets." + name + ": expected a relative target path of safe segments but found");
  }

  // --- root chain ---------------------------------------------------------------------------------

  @Test
  void rootChainThatSkipsAVersionIsRejected() throws Exception {
    for (int i = 0; i < 2; i++) {
      repo.repo.renew(Role.ROOT);
      repo.repo.sign(Role.ROOT, repo.rootKeys.get(0));
      repo.repo.sign(Role.ROOT, repo.rootKeys.get(2));
      repo.publish();
    }
    repo.overrides.put("2.root.json", repo.publishedFile("3.root.json"));

    assertRejectedAndStoreUnchanged(() -> repo.client(store).refresh(), RootChainGapException.class,
        "2.root.json: root chain skips a version (TUF 5.3.5): expected version 2 but found 3");
  }

  @Test
  void rootThatRevokedAKeyStaysTrustedWhenALaterStepOfItsRunFails() throws Exception {
    repo.client(store).refresh();
    // Root 2 revokes the timestamp key, say because it leaked.
    SigningKey newTimestampKey = SigningKey.generate();
    repo.repo.changeKeys(Role.TIMESTAMP, List.of(newTimestampKey.verificationKey()), Set.of(repo.timestampKey.keyId()),
        OptionalInt.empty());
    repo.repo.sign(Role.ROOT, repo.rootKeys.get(0));
    repo.repo.sign(Role.ROOT, repo.rootKeys.get(2));
    repo.repo.publish(List.of(repo.snapshotKey), List.of(newTimestampKey));
    Fetcher mirror = repo.mirror();
    // First run: the genuine 2.root.json arrives, then the connection drops before the timestamp.
    TufClient first = TufClient.open(store, (p, e) -> {
      if (p.equals("timestamp.json")) {
        throw new IOException("connection reset");
      }
      return mirror.fetch(p, e);
    }, repo.clock);
    assertThatThrownBy(first::refresh).isInstanceOf(IOException.class);
    // Second run: the attacker withholds 2.root.json and serves a timestamp signed with the revoked key.
    byte[] forged = TestRepository.forge(repo.publishedFile("timestamp.json"), s -> s.put("version", 99),
        repo.timestampKey);
    TufClient second = TufClient.open(store, (p, e) -> p.equals("2.root.json") ? new Fetcher.NotFound()
        : p.equals("timestamp.json") ? new Fetcher.Found(new ByteArrayInputStream(forged), Optional.empty())
        : mirror.fetch(p, e), repo.clock);

    assertThatThrownBy(second::refresh).isInstanceOf(ThresholdNotMetException.class)
        .hasMessageContaining("timestamp.json").hasMessageContaining("root (version 2)");
    assertThat(TufClient.open(store, mirror, repo.clock).trustedVersions()).containsEntry(Role.ROOT, 2L);
  }

  @Test
  void missingTimestampLeavesTheStoreUnchanged() throws Exception {
    repo.client(store).refresh();
    Fetcher mirror = repo.mirror();
    TufClient client = TufClient.open(store, (p, e) -> p.equals("timestamp.json") ? new Fetcher.NotFound()
        : mirror.fetch(p, e), repo.clock);

    assertRejectedAndStoreUnchanged(client::refresh, MissingFileException.class,
        "timestamp.json: file not found on the repository (TUF 5.4.1)");
  }
}
