package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Feed files served from the cache of their validators and bytes, against a real server over HTTP, while
 * the files under it are replaced, deleted and retargeted. The database plays no part (H2).
 */
class FeedFileCacheTest {
  @TempDir
  Path dir;
  Fixture fleet;

  @AfterEach
  void stopFleet() {
    if (fleet != null) {
      fleet.close();
    }
  }

  private Path published(UnaryOperator<FleetServer.Settings.Builder> settings) throws Exception {
    fleet = new Fixture(dir, Backend.h2(), settings);
    return fleet.feed.published();
  }

  @Test
  void replacedFileWithTheSameSizeAndModificationTimeIsServedWithItsNewBytesAndEtag() throws Exception {
    Path published = published(b -> b);
    Path timestamp = published.resolve("timestamp.json");
    HttpResponse<byte[]> before = get("timestamp.json", null);
    assertThat(get("timestamp.json", etag(before)).statusCode()).isEqualTo(304);

    // The same length, one hex digit of the signature changed: what a same-tick re-publish looks like.
    byte[] old = Files.readAllBytes(timestamp);
    byte[] replacement = old.clone();
    java.util.regex.Matcher sig = java.util.regex.Pattern.compile("\"sig\"\\s*:\\s*\"")
        .matcher(new String(old, StandardCharsets.ISO_8859_1));
    assertThat(sig.find()).isTrue();
    int digit = sig.end();
    replacement[digit] = (byte) (replacement[digit] == 'a' ? 'b' : 'a');
    BasicFileAttributes was = attributes(timestamp);
    replaceAtomically(timestamp, replacement, was);
    BasicFileAttributes now = attributes(timestamp);
    assertThat(now.size()).isEqualTo(was.size());
    assertThat(now.lastModifiedTime()).isEqualTo(was.lastModifiedTime());
    assertThat(now.fileKey()).isNotEqualTo(was.fileKey());

    HttpResponse<byte[]> after = get("timestamp.json", null);
    HttpResponse<byte[]> withOldEtag = get("timestamp.json", etag(before));

    assertThat(after.statusCode()).isEqualTo(200);
    assertThat(after.body()).isEqualTo(replacement);
    assertThat(etag(after)).isEqualTo(etagOf(replacement)).isNotEqualTo(etag(before));
    assertThat(after.headers().firstValue("Last-Modified")).isEqualTo(before.headers().firstValue("Last-Modified"));
    assertThat(withOldEtag.statusCode()).isEqualTo(200);
    assertThat(withOldEtag.body()).isEqualTo(replacement);
  }

  @Test
  void conditionalRequestWithTheCurrentEtagAnswers304FromTheCacheWithTheSameHeaders() throws Exception {
    published(b -> b);
    HttpResponse<byte[]> first = get("1.root.json", null);
    HttpResponse<byte[]> second = get("1.root.json", null);
    HttpResponse<byte[]> conditional = get("1.root.json", etag(first));

    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(etag(first)).isEqualTo(etagOf(Files.readAllBytes(fleet.feed.published().resolve("1.root.json"))));
    assertThat(second.body()).isEqualTo(first.body());
    for (String header : new String[] {"ETag", "Last-Modified", "Cache-Control", "Content-Type"}) {
      assertThat(second.headers().firstValue(header)).as(header).isEqualTo(first.headers().firstValue(header));
    }
    assertThat(conditional.statusCode()).isEqualTo(304);
    assertThat(conditional.body()).isEmpty();
    assertThat(etag(conditional)).isEqualTo(etag(first));
    assertThat(conditional.headers().firstValue("Cache-Control")).hasValue("public, max-age=31536000, immutable");
  }

  @Test
  void deletedFileIsNotFoundAgainAndARecreatedOneIsServedWithItsOwnBytes() throws Exception {
    Path extra = published(b -> b).resolve("extra.json");
    Files.writeString(extra, "{\"n\":1}");
    HttpResponse<byte[]> served = get("extra.json", null);
    assertThat(served.statusCode()).isEqualTo(200);

    Files.delete(extra);
    HttpResponse<byte[]> deleted = get("extra.json", null);
    HttpResponse<byte[]> deletedConditional = get("extra.json", etag(served));
    Files.writeString(extra, "{\"n\":2}");
    HttpResponse<byte[]> recreated = get("extra.json", etag(served));

    assertThat(deleted.statusCode()).isEqualTo(404);
    assertThat(deletedConditional.statusCode()).isEqualTo(404);
    assertThat(recreated.statusCode()).isEqualTo(200);
    assertThat(new String(recreated.body(), StandardCharsets.UTF_8)).isEqualTo("{\"n\":2}");
  }

