package dev.tourniquet.feed.tuf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A mitigation document expires while the targets that list it wait to be signed or published: the repository
 * checks every listed document's {@code expires} again at sign, merge, publish and status, against its clock, so that
 * no targets version is signed that lists a mitigation agents only skip.
 */
class ExpiredStagedTargetsTest {
  /** When the documents of these tests expire: a day after the repository's clock starts. */
  private static final Instant TUESDAY = TestRepository.START.plus(Duration.ofDays(1));
  private static final String M3 = "mitigations/M3.json";

  @TempDir Path temp;
  TestRepository repo;

  @BeforeEach
  void publishAFeed() throws Exception {
    repo = new TestRepository(temp);
  }

  private static byte[] mitigation(String id, int revision, Instant expires) {
    return ("{\"id\":\"" + id + "\",\"revision\":" + revision + ",\"title\":\"test mitigation " + id
        + "\",\"expires\":\"" + expires + "\"}\n").getBytes(StandardCharsets.UTF_8);
  }

  private void signAndPublish() throws Exception {
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    repo.publish();
  }

  @Test
  void aMitigationThatExpiresWhileStagedIsNeitherSignedMergedNorPublished() throws Exception {
    // Staged and signed on Monday, expiring on Tuesday, published on Wednesday: it would apply nowhere.
    repo.repo.addTarget(M3, mitigation("M3", 1, TUESDAY));
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    Path copy = temp.resolve("signer/targets.json"); // on its way to a second targets key holder
    Files.createDirectories(copy.getParent());
    Files.copy(repo.repo.stagedFile(Role.TARGETS), copy);
    FeedRepository.signFile(copy, repo.targetsKey);
    repo.clock.advance(Duration.ofDays(1).minusSeconds(1));
    assertThat(repo.repo.status()).singleElement().satisfies(st -> assertThat(st.unpublishable()).isEmpty());

    repo.clock.advance(Duration.ofSeconds(1)); // exactly its expiry: agents skip it from this instant
    StoreSnapshot before = StoreSnapshot.of(repo.published());
    String problem = "expected an instant after now (2026-03-02T12:00:00Z) but found 2026-03-02T12:00:00Z (M3.1 was"
        + " staged since the last publish and expired before it was published)";
    String why = M3 + ": expires: " + problem + "; the staged targets.json lists it, but agents skip an expired"
        + " mitigation (and remove it where they applied it), so it can never be published: withdraw it (feed remove"
        + " M3) or add a revision of it with a later expires (feed add)";

    assertThatThrownBy(repo::publish).isInstanceOfSatisfying(ExpiredMitigationException.class,
            e -> assertThat(e.refusals()).containsExactly(new ExpiredMitigationException.Refusal(M3, TUESDAY, TUESDAY,
                problem)))
        .hasMessage(why);
    assertThatThrownBy(() -> repo.repo.sign(Role.TARGETS, repo.targetsKey))
        .isInstanceOf(ExpiredMitigationException.class).hasMessage(why);
    assertThatThrownBy(() -> repo.repo.merge(Role.TARGETS, copy))
        .isInstanceOf(ExpiredMitigationException.class).hasMessage(why);
    assertThat(repo.repo.status()).singleElement().satisfies(st -> {
      assertThat(st.complete()).isTrue();
      assertThat(st.unpublishable()).hasValue(why);
    });
    assertThat(StoreSnapshot.of(repo.published())).isEqualTo(before);

    // The way out the message gives: the same revision again (it was never published), with a later expiry.
    byte[] extended = mitigation("M3", 1, TUESDAY.plus(Duration.ofDays(30)));
    repo.repo.addTarget(M3, extended);
    signAndPublish();
    TufClient agent = repo.client(repo.newStore(temp.resolve("agent")));
    agent.refresh();
    assertThat(agent.download(M3)).isEqualTo(extended);
  }

  @Test
  void aPublishedMitigationThatHasExpiredHoldsBackTheNextTargetsVersionUntilItIsWithdrawn() throws Exception {
    repo.repo.addTarget(M3, mitigation("M3", 1, TUESDAY));
    signAndPublish();
    repo.clock.advance(Duration.ofDays(2));
    // An unrelated change: the feed still lists M3.1, which every agent now skips.
    repo.repo.addTarget("mitigations/M4.json", TestRepository.mitigation("M4", 1));
    String problem = "expected an instant after now (2026-03-03T12:00:00Z) but found 2026-03-02T12:00:00Z (the feed"
        + " publishes M3.1, which agents have skipped since it expired)";

    assertThatThrownBy(() -> repo.repo.sign(Role.TARGETS, repo.targetsKey))
        .isInstanceOfSatisfying(ExpiredMitigationException.class, e -> assertThat(e.refusals()).containsExactly(
            new ExpiredMitigationException.Refusal(M3, TUESDAY, TestRepository.START.plus(Duration.ofDays(2)),
                problem)))
        .hasMessageStartingWith(M3 + ": expires: " + problem + "; ")
        .hasMessageContaining("withdraw it (feed remove M3)");
    assertThat(repo.repo.status()).singleElement().satisfies(st -> assertThat(st.unpublishable())
        .hasValueSatisfying(why -> assertThat(why).startsWith(M3 + ": expires: " + problem)));

    repo.repo.removeTarget(M3);
    signAndPublish();
    TufClient agent = repo.client(repo.newStore(temp.resolve("agent")));
    assertThat(agent.refresh().targets()).containsOnlyKeys("mitigations/M1.json", "mitigations/M2.json",
        "mitigations/M4.json");
    assertThat(repo.repo.lastPublishedRevision("M3")).isEqualTo(OptionalInt.of(1));
  }

  @Test
  void aRenewalOfTargetsThatListAnExpiredMitigationGoesThroughWithARevisionThatExpiresLater() throws Exception {
    repo.repo.addTarget(M3, mitigation("M3", 1, TUESDAY));
    signAndPublish();
    repo.clock.advance(Duration.ofDays(2));
    repo.repo.renew(Role.TARGETS);

    assertThatThrownBy(() -> repo.repo.sign(Role.TARGETS, repo.targetsKey))
        .isInstanceOf(ExpiredMitigationException.class)
        .hasMessageContaining("(the feed publishes M3.1, which agents have skipped since it expired)");

    byte[] revised = mitigation("M3", 2, TUESDAY.plus(Duration.ofDays(30)));
    repo.repo.addTarget(M3, revised);
    signAndPublish();
    TufClient agent = repo.client(repo.newStore(temp.resolve("agent")));
    agent.refresh();
    assertThat(agent.download(M3)).isEqualTo(revised);
  }

  @Test
  void aFeedThatListsAnExpiredMitigationIsStillKeptAliveWhenNothingIsStaged() throws Exception {
    repo.repo.addTarget(M3, mitigation("M3", 1, TUESDAY));
    signAndPublish();
    repo.clock.advance(Duration.ofDays(2));

    // No targets version is signed here: refusing would only freeze the feed for every agent.
    TrustedFeed published = repo.publish();
    TrustedFeed refreshed = repo.repo.refreshTimestamp(List.of(repo.timestampKey));

    assertThat(published.targets()).containsKey(M3);
    assertThat(refreshed.timestampVersion()).isEqualTo(published.timestampVersion() + 1);
    assertThat(repo.repo.status()).isEmpty();
  }
}
