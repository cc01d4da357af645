package dev.tourniquet.bench;

import dev.tourniquet.feed.tuf.FeedRepository;
import dev.tourniquet.feed.tuf.FeedVerificationException;
import dev.tourniquet.feed.tuf.Fetchers;
import dev.tourniquet.feed.tuf.Limits;
import dev.tourniquet.feed.tuf.TrustedFeed;
import dev.tourniquet.feed.tuf.TufClient;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Builds a published feed of synthetic mitigations and measures verifying it from scratch, for the
 * feed section of {@code docs/benchmarks.md}.
 *
 * <p>{@code java -cp bench/target/benchmarks.jar dev.tourniquet.bench.FeedVerification [count] [rounds]} publishes a feed of
 * {@code count} mitigations (default 1000) into a temporary directory, then verifies it {@code rounds}
 * times (default 5), each time from an empty trusted store (bootstrap with root version 1, refresh,
 * download and hash every target), without and with the target cache, and prints each round's wall time.
 */
public final class FeedVerification {
  private FeedVerification() {}

  /**
   * Creates a repository in {@code dir} with fresh in-memory keys (one per role) and publishes
   * {@code count} synthetic mitigation documents of about 1.5 KiB each as {@code mitigations/TQ-*.json}.
   *
   * @param dir an empty directory
   * @param count how many mitigations
   * @param clock the clock for expiry dates
   * @return the published directory
   * @throws IOException if files cannot be written
   * @throws IllegalStateException if publishing fails, which would be a bug
   */
  public static Path publish(Path dir, int count, Clock clock) throws IOException {
    SigningFeed feed = SigningFeed.create(dir, clock);
    Map<String, byte[]> contents = new LinkedHashMap<>();
    for (int i = 1; i <= count; i++) {
      String id = String.format(Locale.ROOT, "TQ-2026-%04d", i);
      contents.put(FeedRepository.mitigationTarget(id), document(id));
    }
    feed.stage(contents);
    feed.publish();
    return feed.published();
  }

  /**
   * Verifies a published feed from an empty trusted store: bootstrap with {@code 1.root.json}, refresh
   * (TUF 5.1-5.6), then download and verify every target (5.7).
   *
   * @param published the published directory
   * @param store an empty directory for the trusted store
   * @param clock the clock
   * @param cacheTargets whether to also write each verified target to the store's cache (costs one file
   *     creation per target)
   * @return the verified feed
   * @throws FeedVerificationException if the feed does not verify
   * @throws IOException if files cannot be read or written
   */
  public static TrustedFeed verifyFromScratch(Path published, Path store, Clock clock, boolean cacheTargets)
      throws FeedVerificationException, IOException {
    TufClient.bootstrap(store, Files.readAllBytes(published.resolve("1.root.json")));
    TufClient client = TufClient.open(store, Fetchers.directory(published), clock, Limits.defaults(), cacheTargets);
    TrustedFeed feed = client.refresh();
    for (String name : feed.targets().keySet()) {
      client.download(name);
    }
    return feed;
  }

  static byte[] document(String id) {
    StringBuilder json = new StringBuilder(1600);
    json.append("{\"id\":\"").append(id).append("\",\"revision\":1,\"title\":\"Synthetic mitigation ").append(id)
        .append("\",\"severity\":\"high\",\"cves\":[\"CVE-2026-").append(id.substring(8)).append("\"],")
        .append("\"applicability\":{\"product\":\"Example Server\",\"ranges\":[{\"from\":\"15.2.0\",\"fixed\":\"15.2.1258\"}]},")
        .append("\"mode\":\"enforce\",\"actions\":[{\"kind\":\"request-rules\",\"rules\":\"");
    while (json.length() < 1500) {
      json.append("<rule name=\\\"block-").append(json.length()).append("\\\" stopProcessing=\\\"true\\\"/>");
    }
    json.append("\"}]}\n");
    return json.toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Publishes a synthetic feed in a temporary directory and prints how long verifying it from scratch
   * takes, round by round.
   *
   * @param args optional: the number of mitigations (default 1000) and of rounds (default 5)
   * @throws Exception if anything fails
   */
  public static void main(String[] args) throws Exception {
    int count = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    Clock clock = Clock.systemUTC();
    Path dir = Files.createTempDirectory("tourniquet-synthetic-");
    Path published = publish(dir.resolve("repo"), count, clock);
    for (int round = 1; round <= rounds; round++) {
      for (boolean cache : new boolean[] {false, true}) {
        long start = System.nanoTime();
        TrustedFeed feed = verifyFromScratch(published, dir.resolve("store-" + round + "-" + cache), clock, cache);
        long micros = (System.nanoTime() - start) / 1000;
        System.out.printf(Locale.ROOT, "round %d: verified %d mitigations from scratch in %.1f ms (%s)%n", round,
            feed.targets().size(), micros / 1000.0, cache ? "targets cached in the store" : "no target cache");
      }
    }
  }
}