  @Test
  void symbolicLinkRetargetedOutOfTheFeedAfterItWasCachedIsNotFound() throws Exception {
    Path published = published(b -> b);
    Path inside = published.resolve("inside.json");
    Path outside = dir.resolve("outside.json");
    Files.writeString(inside, "{\"in\":1}");
    Files.writeString(outside, "{\"no\":1}");
    Files.setLastModifiedTime(outside, Files.getLastModifiedTime(inside));
    Path link = published.resolve("link.json");
    Files.createSymbolicLink(link, inside);
    HttpResponse<byte[]> viaLink = get("link.json", null);
    assertThat(viaLink.statusCode()).isEqualTo(200);
    assertThat(get("link.json", etag(viaLink)).statusCode()).isEqualTo(304);

    Path next = published.resolve(".link.tmp");
    Files.createSymbolicLink(next, outside);
    Files.move(next, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    HttpResponse<byte[]> escaped = get("link.json", null);
    HttpResponse<byte[]> escapedConditional = get("link.json", etag(viaLink));

    assertThat(escaped.statusCode()).isEqualTo(404);
    assertThat(escapedConditional.statusCode()).isEqualTo(404);
    assertThat(new String(escaped.body(), StandardCharsets.UTF_8)).doesNotContain("\"no\":1");
  }

  @Test
  void cacheStaysWithinItsBoundsWhileManyFilesAreServedCorrectly() throws Exception {
    Path published = published(b -> b.feedCache(8, 4096));
    Map<String, byte[]> files = new HashMap<>();
    for (int i = 0; i < 40; i++) {
      byte[] content = new byte[100 + 37 * i];
      Arrays.fill(content, (byte) ('a' + i % 26));
      files.put("f" + i + ".bin", content);
      Files.write(published.resolve("f" + i + ".bin"), content);
    }
    FeedFileCache cache = fleet.server.feedCache();

    for (int round = 0; round < 2; round++) {
      for (int i = 0; i < 40; i++) {
        String name = "f" + i + ".bin";
        HttpResponse<byte[]> r = get(name, null);
        assertThat(r.statusCode()).as(name).isEqualTo(200);
        assertThat(r.body()).as(name).isEqualTo(files.get(name));
        assertThat(etag(r)).as(name).isEqualTo(etagOf(files.get(name)));
        assertThat(get(name, etag(r)).statusCode()).as(name).isEqualTo(304);
        assertThat(cache.size()).as("entries after " + name).isLessThanOrEqualTo(8);
        assertThat(cache.bytes()).as("bytes after " + name).isLessThanOrEqualTo(4096);
      }
    }
    assertThat(cache.bytes()).as("the last files' bytes are held").isPositive();
    // f0 was evicted long ago; changed meanwhile, it is read again.
    byte[] changed = "changed".getBytes(StandardCharsets.UTF_8);
    Files.write(published.resolve("f0.bin"), changed);
    assertThat(get("f0.bin", null).body()).isEqualTo(changed);
  }

  @Test
  void fileLargerThanTheCacheKeepsItsValidatorsOnlyAndIsServedWholeAndFresh() throws Exception {
    Path big = published(b -> b.feedCache(8, 4096)).resolve("big.bin");
    byte[] first = new byte[10_000];
    Arrays.fill(first, (byte) 'x');
    Files.write(big, first);
    HttpResponse<byte[]> served = get("big.bin", null);
    HttpResponse<byte[]> conditional = get("big.bin", etag(served));
    HttpResponse<byte[]> again = get("big.bin", null);
    HttpResponse<Void> head = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/feeds/default/big.bin"))
        .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());

    assertThat(served.body()).isEqualTo(first);
    assertThat(etag(served)).isEqualTo(etagOf(first));
    assertThat(conditional.statusCode()).isEqualTo(304);
    assertThat(again.body()).isEqualTo(first);
    assertThat(head.headers().firstValue("Content-Length")).hasValue("10000");
    assertThat(head.headers().firstValue("ETag")).hasValue(etagOf(first));
    assertThat(fleet.server.feedCache().bytes()).isZero();

    byte[] second = first.clone();
    second[5000] = 'y';
    replaceAtomically(big, second, attributes(big));
    HttpResponse<byte[]> replaced = get("big.bin", etag(served));
    assertThat(replaced.statusCode()).isEqualTo(200);
    assertThat(replaced.body()).isEqualTo(second);
    assertThat(etag(replaced)).isEqualTo(etagOf(second));
  }

  // Helpers.

  private HttpResponse<byte[]> get(String file, String ifNoneMatch) throws Exception {
    HttpRequest.Builder r = HttpRequest.newBuilder(fleet.uri("/feeds/default/" + file)).timeout(Fixture.TIMEOUT);
    if (ifNoneMatch != null) {
      r.header("If-None-Match", ifNoneMatch);
    }
    return fleet.http.send(r.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static String etag(HttpResponse<?> r) {
    return r.headers().firstValue("ETag").orElseThrow();
  }

  /** The ETag the server has always sent: 40 hex digits of the SHA-256 of the bytes, quoted. */
  private static String etagOf(byte[] content) {
    return "\"" + HostedFeed.sha256(content).substring(0, 40) + "\"";
  }

  private static BasicFileAttributes attributes(Path file) throws Exception {
    return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
  }

  /** As the publisher does: a new file beside it, then a rename over it; here with the old file's mtime. */
  private static void replaceAtomically(Path file, byte[] content, BasicFileAttributes was) throws Exception {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
    Files.write(tmp, content);
    Files.setLastModifiedTime(tmp, was.lastModifiedTime());
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }
}
