package dev.tourniquet.feed.tuf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The publisher's workflows, each checked end to end by an agent's client. */
class FeedRepositoryTest {
  @TempDir Path temp;
  TestRepository repo;

  @BeforeEach
  void publishAFeed() throws Exception {
    repo = new TestRepository(temp);
  }

  private TufClient agent(String name) throws Exception {
    return repo.client(repo.newStore(temp.resolve(name)));
  }

  @Test
  void initialisedSignedAndPublishedFeedVerifiesFromRootVersionOne() throws Exception {
    TufClient agent = agent("agent");
    TrustedFeed feed = agent.refresh();

    assertThat(feed.rootVersion()).isEqualTo(1);
    assertThat(feed.targets()).containsOnlyKeys("mitigations/M1.json", "mitigations/M2.json");
    assertThat(agent.download("mitigations/M1.json")).isEqualTo(TestRepository.mitigation("M1", 1));
    assertThat(repo.published().resolve("targets/mitigations/"
        + Hashes.hex(Hashes.SHA256, TestRepository.mitigation("M1", 1)) + ".M1.json")).isRegularFile();
    assertThat(repo.published().resolve("root.json")).hasSameBinaryContentAs(repo.published().resolve("1.root.json"));
  }

  @Test
  void revisedTargetReplacesTheOldContentForAgents() throws Exception {
    TufClient agent = agent("agent");
    agent.refresh();
    repo.publishRevision(2);

    TrustedFeed feed = agent.refresh();

    assertThat(feed.targetsVersion()).isEqualTo(2);
    assertThat(agent.download("mitigations/M1.json")).isEqualTo(TestRepository.mitigation("M1", 2));
  }

  @Test
  void withdrawnTargetDisappearsFromTheFeed() throws Exception {
    repo.repo.removeTarget("mitigations/M2.json");
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    repo.publish();

    TufClient agent = agent("agent");
    assertThat(agent.refresh().targets()).containsOnlyKeys("mitigations/M1.json");
    assertThatThrownBy(() -> agent.download("mitigations/M2.json")).isInstanceOf(UnknownTargetException.class);
  }

  @Test
  void withdrawnMitigationLeavesItsLastPublishedRevisionInTheSignedTargets() throws Exception {
    publishM1ThenWithdrawIt(3);

    TrustedFeed feed = agent("agent").refresh();
    ObjectNodeView signed = signedTargets(feed.targetsVersion());
    assertThat(feed.targets()).containsOnlyKeys("mitigations/M2.json");
    assertThat(signed.withdrawn()).isEqualTo("{\"M1\":3}");
    assertThat(repo.repo.lastPublishedRevision("M1")).isEqualTo(OptionalInt.of(3));
    assertThat(repo.repo.lastPublishedRevision("M2")).isEqualTo(OptionalInt.of(1));
    assertThat(repo.repo.lastPublishedRevision("M3")).isEmpty();
  }

  @Test
  void theMemoryOfAWithdrawnRevisionIsCarriedIntoEveryLaterTargetsVersion() throws Exception {
    publishM1ThenWithdrawIt(3);
    repo.repo.addTarget("mitigations/M2.json", TestRepository.mitigation("M2", 2));
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    repo.publish();

    assertThat(repo.repo.lastPublishedRevision("M1")).isEqualTo(OptionalInt.of(3));
    assertThat(signedTargets(4).withdrawn()).isEqualTo("{\"M1\":3}");
  }

  @Test
  void withdrawingARevisionStagedButNeverPublishedRemembersThePublishedOne() throws Exception {
    repo.repo.addTarget("mitigations/M1.json", TestRepository.mitigation("M1", 5));
    repo.repo.removeTarget("mitigations/M1.json");

    assertThat(repo.repo.lastPublishedRevision("M1")).isEqualTo(OptionalInt.of(1));
  }

  @Test
  void aRepositoryOlderThanTheMemoryReadsWithdrawnRevisionsFromItsPublishedHistory() throws Exception {
    // Published by a version older than the memory: no targets version it signed carries one.
    FeedRepository old = FeedRepository.init(temp.resolve("old"), repo.keySets(), FeedRepository.Validity.defaults(),
        repo.clock);
    old.sign(Role.ROOT, repo.rootKeys.get(0));
    old.sign(Role.ROOT, repo.rootKeys.get(1));
    old.addTargets(Map.of("mitigations/M1.json", TestRepository.mitigation("M1", 1),
        "mitigations/M2.json", TestRepository.mitigation("M2", 1)));
    publishAsAVersionOlderThanTheMemory(old);
    old.addTarget("mitigations/M1.json", TestRepository.mitigation("M1", 3));
    publishAsAVersionOlderThanTheMemory(old);
    old.removeTarget("mitigations/M1.json");
    publishAsAVersionOlderThanTheMemory(old);
    assertThat(Json.parseObject("targets", Files.readAllBytes(old.publishedDirectory().resolve("3.targets.json")))
        .get("signed").has(FeedRepository.WITHDRAWN)).isFalse();

    OptionalInt fromHistory = old.lastPublishedRevision("M1");
    old.addTarget("mitigations/M2.json", TestRepository.mitigation("M2", 2));

    assertThat(fromHistory).isEqualTo(OptionalInt.of(3));
    assertThat(Json.parseObject("staged", Files.readAllBytes(old.stagedFile(Role.TARGETS))).get("signed")
        .get(FeedRepository.WITHDRAWN)).hasToString("{\"M1\":3,\"M2\":1}");
  }

  /** Signs and publishes the staged targets without the memory of withdrawn revisions, as an older version did. */
  private void publishAsAVersionOlderThanTheMemory(FeedRepository old) throws Exception {
    Path staged = old.stagedFile(Role.TARGETS);
    com.fasterxml.jackson.databind.node.ObjectNode tree = Json.parseObject("staged", Files.readAllBytes(staged));
    ((com.fasterxml.jackson.databind.node.ObjectNode) tree.get("signed")).remove(FeedRepository.WITHDRAWN);
    Files.write(staged, Json.writePretty(tree));
    old.sign(Role.TARGETS, repo.targetsKey);
    old.publish(List.of(repo.snapshotKey), List.of(repo.timestampKey));
  }

  @Test
  void aDamagedPublishedFileDoesNotStopItsWithdrawal() throws Exception {
    Files.delete(repo.published().resolve("targets/mitigations/"
        + Hashes.hex(Hashes.SHA256, TestRepository.mitigation("M2", 1)) + ".M2.json"));

    repo.repo.removeTarget("mitigations/M2.json");
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    repo.publish();

    assertThat(agent("agent").refresh().targets()).containsOnlyKeys("mitigations/M1.json");
  }

