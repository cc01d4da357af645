package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.MitigationException;
import dev.tourniquet.feed.mitigation.MitigationParser;
import dev.tourniquet.feed.tuf.BundleFetcher;
import dev.tourniquet.feed.tuf.FeedVerificationException;
import dev.tourniquet.feed.tuf.Fetcher;
import dev.tourniquet.feed.tuf.Fetchers;
import dev.tourniquet.feed.tuf.TrustedFeed;
import dev.tourniquet.feed.tuf.TufClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
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
   * The valid documents of the last read, by target name, with the verified bytes they were parsed from.
   * Parsing and validating a document (its rules are compiled) costs more than the rest of a check that
   * finds it unchanged; equal bytes parse to an equal document, so they are not parsed again. Used only
   * under the agent's lock.
   */
  private Map<String, Parsed> parsed = Map.of();
  /** The TUF client of an HTTP or directory feed, kept across reads: it remembers what it verified. */
  private TufClient client;

  private record Parsed(byte[] bytes, Mitigation mitigation) {}

  /**
   * @param http the client to fetch with, if the caller shares one (it then carries any proxy); otherwise
   *     this reader builds its own, through the configured proxy
   */
  FeedReader(AgentConfig.FeedLocation location, java.util.Optional<URI> proxy, java.util.Optional<HttpClient> http,
      Path tufDir, Clock clock) {
    this.location = location;
    this.tufDir = tufDir;
    this.clock = clock;
    this.http = http.orElseGet(() -> ownClient(proxy));
  }

  private static HttpClient ownClient(java.util.Optional<URI> proxy) {
    HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
        .followRedirects(HttpClient.Redirect.NORMAL);
    proxy.map(AgentConfig::proxySelector).ifPresent(builder::proxy);
    return builder.build();
  }

  /** Installs the trusted root at first start (a store that has one keeps it: it may be newer). */
  void bootstrap(Path trustedRoot) throws IOException, FeedVerificationException {
    TufClient.bootstrap(tufDir, Files.readAllBytes(trustedRoot));
  }

  /**
   * The result of a read.
   *
   * @param view the mitigations
   * @param raw the verified bytes of each valid mitigation, by id
   */
  record Result(FeedView view, Map<String, byte[]> raw) {}

  Result read() throws IOException, FeedVerificationException {
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

  private Result read(TufClient client) throws IOException, FeedVerificationException {
    TrustedFeed feed = client.refresh();
    Map<String, Mitigation> valid = new TreeMap<>();
    Map<String, byte[]> raw = new TreeMap<>();
    Map<String, String> rejected = new TreeMap<>();
    Map<String, Parsed> next = new HashMap<>();
    for (String name : feed.targets().keySet()) {
      if (!name.startsWith(PREFIX) || !name.endsWith(SUFFIX) || name.indexOf('/', PREFIX.length()) >= 0) {
        continue; // not a mitigation document
      }
      String id = name.substring(PREFIX.length(), name.length() - SUFFIX.length());
      byte[] bytes = client.download(name); // length and hashes verified (TUF 5.7)
      Parsed before = parsed.get(name);
      if (before != null && Arrays.equals(before.bytes(), bytes)) {
        valid.put(id, before.mitigation()); // the same verified bytes: the same valid document
        raw.put(id, bytes);
        next.put(name, before);
        continue;
      }
      try {
        Mitigation m = MitigationParser.parse(bytes);
        if (!m.id().equals(id)) {
          rejected.put(id, "target " + name + ": expected the document of " + id + " but found the document of " + m.id());
          continue;
        }
        valid.put(id, m);
        raw.put(id, bytes);
        next.put(name, new Parsed(bytes, m));
      } catch (MitigationException e) {
        rejected.put(id, "target " + name + ": " + e.problems().stream().map(Object::toString)
            .collect(Collectors.joining("; ")));
      }
    }
    parsed = next;
    return new Result(new FeedView(feed.targetsVersion(), clock.instant(), valid, rejected), raw);
  }
}
