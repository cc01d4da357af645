package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.MitigationException;
import dev.tourniquet.feed.mitigation.MitigationParser;
import dev.tourniquet.feed.tuf.BundleFetcher;
import dev.tourniquet.feed.tuf.FeedVerificationException;
import dev.tourniquet.feed.tuf.Fetcher;
import dev.tourniquet.feed.tuf.Fetchers;
import dev.tourniquet.feed.tuf.TargetFile;
import dev.tourniquet.feed.tuf.TrustedFeed;
import dev.tourniquet.feed.tuf.TufClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Fetches and verifies the feed with the TUF client, then downloads and re-validates every mitigation
 * target. Any verification failure of the metadata or of a target's bytes fails the whole read (the last
 * verified view stays in use); a target that verifies but is not a valid mitigation document, or whose id
 * does not match its name, is only rejected.
 */
final class FeedReader {
  private static final String PREFIX = "mitigations/";
  private static final String SUFFIX = ".json";

  private final AgentConfig.FeedLocation location;
  private final Path tufDir;
  private final Clock clock;
  private final HttpClient http;
  /**
   * The valid documents of the last read, by target name, with the listing (length and hashes) their bytes
   * were verified against. A target the new targets metadata lists exactly as before has the same bytes, so
   * its document is neither read from the store's cache (four system calls and a hash per document) nor
   * parsed and validated again (its rules compiled): most of a check that finds one document changed among
   * many. The store's copy is then not checked on that read; a copy lost meanwhile is fetched again when the
   * listing changes, and a restart that finds it missing starts from no feed until its first read. Used only
   * under the agent's lock.
   */
  private Map<String, Parsed> parsed = Map.of();
  /** The TUF client of an HTTP or directory feed, kept across reads: it remembers what it verified. */
  private TufClient client;

  private record Parsed(TargetFile listed, Mitigation mitigation) {}

  /**
   * @param http the client to fetch with, if the caller shares one (it then carries any proxy); otherwise
   *     this reader builds its own, through the configured proxy
   */
  FeedReader(AgentConfig.FeedLocation location, Optional<URI> proxy, Optional<HttpClient> http,
      Path tufDir, Clock clock) {
    this.location = location;
    this.tufDir = tufDir;
    this.clock = clock;
    this.http = http.orElseGet(() -> ownClient(proxy));
  }

  private static HttpClient ownClient(Optional<URI> proxy) {
    HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
        .followRedirects(HttpClient.Redirect.NORMAL);
    proxy.map(AgentConfig::proxySelector).ifPresent(builder::proxy);
    return builder.build();
  }

  /** Installs the trusted root at first start (a store that has one keeps it: it may be newer). */
  void bootstrap(Path trustedRoot) throws IOException, FeedVerificationException {
    TufClient.bootstrap(tufDir, Files.readAllBytes(trustedRoot));
  }

  /** Refreshes the feed (TUF) and validates its mitigation documents. */
  FeedView read() throws IOException, FeedVerificationException {
    if (location instanceof AgentConfig.FeedLocation.Bundle b) {
      try (BundleFetcher fetcher = Fetchers.bundle(b.file())) {
        return read(TufClient.open(tufDir, fetcher, clock));
      }
    }
    if (client == null) {
      Fetcher fetcher = location instanceof AgentConfig.FeedLocation.Http h
          ? Fetchers.http(h.url(), http, Duration.ofSeconds(60))
          : Fetchers.directory(((AgentConfig.FeedLocation.Directory) location).dir());
      client = TufClient.open(tufDir, fetcher, clock);
    }
    return read(client);
  }

  /**
   * The feed as the last read verified it, from the TUF store alone (no network): what a restart converges
   * on until its first check. Empty ({@link FeedView#EMPTY}: nothing is withdrawn on its account) if no read
   * has completed on this store, or if the store no longer holds all of it (metadata that does not verify,
   * a mitigation document whose verified copy is missing or damaged); {@code why} then says what was wrong.
   */
  record LastVerified(FeedView view, Optional<String> why) {}

  LastVerified lastVerified() throws IOException {
    try {
      Optional<TrustedFeed> stored = TufClient.lastVerified(tufDir);
      if (stored.isEmpty()) {
        return new LastVerified(FeedView.EMPTY, Optional.empty());
      }
      TrustedFeed feed = stored.get();
      // Every copy is read: the view is what the store itself can give back, not what this reader remembers.
      return new LastVerified(view(feed, name -> TufClient.cachedTarget(tufDir, feed, name)
          .orElseThrow(() -> new MissingCopy(name)), false), Optional.empty());
    } catch (FeedVerificationException e) {
      return unavailable("the trusted metadata in " + tufDir + " does not verify: " + e.getMessage());
    } catch (MissingCopy e) {
      return unavailable("no verified copy of " + e.getMessage() + " in " + tufDir);
    }
  }

  private static LastVerified unavailable(String why) {
    return new LastVerified(FeedView.EMPTY, Optional.of(why));
  }

  /** A mitigation document listed by the stored feed whose verified copy the store no longer has. */
  private static final class MissingCopy extends IOException {
    private static final long serialVersionUID = 1L;

    MissingCopy(String name) {
      super(name);
    }
  }

  /** Where the verified bytes of a listed target come from. */
  private interface Targets {
    byte[] bytes(String name) throws FeedVerificationException, IOException;
  }

  private FeedView read(TufClient client) throws IOException, FeedVerificationException {
    TrustedFeed feed = client.refresh();
    return view(feed, client::download, true); // length and hashes verified (TUF 5.7)
  }

  /** @param reuse take a document listed as at the last read from memory, without its bytes */
  private FeedView view(TrustedFeed feed, Targets targets, boolean reuse) throws IOException, FeedVerificationException {
    Map<String, Mitigation> valid = new TreeMap<>();
    Map<String, String> rejected = new TreeMap<>();
    Map<String, Parsed> next = new HashMap<>();
    for (String name : feed.targets().keySet()) {
      if (!name.startsWith(PREFIX) || !name.endsWith(SUFFIX) || name.indexOf('/', PREFIX.length()) >= 0) {
        continue; // not a mitigation document
      }
      String id = name.substring(PREFIX.length(), name.length() - SUFFIX.length());
      TargetFile listed = feed.targets().get(name);
      Parsed before = parsed.get(name);
      if (reuse && before != null && before.listed().equals(listed)) {
        valid.put(id, before.mitigation()); // listed as before: the same verified bytes, the same document
        next.put(name, before);
        continue;
      }
      byte[] bytes = targets.bytes(name);
      try {
        Mitigation m = MitigationParser.parse(bytes);
        if (!m.id().equals(id)) {
          rejected.put(id, "target " + name + ": expected the document of " + id + " but found the document of " + m.id());
          continue;
        }
        valid.put(id, m);
        next.put(name, new Parsed(listed, m));
      } catch (MitigationException e) {
        rejected.put(id, "target " + name + ": " + e.problems().stream().map(Object::toString)
            .collect(Collectors.joining("; ")));
      }
    }
    parsed = next;
    return new FeedView(feed.targetsVersion(), valid, rejected);
  }
}
