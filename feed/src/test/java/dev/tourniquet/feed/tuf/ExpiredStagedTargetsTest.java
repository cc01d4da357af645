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
 * checks the {@code expires} of every document staged since the last publish again at sign, merge, publish and
 * status, against its clock, so that no mitigation is published that agents only skip. One already published that
 * expired since holds nothing back.
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

  private TrustedFeed signAndPublish() throws Exception {
    repo.repo.sign(Role.TARGETS, repo.targetsKey);
    return repo.publish();
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
  void aPublishedMitigationThatHasExpiredHoldsBackNoOtherChangeAndCanBeWithdrawnLater() throws Exception {
    repo.repo.addTarget(M3, mitigation("M3", 1, TUESDAY));
    signAndPublish();
    repo.clock.advance(Duration.ofDays(2));
    // An emergency mitigation on a feed that still lists M3.1, which every agent now skips: it must not wait.
    byte[] m4 = TestRepository.mitigation("M4", 1);
    repo.repo.addTarget("mitigations/M4.json", m4);
    assertThat(repo.repo.status()).singleElement().satisfies(st -> assertThat(st.unpublishable()).isEmpty());
    signAndPublish();
    TufClient agent = repo.client(repo.newStore(temp.resolve("agent")));
    assertThat(agent.refresh().targets()).containsKeys(M3, "mitigations/M4.json");
    assertThat(agent.download("mitigations/M4.json")).isEqualTo(m4);

    repo.repo.removeTarget(M3);
    signAndPublish();
    assertThat(agent.refresh().targets()).containsOnlyKeys("mitigations/M1.json", "mitigations/M2.json",
        "mitigations/M4.json");
    assertThat(repo.repo.lastPublishedRevision("M3")).isEqualTo(OptionalInt.of(1));
  }

  @Test
  void aRenewalOfTargetsThatListAnExpiredPublishedMitigationGoesThrough() throws Exception {
    repo.repo.addTarget(M3, mitigation("M3", 1, TUESDAY));
    TrustedFeed first = signAndPublish();
    repo.clock.advance(Duration.ofDays(2));
    repo.repo.renew(Role.TARGETS);

    TrustedFeed renewed = signAndPublish();

    assertThat(renewed.targetsVersion()).isEqualTo(first.targetsVersion() + 1);
    assertThat(renewed.targets()).containsKey(M3);
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
