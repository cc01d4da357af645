package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading the feed twice: what is parsed again and what is not. */
class FeedReaderTest {
  @TempDir
  Path dir;

  private final MutableClock clock = new MutableClock(AgentFixture.START);
  private TestFeed feed;

  @BeforeEach
  void repository() throws Exception {
    feed = new TestFeed(dir.resolve("repo"), clock);
  }

  @Test
  void unchangedTargetIsNotParsedAgainWhileAChangedOneIs() throws Exception {
    feed.put(Mitigations.m1(1)).put(Mitigations.proxyLogon("TQ-2021-0001", 1)).publish();
    FeedReader reader = bootstrapped();
    FeedView first = reader.read();

    feed.put(Mitigations.m1(2)).publish();
    FeedView second = reader.read();

    assertThat(second.mitigations().get("TQ-2021-0001")).isSameAs(first.mitigations().get("TQ-2021-0001"));
    assertThat(second.mitigations().get("M1").revision()).isEqualTo(2);
    assertThat(second.mitigations().get("M1")).isNotSameAs(first.mitigations().get("M1"));
  }

  @Test
  void targetListedAsBeforeIsNeitherReadFromTheStoreNorFetchedAgain() throws Exception {
    feed.put(Mitigations.m1(1)).put(Mitigations.proxyLogon("TQ-2021-0001", 1)).publish();
    FeedReader reader = bootstrapped();
    FeedView first = reader.read();
    Path copy = dir.resolve("tuf/targets/mitigations/TQ-2021-0001.json");
    Files.delete(copy);

    feed.put(Mitigations.m1(2)).publish();
    FeedView second = reader.read();

    assertThat(second.mitigations().get("TQ-2021-0001")).isSameAs(first.mitigations().get("TQ-2021-0001"));
    assertThat(copy).as("neither read (it is gone) nor fetched again (it would be back)").doesNotExist();
    assertThat(dir.resolve("tuf/targets/mitigations/M1.json")).as("the changed one is fetched").exists();
    assertThat(second.mitigations().get("M1").revision()).isEqualTo(2);
  }

  @Test
  void documentRejectedOnceIsRejectedAgainNotRemembered() throws Exception {
    feed.putRaw("mitigations/M1.json", "{\"id\":\"M1\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8)).publish();
    FeedReader reader = bootstrapped();
    reader.read();

    FeedView again = reader.read();

    assertThat(again.mitigations()).isEmpty();
    assertThat(again.rejected()).containsKey("M1");
  }

  @Test
  void restartReadsBackTheFeedTheStoreVerifiedLastWithoutTheRepository() throws Exception {
    feed.put(Mitigations.m1(2)).putRaw("mitigations/M9.json", "{\"id\":\"M9\"}".getBytes(StandardCharsets.UTF_8))
        .publish();
    FeedReader reader = bootstrapped();
    FeedView verified = reader.read();
    FeedReader restarted = reader(new AgentConfig.FeedLocation.Directory(dir.resolve("gone")));

    FeedReader.LastVerified last = restarted.lastVerified();

    assertThat(last.why()).isEmpty();
    assertThat(last.view()).isEqualTo(verified);
    assertThat(last.view().mitigations().get("M1").revision()).isEqualTo(2);
    assertThat(last.view().rejected()).containsOnlyKeys("M9");
  }

  @Test
  void documentsReadBackAtARestartAreNotParsedAgainByTheFirstRead() throws Exception {
    feed.put(Mitigations.m1(1)).publish();
    FeedReader reader = bootstrapped();
    reader.read();
    FeedReader restarted = reader(new AgentConfig.FeedLocation.Directory(feed.published()));

    FeedView last = restarted.lastVerified().view();
    FeedView first = restarted.read();

    assertThat(first.mitigations().get("M1")).isSameAs(last.mitigations().get("M1"));
  }

  @Test
  void storeThatCannotGiveTheWholeFeedBackGivesNoneAndSaysWhy() throws Exception {
    feed.put(Mitigations.m1(1)).put(Mitigations.proxyLogon("TQ-2021-0001", 1)).publish();
    FeedReader reader = reader(new AgentConfig.FeedLocation.Directory(feed.published()));
    assertThat(reader.lastVerified()).as("nothing verified yet: no feed, and nothing wrong")
        .isEqualTo(new FeedReader.LastVerified(FeedView.EMPTY, Optional.empty()));
    reader.bootstrap(feed.trustedRoot());
    reader.read();
    Files.delete(dir.resolve("tuf/targets/mitigations/TQ-2021-0001.json"));

    FeedReader.LastVerified last = reader.lastVerified();

    assertThat(last.view()).isEqualTo(FeedView.EMPTY);
    assertThat(last.why()).hasValueSatisfying(why -> assertThat(why)
        .startsWith("no verified copy of mitigations/TQ-2021-0001.json in "));

    Files.writeString(dir.resolve("tuf/snapshot.json"), "{}");
    assertThat(reader.lastVerified().why()).hasValueSatisfying(why -> assertThat(why)
        .contains("does not verify").contains("snapshot.json"));
  }

  private FeedReader reader(AgentConfig.FeedLocation location) {
    return new FeedReader(location, Optional.empty(), Optional.empty(), dir.resolve("tuf"), clock);
  }

  /** A reader of the test repository, its trusted root installed. */
  private FeedReader bootstrapped() throws Exception {
    FeedReader reader = reader(new AgentConfig.FeedLocation.Directory(feed.published()));
    reader.bootstrap(feed.trustedRoot());
    return reader;
  }
}
