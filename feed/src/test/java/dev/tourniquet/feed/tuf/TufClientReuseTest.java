package dev.tourniquet.feed.tuf;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A client kept across refreshes verifies what it already verified only when the bytes changed. */
class TufClientReuseTest {
  @TempDir
  Path dir;

  /** The published directory with entity tags, as a web server answers an agent's conditional GET. */
  static Fetcher withEntityTags(Fetcher inner) {
    return (path, etag) -> {
      Fetcher.Response r = inner.fetch(path, Optional.empty());
      if (!(r instanceof Fetcher.Found found)) {
        return r;
      }
      byte[] bytes;
      try (found) {
        bytes = found.body().readAllBytes();
      }
      String tag = "\"" + Integer.toHexString(Arrays.hashCode(bytes)) + "-" + bytes.length + "\"";
      if (etag.isPresent() && etag.get().equals(tag)) {
        return new Fetcher.NotModified();
      }
      return new Fetcher.Found(new ByteArrayInputStream(bytes), Optional.of(tag));
    };
  }

  @Test
  void refreshThatFindsNothingNewChecksNoSignatureAgain() throws Exception {
    TestRepository repo = new TestRepository(dir);
    Path store = repo.newStore(dir.resolve("store"));
    TufClient client = TufClient.open(store, withEntityTags(repo.mirror()), repo.clock);
    client.refresh();
    assertThat(client.lastThresholdChecks()).as("first refresh: root, timestamp, snapshot, targets").isEqualTo(4);

    TrustedFeed again = client.refresh();

    assertThat(client.lastThresholdChecks()).isZero();
    assertThat(again.targetsVersion()).isEqualTo(1);
    TufClient fresh = TufClient.open(store, withEntityTags(repo.mirror()), repo.clock);
    fresh.refresh();
    assertThat(fresh.lastThresholdChecks()).as("a new client re-verifies the store: root and three local files")
        .isEqualTo(4);
  }

  @Test
  void newRevisionIsVerifiedAndTheNextQuietRefreshChecksNothing() throws Exception {
    TestRepository repo = new TestRepository(dir);
    Path store = repo.newStore(dir.resolve("store"));
    TufClient client = TufClient.open(store, withEntityTags(repo.mirror()), repo.clock);
    client.refresh();

    repo.publishRevision(2);
    TrustedFeed updated = client.refresh();
    int checksForTheRevision = client.lastThresholdChecks();
    client.refresh();

    assertThat(updated.targetsVersion()).isEqualTo(2);
    assertThat(checksForTheRevision).as("the new timestamp, snapshot and targets").isEqualTo(3);
    assertThat(client.lastThresholdChecks()).isZero();
  }

  @Test
  void storeChangedBehindTheClientIsVerifiedAgainAndRepaired() throws Exception {
    TestRepository repo = new TestRepository(dir);
    Path store = repo.newStore(dir.resolve("store"));
    TufClient client = TufClient.open(store, withEntityTags(repo.mirror()), repo.clock);
    client.refresh();
    byte[] original = Files.readAllBytes(store.resolve(TrustedStore.TARGETS));
    Files.write(store.resolve(TrustedStore.TARGETS), new byte[] {' '}, StandardOpenOption.APPEND);

    TrustedFeed feed = client.refresh();

    assertThat(client.lastThresholdChecks()).as("the changed file is verified, then fetched and verified").isPositive();
    assertThat(feed.targets()).containsKey("mitigations/M1.json");
    assertThat(Files.readAllBytes(store.resolve(TrustedStore.TARGETS))).isEqualTo(original);
  }

  @Test
  void forgedStoreFileIsNotTrustedBecauseAnEarlierCopyWasVerified() throws Exception {
    TestRepository repo = new TestRepository(dir);
    Path store = repo.newStore(dir.resolve("store"));
    TufClient client = TufClient.open(store, withEntityTags(repo.mirror()), repo.clock);
    client.refresh();
    byte[] forged = TestRepository.forge(Files.readAllBytes(store.resolve(TrustedStore.TARGETS)),
        signed -> ((com.fasterxml.jackson.databind.node.ObjectNode) signed.get("targets")).remove("mitigations/M2.json"));
    Files.write(store.resolve(TrustedStore.TARGETS), forged);

    TrustedFeed feed = client.refresh();

    assertThat(feed.targets()).containsKeys("mitigations/M1.json", "mitigations/M2.json");
  }

}
