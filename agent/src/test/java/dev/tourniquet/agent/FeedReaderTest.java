package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading the feed twice: what is parsed again and what is not. */
class FeedReaderTest {
  @TempDir
  Path dir;

  @Test
  void unchangedTargetIsNotParsedAgainWhileAChangedOneIs() throws Exception {
    MutableClock clock = new MutableClock(AgentFixture.START);
    TestFeed feed = new TestFeed(dir.resolve("repo"), clock);
    feed.put(Mitigations.m1(1)).put(Mitigations.proxyLogon("TQ-2021-0001", 1)).publish();
    FeedReader reader = new FeedReader(new AgentConfig.FeedLocation.Directory(feed.published()), Optional.empty(),
        Optional.empty(), dir.resolve("tuf"), clock);
    reader.bootstrap(feed.trustedRoot());
    FeedReader.Result first = reader.read();

    feed.put(Mitigations.m1(2)).publish();
    FeedReader.Result second = reader.read();

    assertThat(second.view().mitigations().get("TQ-2021-0001")).isSameAs(first.view().mitigations().get("TQ-2021-0001"));
    assertThat(second.raw().get("TQ-2021-0001")).isEqualTo(first.raw().get("TQ-2021-0001"));
    assertThat(second.view().mitigations().get("M1").revision()).isEqualTo(2);
    assertThat(second.view().mitigations().get("M1")).isNotSameAs(first.view().mitigations().get("M1"));
  }

  @Test
  void documentRejectedOnceIsRejectedAgainNotRemembered() throws Exception {
    MutableClock clock = new MutableClock(AgentFixture.START);
    TestFeed feed = new TestFeed(dir.resolve("repo"), clock);
    feed.putRaw("mitigations/M1.json", "{\"id\":\"M1\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8)).publish();
    FeedReader reader = new FeedReader(new AgentConfig.FeedLocation.Directory(feed.published()), Optional.empty(),
        Optional.empty(), dir.resolve("tuf"), clock);
    reader.bootstrap(feed.trustedRoot());
    reader.read();

    FeedReader.Result again = reader.read();

    assertThat(again.view().mitigations()).isEmpty();
    assertThat(again.view().rejected()).containsKey("M1");
  }
}
