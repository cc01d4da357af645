package dev.tourniquet.feed.tuf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The feed a restart can trust without its repository: read back from the store and verified again. */
class LastVerifiedTest {
  @TempDir
  Path dir;

  TestRepository repo;
  /** A fresh agent store trusting the repository's first root. */
  Path store;

  @BeforeEach
  void setUp() throws Exception {
    repo = new TestRepository(dir);
    store = repo.newStore(dir.resolve("store"));
  }

  @Test
  void storeThatNeverCompletedARefreshHoldsNoFeed() throws Exception {

    assertThat(TufClient.lastVerified(store)).isEmpty();
    assertThat(TufClient.lastVerified(dir.resolve("no-store"))).isEmpty();
  }

  @Test
  void lastRefreshIsReadBackWithItsCachedTargetsAndNoRepository() throws Exception {
    TufClient client = refreshed();
    repo.publishRevision(2);
    TrustedFeed refreshed = client.refresh();
    byte[] m1 = client.download("mitigations/M1.json");
    // The repository and the clock are gone: long after every expiry, nothing to fetch from.
    repo.clock.advance(Duration.ofDays(3650));

    TrustedFeed stored = TufClient.lastVerified(store).orElseThrow();

    assertThat(stored.targetsVersion()).isEqualTo(2);
    assertThat(stored.timestampVersion()).isEqualTo(refreshed.timestampVersion());
    assertThat(stored.snapshotVersion()).isEqualTo(refreshed.snapshotVersion());
    assertThat(stored.expires()).isEqualTo(refreshed.expires());
    assertThat(stored.updated()).isFalse();
    assertThat(stored.targets()).isEqualTo(refreshed.targets());
    assertThat(TufClient.cachedTarget(store, stored, "mitigations/M1.json")).hasValue(m1);
    assertThat(m1).isEqualTo(TestRepository.mitigation("M1", 2));
    assertThat(TufClient.cachedTarget(store, stored, "mitigations/M2.json")).as("never downloaded").isEmpty();
    assertThatThrownBy(() -> TufClient.cachedTarget(store, stored, "mitigations/M9.json"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mitigations/M9.json");
  }

  @Test
  void damagedOrStaleCachedTargetIsEmpty() throws Exception {
    TufClient client = refreshed();
    client.download("mitigations/M1.json");
    Path cached = store.resolve(TrustedStore.TARGET_CACHE).resolve("mitigations/M1.json");
    TrustedFeed stored = TufClient.lastVerified(store).orElseThrow();

    byte[] damaged = Files.readAllBytes(cached);
    damaged[2] ^= 1; // same length, other bytes
    Files.write(cached, damaged);
    assertThat(TufClient.cachedTarget(store, stored, "mitigations/M1.json")).isEmpty();

    Files.write(cached, TestRepository.mitigation("M1", 7)); // another revision's bytes, another length
    assertThat(TufClient.cachedTarget(store, stored, "mitigations/M1.json")).isEmpty();
  }

  @Test
  void storedMetadataThatNoLongerVerifiesIsRefused() throws Exception {
    refreshed();
    Path targets = store.resolve(TrustedStore.TARGETS);
    byte[] original = Files.readAllBytes(targets);

    Consumer<ObjectNode> laterExpiry = signed -> signed.put("expires", "2030-01-01T00:00:00Z");
    Files.write(targets, TestRepository.forge(original, laterExpiry, SigningKey.generate()));
    assertThatThrownBy(() -> TufClient.lastVerified(store)).isInstanceOf(ThresholdNotMetException.class)
        .hasMessageContaining("targets.json");

    Files.write(targets, TestRepository.forge(original, laterExpiry, repo.targetsKey));
    assertThatThrownBy(() -> TufClient.lastVerified(store)).as("signed, but not the file the snapshot lists")
        .isInstanceOf(MalformedMetadataException.class).hasMessageContaining("snapshot.json");
  }

  @Test
  void storedFilesFromDifferentStatesOfTheRepositoryAreRefused() throws Exception {
    TufClient client = refreshed();
    byte[] firstTargets = Files.readAllBytes(store.resolve(TrustedStore.TARGETS));
    repo.publishRevision(2);
    client.refresh();

    Files.write(store.resolve(TrustedStore.TARGETS), firstTargets);

    assertThatThrownBy(() -> TufClient.lastVerified(store)).isInstanceOf(MixAndMatchException.class)
        .hasMessageContaining("expected version 2 but found 1");
  }

  /** A client that refreshed once from the repository into the store. */
  private TufClient refreshed() throws Exception {
    TufClient client = repo.client(store);
    client.refresh();
    return client;
  }
}