  @Test
  void targetsStagedFromAFeedAnotherCopyPublishedOverAreRefusedAndCanBeDiscarded() throws Exception {
    FeedRepository copy = otherCopy();
    // This machine stages and signs a withdrawal of M2 on targets version 1; meanwhile the other copy publishes
    // version 2.
    repo.repo.removeTarget("mitigations/M2.json");
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    copy.addTarget("mitigations/M3.json", TestRepository.mitigation("M3", 1));
    copy.sign(Role.TARGETS, repo.targetsKey);
    copy.publish(List.of(repo.snapshotKey), List.of(repo.timestampKey));
    fetchTheFeedAsServedBy(copy);

    assertThatThrownBy(() -> repo.repo.removeTarget("mitigations/M1.json"))
        .isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("expected version 3, the one after the published targets version 2, but found version 2")
        .hasMessageContaining("feed discard --role targets");
    assertThatThrownBy(repo::publish).isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("feed discard --role targets");
    // Signed enough, and still never publishable: the status says so instead of "ready".
    assertThat(repo.repo.status()).singleElement().satisfies(st -> {
      assertThat(st.complete()).isTrue();
      assertThat(st.unpublishable()).hasValueSatisfying(why -> assertThat(why)
          .contains("expected version 3").contains("feed discard --role targets"));
    });

    repo.repo.discard(Role.TARGETS);
    repo.repo.removeTarget("mitigations/M2.json");
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    assertThat(repo.repo.status()).singleElement().satisfies(st -> assertThat(st.unpublishable()).isEmpty());

    assertThat(repo.publish().targets()).containsOnlyKeys("mitigations/M1.json", "mitigations/M3.json");
  }

  @Test
  void signingOrMergingStagedTargetsThatAnotherCopysPublishOvertookIsRefusedWithTheWayOut() throws Exception {
    FeedRepository copy = otherCopy();
    repo.repo.removeTarget("mitigations/M2.json");
    Path carried = temp.resolve("signer/targets.json"); // on its way to the targets key holder's machine
    Files.createDirectories(carried.getParent());
    Files.copy(repo.repo.stagedFile(Role.TARGETS), carried);
    FeedRepository.signFile(carried, repo.targetsKey);
    copy.addTarget("mitigations/M3.json", TestRepository.mitigation("M3", 1));
    copy.sign(Role.TARGETS, repo.targetsKey);
    copy.publish(List.of(repo.snapshotKey), List.of(repo.timestampKey));
    fetchTheFeedAsServedBy(copy);
    byte[] staged = Files.readAllBytes(repo.repo.stagedFile(Role.TARGETS));

    assertThatThrownBy(() -> repo.repo.sign(Role.TARGETS, repo.targetsKey))
        .isInstanceOf(RepositoryStateException.class)
        .hasMessageStartingWith("staged targets.json: expected version 3, the one after the published targets version"
            + " 2, but found version 2")
        .hasMessageContaining("discard it (feed discard --role targets)");
    assertThatThrownBy(() -> repo.repo.merge(Role.TARGETS, carried))
        .isInstanceOf(RepositoryStateException.class)
        .hasMessageStartingWith("staged targets.json: expected version 3, the one after the published targets version"
            + " 2, but found version 2")
        .hasMessageContaining("discard it (feed discard --role targets)");
    assertThat(Files.readAllBytes(repo.repo.stagedFile(Role.TARGETS))).isEqualTo(staged);
  }

  @Test
  void signingOrMergingAStagedRootThatAnotherCopysPublishOvertookIsRefusedWithTheWayOut() throws Exception {
    FeedRepository copy = otherCopy();
    repo.repo.renew(Role.ROOT);
    Path carried = temp.resolve("signer/root.json");
    Files.createDirectories(carried.getParent());
    Files.copy(repo.repo.stagedFile(Role.ROOT), carried);
    FeedRepository.signFile(carried, repo.rootKeys.get(2));
    copy.renew(Role.ROOT);
    copy.sign(Role.ROOT, repo.rootKeys.get(0));
    copy.sign(Role.ROOT, repo.rootKeys.get(1));
    copy.publish(List.of(repo.snapshotKey), List.of(repo.timestampKey));
    fetchTheFeedAsServedBy(copy);

    assertThatThrownBy(() -> repo.repo.sign(Role.ROOT, repo.rootKeys.get(0)))
        .isInstanceOf(RepositoryStateException.class)
        .hasMessageStartingWith("staged root.json: expected version 3, the one after the published root version 2,"
            + " but found version 2")
        .hasMessageContaining("discard it (feed discard --role root)");
    assertThatThrownBy(() -> repo.repo.merge(Role.ROOT, carried))
        .isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("discard it (feed discard --role root)");
    assertThat(repo.repo.status()).allSatisfy(st -> assertThat(st.valid()).isZero());
  }

  /** A copy of this repository as it is now, e.g. on a second publisher's machine. */
  private FeedRepository otherCopy() throws Exception {
    Path other = temp.resolve("other-copy");
    copyTree(repo.repo.publishedDirectory().getParent(), other);
    return FeedRepository.open(other, repo.clock);
  }

  /** This publisher fetches the feed as served now, which the other copy published. */
  private void fetchTheFeedAsServedBy(FeedRepository other) throws Exception {
    deleteTree(repo.published());
    copyTree(other.publishedDirectory(), repo.published());
  }

  // The revision rule: a mitigation's revision never goes back, whoever calls the repository.

  @Test
  void aRevisionNotAboveThePublishedOneIsRefusedAndNothingIsStaged() throws Exception {
    repo.publishRevision(3);

    assertThatThrownBy(() -> repo.repo.addTarget("mitigations/M1.json", TestRepository.mitigation("M1", 3)))
        .isInstanceOf(RevisionRollbackException.class)
        .hasMessageStartingWith("mitigations/M1.json: revision: expected a revision above 3 (the feed publishes M1.3)"
            + " but found 3");
    assertThatThrownBy(() -> repo.repo.addTarget("mitigations/M1.json", TestRepository.mitigation("M1", 1)))
        .isInstanceOf(RevisionRollbackException.class)
        .hasMessageContaining("expected a revision above 3 (the feed publishes M1.3) but found 1");
    assertThat(repo.repo.stagedFile(Role.TARGETS)).doesNotExist();
  }

