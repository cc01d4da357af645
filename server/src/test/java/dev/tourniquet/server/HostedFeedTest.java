package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hosted feed reads the path the router decoded once, and never decodes it again: a second decoding would
 * turn {@code %252e%252e}, which the router decodes to the name {@code %2e%2e}, into {@code ..}. (Over HTTP,
 * Jetty refuses an encoded {@code %} before the router sees it; this holds without Jetty too.)
 */
class HostedFeedTest {
  @TempDir
  Path dir;

  @Test
  void aPercentInADecodedNameIsPartOfTheNameAndNeverDecodedAgain() throws Exception {
    Path root = Files.createDirectories(dir.resolve("published"));
    Files.writeString(root.resolve("a%41.json"), "{\"percent\":true}");
    Files.writeString(root.resolve("aA.json"), "{\"percent\":false}");
    HostedFeed feed = new HostedFeed("default", root, new FeedFileCache(16, 1 << 20));

    HostedFeed.File file = feed.read(List.of("a%41.json"), true);

    assertThat(new String(file.content(), StandardCharsets.UTF_8)).isEqualTo("{\"percent\":true}");
  }

  @Test
  void anEncodedDotDotIsAFileNameThatTheFeedDoesNotHaveNotAWayOut() throws Exception {
    Path root = Files.createDirectories(dir.resolve("published"));
    Files.writeString(dir.resolve("secret.txt"), "not for agents");
    HostedFeed feed = new HostedFeed("default", root, new FeedFileCache(16, 1 << 20));

    assertThatThrownBy(() -> feed.read(List.of("%2e%2e", "secret.txt"), true))
        .isInstanceOfSatisfying(HttpException.class, e -> assertThat(e.status()).isEqualTo(404))
        .hasMessage("feed default has no file %2e%2e/secret.txt");
    assertThatThrownBy(() -> feed.read(List.of("..", "secret.txt"), true))
        .isInstanceOfSatisfying(HttpException.class, e -> assertThat(e.status()).isEqualTo(400))
        .hasMessageContaining("found an empty, '.' or '..' segment");
  }
}