  @Test
  void aWithdrawnMitigationComesBackOnlyAboveTheLastRevisionPublished() throws Exception {
    publishM1ThenWithdrawIt(3);

    assertThatThrownBy(() -> repo.repo.addTarget("mitigations/M1.json", TestRepository.mitigation("M1", 3)))
        .isInstanceOf(RevisionRollbackException.class)
        .hasMessageContaining("expected a revision above 3 (the feed published M1.3 before M1 was withdrawn) but found 3");
    publishM1AndSeeAnAgentDownloadIt(4);
  }

  @Test
  void aStagedRevisionMayBeReplacedByOneOfTheSameRevisionButNotALowerOne() throws Exception {
    repo.repo.addTarget("mitigations/M1.json", TestRepository.mitigation("M1", 3));
    byte[] sameRevision = "{\"id\":\"M1\",\"revision\":3,\"title\":\"M1.3, mended before publishing\"}\n"
        .getBytes(StandardCharsets.UTF_8);
    repo.repo.addTarget("mitigations/M1.json", sameRevision);

    assertThatThrownBy(() -> repo.repo.addTarget("mitigations/M1.json", TestRepository.mitigation("M1", 2)))
        .isInstanceOf(RevisionRollbackException.class)
        .hasMessageContaining("expected a revision of at least 3 (staged as M1.3) but found 2");
    assertThat(repo.repo.readTarget("mitigations/M1.json").orElseThrow()).isEqualTo(sameRevision);
  }

  @Test
  void oneRevisionThatGoesBackStagesNoneOfTheOtherTargetsAndEachRefusalCarriesItsRevisions() throws Exception {
    java.util.Map<String, byte[]> contents = java.util.Map.of(
        "mitigations/M1.json", TestRepository.mitigation("M1", 1),
        "mitigations/M2.json", TestRepository.mitigation("M2", 2),
        "mitigations/M3.json", TestRepository.mitigation("M3", 1));
    repo.publishRevision(2);

    assertThatThrownBy(() -> repo.repo.addTargets(contents)).isInstanceOfSatisfying(RevisionRollbackException.class,
        e -> assertThat(e.refusals()).containsExactly(new RevisionRollbackException.Refusal("mitigations/M1.json", 1, 3,
            "expected a revision above 2 (the feed publishes M1.2) but found 1")));
    assertThat(repo.repo.targets()).containsOnlyKeys("mitigations/M1.json", "mitigations/M2.json");
    assertThat(repo.repo.stagedFile(Role.TARGETS)).doesNotExist();
  }

  @Test
  void checkingTargetsRefusesWhatAddingThemWouldAndStagesNothing() throws Exception {
    assertThatThrownBy(() -> repo.repo.checkTargets(java.util.Map.of("mitigations/M1.json",
        TestRepository.mitigation("M1", 1)))).isInstanceOf(RevisionRollbackException.class)
        .hasMessageContaining("expected a revision above 1 (the feed publishes M1.1) but found 1");

    repo.repo.checkTargets(java.util.Map.of("mitigations/M1.json", TestRepository.mitigation("M1", 2)));

    assertThat(repo.repo.stagedFile(Role.TARGETS)).doesNotExist();
  }

  @Test
  void targetsThatAreNoMitigationAnAgentAppliesAreStagedAsGiven() throws Exception {
    // Outside mitigations/, or without a revision to read: agents apply none of these (they refuse the second as
    // an invalid document), so no revision of theirs can go back.
    byte[] noRevision = "{\"id\":\"M1\"}".getBytes(StandardCharsets.UTF_8);
    repo.repo.addTarget("notes/M1.json", TestRepository.mitigation("M1", 1));
    repo.repo.addTarget("mitigations/M1.json", noRevision);

    assertThat(repo.repo.readTarget("mitigations/M1.json").orElseThrow()).isEqualTo(noRevision);
  }

  // Expired documents and ids that differ only in case: refused by the repository too, for every caller.

  private static byte[] mitigation(String id, int revision, String expires) {
    return ("{\"id\":\"" + id + "\",\"revision\":" + revision + ",\"title\":\"test mitigation " + id
        + "\",\"expires\":\"" + expires + "\"}\n").getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void anExpiredMitigationIsRefusedAndNothingIsStaged() throws Exception {
    Map<String, byte[]> contents = Map.of(
        "mitigations/M3.json", mitigation("M3", 1, "2026-03-01T11:00:00Z"),
        "mitigations/M4.json", mitigation("M4", 1, "2026-03-01T14:00:00+02:00"), // now, written with an offset
        "mitigations/M5.json", mitigation("M5", 1, "2026-03-01T12:00:01Z"));

    assertThatThrownBy(() -> repo.repo.addTargets(contents))
        .isInstanceOfSatisfying(ExpiredMitigationException.class, e -> assertThat(e.refusals()).containsExactly(
            new ExpiredMitigationException.Refusal("mitigations/M3.json", Instant.parse("2026-03-01T11:00:00Z"),
                TestRepository.START, "expected an instant after now (2026-03-01T12:00:00Z) but found 2026-03-01T11:00:00Z"),
            new ExpiredMitigationException.Refusal("mitigations/M4.json", TestRepository.START, TestRepository.START,
                "expected an instant after now (2026-03-01T12:00:00Z) but found 2026-03-01T12:00:00Z")))
        .hasMessageStartingWith("mitigations/M3.json: expires: expected an instant after now (2026-03-01T12:00:00Z) but"
            + " found 2026-03-01T11:00:00Z; mitigations/M4.json: expires: ");
    assertThatThrownBy(() -> repo.repo.checkTargets(contents)).isInstanceOf(ExpiredMitigationException.class);
    assertThat(repo.repo.stagedFile(Role.TARGETS)).doesNotExist();

    repo.repo.addTarget("mitigations/M5.json", contents.get("mitigations/M5.json"));
    assertThat(repo.repo.targets()).containsKey("mitigations/M5.json");
  }

  @Test
  void anIdThatDiffersFromOneInTheFeedOnlyInCaseIsRefusedAndNothingIsStaged() throws Exception {
    String problem = "expected an id that differs from every other in the feed, ignoring case, but found \"m1\" where"
        + " the feed has \"M1\"";

    assertThatThrownBy(() -> repo.repo.addTarget("mitigations/m1.json", TestRepository.mitigation("m1", 1)))
        .isInstanceOfSatisfying(IdCaseConflictException.class, e -> assertThat(e.refusals()).containsExactly(
            new IdCaseConflictException.Refusal("mitigations/m1.json", "m1", "M1", problem)))
        .hasMessageStartingWith("mitigations/m1.json: id: " + problem + "; ");
    assertThatThrownBy(() -> repo.repo.checkTargets(Map.of("mitigations/m1.json", TestRepository.mitigation("m1", 1))))
        .isInstanceOf(IdCaseConflictException.class);
    assertThat(repo.repo.stagedFile(Role.TARGETS)).doesNotExist();
  }

  @Test
  void anIdThatDiffersOnlyInCaseFromAWithdrawnOneIsRefusedToo() throws Exception {
    publishM1ThenWithdrawIt(3);

    assertThatThrownBy(() -> repo.repo.addTarget("mitigations/m1.json", TestRepository.mitigation("m1", 4)))
        .isInstanceOf(IdCaseConflictException.class)
        .hasMessageContaining("but found \"m1\" where the feed had \"M1\" (withdrawn at M1.3)");
  }

  @Test
  void twoIdsOfOneAdditionThatDifferOnlyInCaseAreBothRefused() {
    assertThatThrownBy(() -> repo.repo.addTargets(Map.of("mitigations/M3.json", TestRepository.mitigation("M3", 1),
        "mitigations/m3.json", TestRepository.mitigation("m3", 1))))
        .isInstanceOfSatisfying(IdCaseConflictException.class, e -> assertThat(e.refusals())
            .extracting(IdCaseConflictException.Refusal::problem).containsExactly(
                "expected an id that differs from every other in the feed, ignoring case, but found \"M3\" where the"
                    + " same addition has \"m3\"",
                "expected an id that differs from every other in the feed, ignoring case, but found \"m3\" where the"
                    + " same addition has \"M3\""));
  }

  @Test
  void documentsThatBreakSeveralRulesAreRefusedTogetherEachRuleByItsOwnException() {
    Map<String, byte[]> contents = Map.of(
        "mitigations/M1.json", TestRepository.mitigation("M1", 1),
        "mitigations/m2.json", TestRepository.mitigation("m2", 1),
        "mitigations/M3.json", mitigation("M3", 1, "2020-01-01T00:00:00Z"));

    // The first rule broken is thrown, the others ride along as suppressed exceptions, so that a caller can report
    // every problem of a batch at once (feed add does).
    assertThatThrownBy(() -> repo.repo.checkTargets(contents)).isInstanceOfSatisfying(IdCaseConflictException.class,
        e -> {
          assertThat(e.refusals()).extracting(IdCaseConflictException.Refusal::target).containsExactly("mitigations/m2.json");
          assertThat(e.getSuppressed()).hasSize(2);
          assertThat(e.getSuppressed()[0]).isInstanceOfSatisfying(ExpiredMitigationException.class,
              x -> assertThat(x.refusals()).extracting(ExpiredMitigationException.Refusal::target)
                  .containsExactly("mitigations/M3.json"));
          assertThat(e.getSuppressed()[1]).isInstanceOfSatisfying(RevisionRollbackException.class,
              x -> assertThat(x.refusals()).extracting(RevisionRollbackException.Refusal::target)
                  .containsExactly("mitigations/M1.json"));
        });
  }

  // Staged targets edited by hand or by another tool: checked again before they are signed, merged or published.

  /** Edits the staged targets metadata as a hand or another tool would, and signs it as sign --file does. */
  private void editStagedTargets(java.util.function.Consumer<com.fasterxml.jackson.databind.node.ObjectNode> edit)
      throws Exception {
    if (!Files.exists(repo.repo.stagedFile(Role.TARGETS))) {
      repo.repo.renew(Role.TARGETS);
    }
    Path staged = repo.repo.stagedFile(Role.TARGETS);
    com.fasterxml.jackson.databind.node.ObjectNode tree = Json.parseObject("staged", Files.readAllBytes(staged));
    edit.accept((com.fasterxml.jackson.databind.node.ObjectNode) tree.get("signed"));
    Files.write(staged, Json.writePretty(tree));
    FeedRepository.signFile(staged, repo.targetsKey);
  }

  /** Lists a target in the staged targets metadata, its content beside it, bypassing every check. */
  private void stageByHand(String name, byte[] content) throws Exception {
    Path file = repo.repo.stagedFile(Role.TARGETS).resolveSibling("targets").resolve(name);
    editStagedTargets(signed -> signed.withObjectProperty("targets").set(name, Envelopes.targetEntry(content)));
    Files.createDirectories(file.getParent());
    Files.write(file, content);
  }

  @Test
  void stagedTargetsEditedToTakeARevisionBackAreNeitherSignedMergedNorPublished() throws Exception {
    repo.publishRevision(3);
    stageByHand("mitigations/M1.json", TestRepository.mitigation("M1", 1));
    Path copy = temp.resolve("signer/targets.json");
    Files.createDirectories(copy.getParent());
    Files.copy(repo.repo.stagedFile(Role.TARGETS), copy);
    StoreSnapshot before = StoreSnapshot.of(repo.published());
    String why = "mitigations/M1.json: revision: expected a revision above 3 (the feed publishes M1.3) but found 1; ";

    assertThatThrownBy(() -> repo.repo.sign(Role.TARGETS, repo.targetsKey))
        .isInstanceOf(RevisionRollbackException.class).hasMessageStartingWith(why);
    assertThatThrownBy(() -> repo.repo.merge(Role.TARGETS, copy))
        .isInstanceOf(RevisionRollbackException.class).hasMessageStartingWith(why);
    assertThatThrownBy(repo::publish).isInstanceOfSatisfying(RevisionRollbackException.class,
            e -> assertThat(e.refusals()).containsExactly(new RevisionRollbackException.Refusal("mitigations/M1.json", 1,
                4, "expected a revision above 3 (the feed publishes M1.3) but found 1")))
        .hasMessageStartingWith(why)
        .hasMessageContaining("feed add")
        .hasMessageContaining("feed discard --role targets");
    assertThat(StoreSnapshot.of(repo.published())).isEqualTo(before);
    assertThat(repo.repo.status()).singleElement().satisfies(st -> assertThat(st.unpublishable())
        .hasValueSatisfying(reason -> assertThat(reason).startsWith(why)));

    // The way out the message gives: add the mitigation again above the published revision.
    publishM1AndSeeAnAgentDownloadIt(4);
  }

  @Test
  void stagedTargetsEditedToListAnIdThatDiffersOnlyInCaseAreNeitherSignedNorPublished() throws Exception {
    stageByHand("mitigations/m1.json", TestRepository.mitigation("m1", 1));
    StoreSnapshot before = StoreSnapshot.of(repo.published());
    String why = "mitigations/m1.json: id: expected an id that differs from every other in the feed, ignoring case, but"
        + " found \"m1\" where the feed has \"M1\"; ";

    assertThatThrownBy(() -> repo.repo.sign(Role.TARGETS, repo.targetsKey))
        .isInstanceOf(IdCaseConflictException.class).hasMessageStartingWith(why);
    assertThatThrownBy(repo::publish).isInstanceOf(IdCaseConflictException.class).hasMessageStartingWith(why)
        .hasMessageContaining("feed remove m1");
    assertThat(StoreSnapshot.of(repo.published())).isEqualTo(before);

    repo.repo.removeTarget("mitigations/m1.json");
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    assertThat(repo.publish().targets()).containsOnlyKeys("mitigations/M1.json", "mitigations/M2.json");
  }

  @Test
  void stagedTargetsEditedToForgetAWithdrawnRevisionAreNeitherSignedNorPublished() throws Exception {
    repo.publishRevision(3);
    repo.repo.removeTarget("mitigations/M1.json");
    editStagedTargets(signed -> signed.withObjectProperty(FeedRepository.WITHDRAWN).remove("M1"));

    assertThatThrownBy(() -> repo.repo.sign(Role.TARGETS, repo.targetsKey))
        .isInstanceOf(RepositoryStateException.class)
        .hasMessageStartingWith("staged targets.json: " + FeedRepository.WITHDRAWN + ".M1: expected a revision of at"
            + " least 3 (the feed publishes M1.3, which this version withdraws) but found none");
    assertThatThrownBy(repo::publish).isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("feed discard --role targets");

    // Withdrawn and published as it should be; the next version forgets it.
    repo.repo.discard(Role.TARGETS);
    repo.repo.removeTarget("mitigations/M1.json");
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    repo.publish();
    editStagedTargets(signed -> signed.withObjectProperty(FeedRepository.WITHDRAWN).put("M1", 2));

    assertThatThrownBy(repo::publish).isInstanceOf(RepositoryStateException.class)
        .hasMessageStartingWith("staged targets.json: " + FeedRepository.WITHDRAWN + ".M1: expected a revision of at"
            + " least 3 (the feed published M1.3 before M1 was withdrawn) but found 2");
  }

  @Test
  void stagedTargetsEditedToDropTheMemoryOfWithdrawnRevisionsAreNeitherSignedNorPublished() throws Exception {
    publishM1ThenWithdrawIt(3);
    repo.repo.addTarget("mitigations/M2.json", TestRepository.mitigation("M2", 2));
    // Without the field at all, the staged targets look older than the memory; the published ones carry it.
    editStagedTargets(signed -> signed.remove(FeedRepository.WITHDRAWN));
    StoreSnapshot before = StoreSnapshot.of(repo.published());
    String why = "staged targets.json: " + FeedRepository.WITHDRAWN + ": expected the memory of withdrawn revisions"
        + " that the published targets version 3 carries (M1.3) but found none; the staged targets.json drops it"
        + " (edited by hand or by another tool?) and can never be published: discard it (feed discard --role targets)"
        + " and stage the changes again";

    assertThatThrownBy(() -> repo.repo.sign(Role.TARGETS, repo.targetsKey))
        .isInstanceOf(RepositoryStateException.class).hasMessage(why);
    assertThatThrownBy(repo::publish).isInstanceOf(RepositoryStateException.class).hasMessage(why);
    assertThat(repo.repo.status()).singleElement().satisfies(st -> assertThat(st.unpublishable()).hasValue(why));
    assertThat(StoreSnapshot.of(repo.published())).isEqualTo(before);

    repo.repo.discard(Role.TARGETS);
    repo.repo.addTarget("mitigations/M2.json", TestRepository.mitigation("M2", 2));
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    repo.publish();
    assertThat(signedTargets(4).withdrawn()).isEqualTo("{\"M1\":3}");
  }

  @Test
  void mergingASignedCopyOfAVersionPublishedSinceSaysSo() throws Exception {
    repo.repo.addTarget("mitigations/M3.json", TestRepository.mitigation("M3", 1));
    Path copy = temp.resolve("signer/targets.json"); // on its way to a targets key holder, who signs it late
    Files.createDirectories(copy.getParent());
    Files.copy(repo.repo.stagedFile(Role.TARGETS), copy);
    FeedRepository.signFile(copy, repo.targetsKey);
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    repo.publish();

    assertThatThrownBy(() -> repo.repo.merge(Role.TARGETS, copy)).isInstanceOf(RepositoryStateException.class)
        .hasMessageStartingWith("staged targets.json: expected staged metadata to merge " + copy + " into but found"
            + " none; the copy is of targets version 2 and the feed publishes targets version 2");
    repo.repo.addTarget("mitigations/M4.json", TestRepository.mitigation("M4", 1));
    assertThatThrownBy(() -> repo.repo.merge(Role.TARGETS, copy)).isInstanceOf(SignedContentMismatchException.class)
        .hasMessageContaining("; the copy is of targets version 2 and the staged targets.json of version 3 (the feed"
            + " publishes targets version 2): ")
        .hasMessageEndingWith("copy the staged targets.json again, sign that copy and merge it");
  }

  @Test
  void discardingStagedTargetsUndoesAStagedWithdrawalAndLeavesThePublishedFeedAsItIs() throws Exception {
    byte[] timestamp = repo.publishedFile("timestamp.json");
    repo.repo.removeTarget("mitigations/M1.json");

    repo.repo.discard(Role.TARGETS);

    assertThat(repo.repo.targets()).containsOnlyKeys("mitigations/M1.json", "mitigations/M2.json");
    assertThat(repo.repo.status()).isEmpty();
    assertThat(repo.publishedFile("timestamp.json")).isEqualTo(timestamp);
    assertThat(repo.repo.stagedFile(Role.TARGETS).getParent().resolve("targets")).doesNotExist();
    assertThatThrownBy(() -> repo.repo.discard(Role.TARGETS)).isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("expected staged targets.json to discard but found none");
  }

  @Test
  void discardingTheFirstStagedTargetsStagesAnEmptyOneAndTheFirstRootIsNotDiscarded() throws Exception {
    java.util.Map<Role, FeedRepository.KeySet> keys = new java.util.EnumMap<>(Role.class);
    for (Role role : Role.values()) {
      keys.put(role, new FeedRepository.KeySet(List.of(SigningKey.generate().verificationKey()), 1));
    }
    FeedRepository fresh = FeedRepository.init(temp.resolve("fresh"), keys, FeedRepository.Validity.defaults(), repo.clock);
    fresh.addTarget("mitigations/M1.json", TestRepository.mitigation("M1", 1));

    fresh.discard(Role.TARGETS);

    assertThat(fresh.targets()).isEmpty();
    assertThat(fresh.status()).extracting(FeedRepository.SigningStatus::version).containsExactly(1L, 1L);
    assertThatThrownBy(() -> fresh.discard(Role.ROOT)).isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("the first root");
  }

  private static void copyTree(Path from, Path to) throws java.io.IOException {
    try (java.util.stream.Stream<Path> files = Files.walk(from)) {
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

  private static void deleteTree(Path root) throws java.io.IOException {
    try (java.util.stream.Stream<Path> files = Files.walk(root)) {
      for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  /** The signed part of a published targets version, as agents received it. */
  private ObjectNodeView signedTargets(long version) throws Exception {
    return new ObjectNodeView(Json.parseObject("targets", repo.publishedFile(version + ".targets.json")).get("signed"));
  }

  private record ObjectNodeView(com.fasterxml.jackson.databind.JsonNode signed) {
    String withdrawn() {
      com.fasterxml.jackson.databind.JsonNode node = signed.get(FeedRepository.WITHDRAWN);
      return node == null ? null : node.toString();
    }
  }

  @Test
  void withdrawingAnUnknownTargetIsRefused() {
    assertThatThrownBy(() -> repo.repo.removeTarget("mitigations/M7.json"))
        .isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("expected a target named \"mitigations/M7.json\"");
  }

  @Test
  void publishingTargetsSignedBelowTheThresholdIsRefusedAndChangesNothing() throws Exception {
    repo.repo.addTarget("mitigations/M3.json", TestRepository.mitigation("M3", 1));
    StoreSnapshot before = StoreSnapshot.of(repo.published());

    assertThatThrownBy(repo::publish).isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("staged targets.json: expected at least 1 valid signature by targets keys of the"
            + " published root (version 1) but found 0");
    assertThat(StoreSnapshot.of(repo.published())).isEqualTo(before);
  }

  @Test
  void signingWithAKeyTheRoleDoesNotListIsRefused() throws Exception {
    repo.repo.addTarget("mitigations/M3.json", TestRepository.mitigation("M3", 1));

    assertThatThrownBy(() -> repo.repo.sign(Role.TARGETS, repo.snapshotKey))
        .isInstanceOf(KeyNotAuthorisedException.class)
        .hasMessageContaining("targets role: expected a key listed for it in root version 1 but found key "
            + repo.snapshotKey.keyId());
  }

  @Test
  void rootSignaturesMadeOnSeparateMachinesAreMergedToMeetTheThreshold() throws Exception {
    repo.repo.renew(Role.ROOT);
    Path machineA = temp.resolve("a/root.json");
    Path machineB = temp.resolve("b/root.json");
    Files.createDirectories(machineA.getParent());
    Files.createDirectories(machineB.getParent());
    Files.copy(repo.repo.stagedFile(Role.ROOT), machineA);
    Files.copy(repo.repo.stagedFile(Role.ROOT), machineB);
    FeedRepository.signFile(machineA, repo.rootKeys.get(1));
    FeedRepository.signFile(machineB, repo.rootKeys.get(2));

    repo.repo.merge(Role.ROOT, machineA);
    assertThat(repo.repo.status()).allSatisfy(s -> assertThat(s.valid()).isEqualTo(1));
    repo.repo.merge(Role.ROOT, machineB);

    assertThat(repo.repo.status()).hasSize(2).allSatisfy(s -> assertThat(s.complete()).isTrue());
    assertThat(repo.publish().rootVersion()).isEqualTo(2);
    assertThat(agent("agent").refresh().rootVersion()).isEqualTo(2);
  }

  @Test
  void mergingACopyThatSignsOtherContentIsRefused() throws Exception {
    repo.repo.renew(Role.ROOT);
    Path copy = temp.resolve("copy.json");
    Files.copy(repo.repo.stagedFile(Role.ROOT), copy);
    FeedRepository.signFile(copy, repo.rootKeys.get(0));
    repo.clock.advance(Duration.ofMinutes(1));
    repo.repo.renew(Role.ROOT);

    assertThatThrownBy(() -> repo.repo.merge(Role.ROOT, copy)).isInstanceOf(SignedContentMismatchException.class)
        .hasMessageContaining("expected the same signed content");
  }

  @Test
  void mergingASignatureByAnUnlistedKeyIsRefused() throws Exception {
    repo.repo.renew(Role.ROOT);
    Path copy = temp.resolve("copy.json");
    Files.copy(repo.repo.stagedFile(Role.ROOT), copy);
    SigningKey stranger = SigningKey.generate();
    FeedRepository.signFile(copy, stranger);

    assertThatThrownBy(() -> repo.repo.merge(Role.ROOT, copy)).isInstanceOf(KeyNotAuthorisedException.class)
        .hasMessageContaining(stranger.keyId());
  }

  @Test
  void rotatedRootKeyNeedsThresholdsOfTheOldAndTheNewRootKeys() throws Exception {
    TufClient agent = agent("agent");
    agent.refresh();
    SigningKey newRootKey = SigningKey.generate();
    repo.repo.changeKeys(Role.ROOT, List.of(newRootKey.verificationKey()), Set.of(repo.rootKeys.get(0).keyId()),
        OptionalInt.empty());
    repo.repo.sign(Role.ROOT, repo.rootKeys.get(0));
    repo.repo.sign(Role.ROOT, repo.rootKeys.get(1));

    assertThatThrownBy(repo::publish).isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("root keys of the new root (version 2) but found 1");

    repo.repo.sign(Role.ROOT, newRootKey);
    repo.publish();
    assertThat(agent.refresh().rootVersion()).isEqualTo(2);

    // The removed key and one remaining old key no longer make a threshold for version 3.
    repo.repo.renew(Role.ROOT);
    repo.repo.sign(Role.ROOT, repo.rootKeys.get(1));
    assertThatThrownBy(() -> repo.repo.sign(Role.ROOT, repo.rootKeys.get(0)))
        .isInstanceOf(KeyNotAuthorisedException.class);
  }

  @Test
  void rotatedTimestampKeyIsFollowedByAgentsThatTrustedTheOldOne() throws Exception {
    TufClient agent = agent("agent");
    agent.refresh();
    SigningKey newTimestampKey = SigningKey.generate();
    repo.repo.changeKeys(Role.TIMESTAMP, List.of(newTimestampKey.verificationKey()),
        Set.of(repo.timestampKey.keyId()), OptionalInt.empty());
    repo.repo.sign(Role.ROOT, repo.rootKeys.get(0));
    repo.repo.sign(Role.ROOT, repo.rootKeys.get(2));

    assertThatThrownBy(() -> repo.repo.publish(List.of(repo.snapshotKey), List.of(repo.timestampKey)))
        .isInstanceOf(KeyNotAuthorisedException.class).hasMessageContaining("timestamp role");
    repo.repo.publish(List.of(repo.snapshotKey), List.of(newTimestampKey));

    TrustedFeed feed = agent.refresh();
    assertThat(feed.rootVersion()).isEqualTo(2);
    assertThat(feed.timestampVersion()).isEqualTo(2);
  }

  @Test
  void keyChangeThatChangesNothingIsRefusedAndStagesNoRoot() {
    assertThatThrownBy(() -> repo.repo.changeKeys(Role.TIMESTAMP, List.of(), Set.of(), OptionalInt.of(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("timestamp: expected a key to add or remove or"
            + " another threshold but found none (threshold 1 of 1 keys, as now); nothing is staged");
    assertThat(repo.repo.stagedFile(Role.ROOT)).doesNotExist();
  }

  @Test
  void rotatedTargetsKeyRequiresTargetsSignedByTheNewKey() throws Exception {
    SigningKey newTargetsKey = SigningKey.generate();
    repo.repo.changeKeys(Role.TARGETS, List.of(newTargetsKey.verificationKey()), Set.of(repo.targetsKey.keyId()),
        OptionalInt.empty());
    repo.repo.sign(Role.ROOT, repo.rootKeys.get(0));
    repo.repo.sign(Role.ROOT, repo.rootKeys.get(1));

    assertThatThrownBy(repo::publish).isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("renew targets and sign it with the new keys");

    repo.repo.renew(Role.TARGETS);
    repo.repo.sign(Role.TARGETS, newTargetsKey);
    repo.publish();
    assertThat(agent("agent").refresh().targetsVersion()).isEqualTo(2);
  }

  @Test
  void refreshedTimestampKeepsAgentsCurrentPastTheOldExpiry() throws Exception {
    TufClient agent = agent("agent");
    agent.refresh();
    repo.clock.advance(Duration.ofHours(20));
    repo.repo.refreshTimestamp(List.of(repo.timestampKey));
    repo.clock.advance(Duration.ofHours(20));

    TrustedFeed feed = agent.refresh();

    assertThat(feed.timestampVersion()).isEqualTo(2);
    assertThat(feed.snapshotVersion()).isEqualTo(1);
    assertThat(feed.expires()).isEqualTo(TestRepository.START.plus(Duration.ofHours(44)));
  }

  @Test
  void timestampRefreshIsRefusedWhenTheSnapshotWouldExpireFirst() throws Exception {
    repo.clock.advance(Duration.ofDays(29).plusHours(12));

    assertThatThrownBy(() -> repo.repo.refreshTimestamp(List.of(repo.timestampKey)))
        .isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("publish to re-sign the snapshot");
    assertThat(repo.publish().snapshotVersion()).isEqualTo(2);
  }

  @Test
  void timestampRefreshWithAnExpiredRootSaysToRenewTheRootAndChangesNothing() throws Exception {
    TestRepository shortRoot = new TestRepository(temp.resolve("short-root"), new FeedRepository.Validity(
        Duration.ofHours(2), Duration.ofDays(90), Duration.ofDays(30), Duration.ofDays(1)));
    shortRoot.clock.advance(Duration.ofHours(3));
    StoreSnapshot before = StoreSnapshot.of(shortRoot.published());

    // Before, the check of the result as an agent would see it spoke first: "root metadata expired,
    // possible freeze attack (TUF 5.3.10)", which tells a publisher neither that it is their own root nor
    // what to do.
    assertThatThrownBy(() -> shortRoot.repo.refreshTimestamp(List.of(shortRoot.timestampKey)))
        .isInstanceOf(RepositoryStateException.class)
        .hasMessage("root.json: expected an expiry after 2026-03-01T15:00:00Z but found 2026-03-01T14:00:00Z; renew"
            + " the root, sign it and publish");
    assertThat(StoreSnapshot.of(shortRoot.published())).isEqualTo(before);
  }

  @Test
  void timestampRefreshWithExpiredTargetsSaysToRenewTargets() throws Exception {
    TestRepository shortTargets = new TestRepository(temp.resolve("short-targets"), new FeedRepository.Validity(
        Duration.ofDays(365), Duration.ofHours(2), Duration.ofDays(30), Duration.ofDays(1)));
    shortTargets.clock.advance(Duration.ofHours(3));

    assertThatThrownBy(() -> shortTargets.repo.refreshTimestamp(List.of(shortTargets.timestampKey)))
        .isInstanceOf(RepositoryStateException.class)
        .hasMessage("1.targets.json: expected an expiry after 2026-03-01T15:00:00Z but found 2026-03-01T14:00:00Z;"
            + " renew targets, sign it and publish");
  }

  @Test
  void initRefusesADirectoryThatAlreadyHoldsARepository() {
    assertThatThrownBy(() -> FeedRepository.init(temp.resolve("repo"), java.util.Map.of(),
        FeedRepository.Validity.defaults(), repo.clock)).isInstanceOf(IllegalArgumentException.class);
    java.util.Map<Role, FeedRepository.KeySet> keys = new java.util.EnumMap<>(Role.class);
    for (Role role : Role.values()) {
      keys.put(role, new FeedRepository.KeySet(List.of(SigningKey.generate().verificationKey()), 1));
    }
    assertThatThrownBy(() -> FeedRepository.init(temp.resolve("repo"), keys, FeedRepository.Validity.defaults(),
        repo.clock)).isInstanceOf(RepositoryStateException.class).hasMessageContaining("expected no repository");
  }

  @Test
  void unsafeTargetNamesAreRefused() {
    assertThatThrownBy(() -> repo.repo.addTarget("../escape.json", new byte[1]))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("\"..\" segment");
    assertThatThrownBy(() -> FeedRepository.mitigationTarget("M1/../x"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mitigation id");
    assertThat(FeedRepository.mitigationTarget("TQ-2026-0001")).isEqualTo("mitigations/TQ-2026-0001.json");
  }

  @Test
  void bundleIsVerifiedByAnAirGappedAgentExactlyAsIfFetched() throws Exception {
    repo.publishRevision(3);
    Path bundle = temp.resolve("feed.bundle");
    repo.repo.writeBundle(bundle);

    Path store = repo.newStore(temp.resolve("air-gapped"));
    try (BundleFetcher fetcher = Fetchers.bundle(bundle)) {
      TufClient agent = TufClient.open(store, fetcher, repo.clock);
      TrustedFeed feed = agent.refresh();
      assertThat(feed.targetsVersion()).isEqualTo(2);
      assertThat(agent.download("mitigations/M1.json")).isEqualTo(TestRepository.mitigation("M1", 3));
    }
  }

  @Test
  void tamperedBundleIsRejectedAndChangesNothing() throws Exception {
    Path bundle = temp.resolve("feed.bundle");
    repo.repo.writeBundle(bundle);
    Path tampered = temp.resolve("tampered.bundle");
    try (java.util.zip.ZipFile in = new java.util.zip.ZipFile(bundle.toFile());
        java.util.zip.ZipOutputStream out = new java.util.zip.ZipOutputStream(Files.newOutputStream(tampered))) {
      for (java.util.zip.ZipEntry entry : java.util.Collections.list(in.entries())) {
        byte[] bytes = in.getInputStream(entry).readAllBytes();
        if (entry.getName().equals("1.targets.json")) {
          bytes = new String(bytes, StandardCharsets.UTF_8).replace("M2.json", "M3.json").getBytes(StandardCharsets.UTF_8);
        }
        out.putNextEntry(new java.util.zip.ZipEntry(entry.getName()));
        out.write(bytes);
        out.closeEntry();
      }
    }
    Path store = repo.newStore(temp.resolve("air-gapped"));
    StoreSnapshot before = StoreSnapshot.of(store);

    try (BundleFetcher fetcher = Fetchers.bundle(tampered)) {
      assertThatThrownBy(() -> TufClient.open(store, fetcher, repo.clock).refresh())
          .isInstanceOf(HashMismatchException.class).hasMessageContaining("1.targets.json");
    }
    assertThat(StoreSnapshot.of(store)).isEqualTo(before);
  }

  @Test
  void bundleWithAnEntryNameThatLeavesTheBundleIsRefused() throws Exception {
    Path bundle = temp.resolve("escape.bundle");
    try (java.util.zip.ZipOutputStream out = new java.util.zip.ZipOutputStream(Files.newOutputStream(bundle))) {
      out.putNextEntry(new java.util.zip.ZipEntry(BundleFetcher.DESCRIPTOR));
      out.closeEntry();
      out.putNextEntry(new java.util.zip.ZipEntry("timestamp.json"));
      out.closeEntry();
      out.putNextEntry(new java.util.zip.ZipEntry("targets/../timestamp.json"));
      out.closeEntry();
    }

    assertThatThrownBy(() -> Fetchers.bundle(bundle)).isInstanceOf(java.io.IOException.class)
        .hasMessageContaining("safe relative names");
  }

  @Test
  void publisherCommandWaitsWhileAnotherProcessWritesTheRepository() throws Exception {
    // Another process (a cron job's feed timestamp, a second publisher) holds the repository.
    String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        classPath, LockHolder.class.getName(), temp.resolve("repo/.lock").toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      BufferedReader said = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
      assertThat(said.readLine()).isEqualTo("locked true");
      CompletableFuture<TrustedFeed> refresh = new CompletableFuture<>();
      Thread publisher = new Thread(() -> {
        try {
          refresh.complete(repo.repo.refreshTimestamp(List.of(repo.timestampKey)));
        } catch (Exception | Error e) {
          refresh.completeExceptionally(e);
        }
      }, "publisher");
      publisher.setDaemon(true);
      publisher.start();

      // Seen waiting in the file lock's system call, where only the other process's lock can hold it (without
      // the lock the refresh is done in a few milliseconds), and still not done.
      awaitWaitingForTheFileLock(publisher, refresh);
      assertThat(refresh).isNotDone();
      holder.getOutputStream().close();

      assertThat(refresh.get(60, TimeUnit.SECONDS).timestampVersion()).isEqualTo(2);
    } finally {
      holder.destroy();
      holder.waitFor(30, TimeUnit.SECONDS);
    }
  }

  /**
   * Waits, at most 60 s, until {@code thread} is inside the native call of {@link java.nio.channels.FileChannel#lock()}
   * that {@code FeedRepository.exclusive} makes; fails at once if {@code work} ends first.
   */
  private static void awaitWaitingForTheFileLock(Thread thread, CompletableFuture<?> work) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      StackTraceElement[] stack = thread.getStackTrace();
      if (stack.length > 0 && stack[0].isNativeMethod() && calls(stack, "sun.nio.ch.FileChannelImpl", "lock")
          && calls(stack, FeedRepository.class.getName(), "exclusive")) {
        return;
      }
      assertThat(work).as("the refresh, which should wait for the other process's lock").isNotDone();
      assertThat(System.nanoTime() - deadline).as("time left to see the refresh wait for the lock; its stack: %s",
          List.of(stack)).isNegative();
      java.util.concurrent.locks.LockSupport.parkNanos(5_000_000);
    }
  }

  private static boolean calls(StackTraceElement[] stack, String className, String method) {
    return List.of(stack).stream().anyMatch(f -> f.getClassName().equals(className) && f.getMethodName().equals(method));
  }

  /** Publishes M1 at this revision, then a targets version that withdraws it. */
  private void publishM1ThenWithdrawIt(int revision) throws Exception {
    repo.publishRevision(revision);
    repo.repo.removeTarget("mitigations/M1.json");
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    repo.publish();
  }

  /** Adds M1 at this revision, signs and publishes it, and checks that an agent downloads exactly that. */
  private void publishM1AndSeeAnAgentDownloadIt(int revision) throws Exception {
    repo.repo.addTarget("mitigations/M1.json", TestRepository.mitigation("M1", revision));
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    repo.publish();
    TufClient agent = agent("agent");
    agent.refresh();
    assertThat(agent.download("mitigations/M1.json")).isEqualTo(TestRepository.mitigation("M1", revision));
  }
}
