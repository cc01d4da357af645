package dev.tourniquet.feed.tuf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP fetcher against a real server on 127.0.0.1. */
class HttpFetcherTest {
  @TempDir Path temp;

  private static Map<String, byte[]> publishedFiles(Path dir) throws IOException {
    Map<String, byte[]> files = new HashMap<>();
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.filter(Files::isRegularFile).toList()) {
        files.put(dir.relativize(p).toString().replace('\\', '/'), Files.readAllBytes(p));
      }
    }
    return files;
  }

  @Test
  void pollThatFindsNothingNewCostsOneConditionalRequestForTheTimestamp() throws Exception {
    TestRepository repo = new TestRepository(temp);
    Path store = repo.newStore(temp.resolve("store"));
    try (MapHttpServer server = new MapHttpServer(publishedFiles(repo.published()))) {
      TufClient agent = TufClient.open(store, Fetchers.http(server.base()), repo.clock);
      assertThat(agent.refresh().updated()).isTrue();
      int before = server.requests().size();

      TrustedFeed again = agent.refresh();

      assertThat(again.updated()).isFalse();
      assertThat(server.requests().subList(before, server.requests().size())).containsExactly(
          "/feed/2.root.json", "/feed/timestamp.json If-None-Match: "
              + MapHttpServer.etagOf(repo.publishedFile("timestamp.json")));
    }
  }

  @Test
  void forbiddenNextRootIsNoNewRootAsFromABucketThatHidesMissingObjectsButForbiddenTimestampIsAFailure()
      throws Exception {
    TestRepository repo = new TestRepository(temp);
    Path store = repo.newStore(temp.resolve("store"));
    Map<String, byte[]> files = publishedFiles(repo.published());
    try (MapHttpServer server = new MapHttpServer(files)) {
      server.answerMissingWith(403); // S3 without list permission: a missing object is 403, not 404
      TufClient agent = TufClient.open(store, Fetchers.http(server.base()), repo.clock);

      assertThat(agent.refresh().rootVersion()).isEqualTo(1);
      assertThat(server.requests()).contains("/feed/2.root.json");
    }
    files.remove("timestamp.json");
    try (MapHttpServer server = new MapHttpServer(files)) {
      server.answerMissingWith(403);
      TufClient agent = TufClient.open(store, Fetchers.http(server.base()), repo.clock);

      assertThatThrownBy(agent::refresh).isInstanceOf(IOException.class)
          .hasMessageContaining("timestamp.json: expected HTTP 200 but found 403");
    }
  }

  @Test
  void notModifiedAnswerCannotKeepAnExpiredTimestampAlive() throws Exception {
    TestRepository repo = new TestRepository(temp);
    Path store = repo.newStore(temp.resolve("store"));
    try (MapHttpServer server = new MapHttpServer(publishedFiles(repo.published()))) {
      TufClient agent = TufClient.open(store, Fetchers.http(server.base()), repo.clock);
      agent.refresh();
      repo.clock.advance(java.time.Duration.ofDays(2));

      assertThatThrownBy(agent::refresh).isInstanceOf(ExpiredException.class)
          .hasMessageContaining("timestamp metadata expired");
    }
  }

  @Test
  void newTimestampIsFetchedDespiteTheStoredEntityTag() throws Exception {
    TestRepository repo = new TestRepository(temp);
    Path store = repo.newStore(temp.resolve("store"));
    try (MapHttpServer server = new MapHttpServer(publishedFiles(repo.published()))) {
      TufClient agent = TufClient.open(store, Fetchers.http(server.base()), repo.clock);
      agent.refresh();
      publishSecondRevision(repo, server);

      TrustedFeed feed = agent.refresh();

      assertThat(feed.updated()).isTrue();
      assertThat(feed.targetsVersion()).isEqualTo(2);
      assertThat(Files.readAllBytes(store.resolve("timestamp.etag"))).isEqualTo(TrustedStore.etagRecord(
          repo.publishedFile("timestamp.json"), MapHttpServer.etagOf(repo.publishedFile("timestamp.json"))));
    }
  }

  @Test
  void theEntityTagIsRewrittenInPlaceNotReplacedByANewFileAtEveryNewTimestamp() throws Exception {
    // Each replaced file costs a new inode; with 1,000 agents on one ext4 disk their allocation was a measured
    // part of a check. The tag is checked against its timestamp's hash before use, so a torn one is harmless.
    TestRepository repo = new TestRepository(temp);
    Path store = repo.newStore(temp.resolve("store"));
    try (MapHttpServer server = new MapHttpServer(publishedFiles(repo.published()))) {
      TufClient agent = TufClient.open(store, Fetchers.http(server.base()), repo.clock);
      agent.refresh();
      Object first = Files.readAttributes(store.resolve("timestamp.etag"), BasicFileAttributes.class).fileKey();
      publishSecondRevision(repo, server);

      assertThat(agent.refresh().targetsVersion()).isEqualTo(2);

      assertThat(first).isNotNull();
      assertThat(Files.readAttributes(store.resolve("timestamp.etag"), BasicFileAttributes.class).fileKey())
          .isEqualTo(first);
      assertThat(Files.readAllBytes(store.resolve("timestamp.etag"))).isEqualTo(TrustedStore.etagRecord(
          repo.publishedFile("timestamp.json"), MapHttpServer.etagOf(repo.publishedFile("timestamp.json"))));
    }
  }

  @Test
  void anEntityTagFileThatIsALinkIsNotFollowedAndTheUpdateStillCommits() throws Exception {
    TestRepository repo = new TestRepository(temp);
    Path store = repo.newStore(temp.resolve("store"));
    try (MapHttpServer server = new MapHttpServer(publishedFiles(repo.published()))) {
      TufClient agent = TufClient.open(store, Fetchers.http(server.base()), repo.clock);
      agent.refresh();
      Path victim = Files.writeString(temp.resolve("victim.txt"), "not the agent's");
      Files.delete(store.resolve("timestamp.etag"));
      Files.createSymbolicLink(store.resolve("timestamp.etag"), victim);
      publishSecondRevision(repo, server);

      assertThat(agent.refresh().targetsVersion()).isEqualTo(2);

      assertThat(Files.readString(victim)).isEqualTo("not the agent's");
      assertThat(TufClient.open(store, Fetchers.http(server.base()), repo.clock).refresh().targetsVersion()).isEqualTo(2);
    }
  }

  @Test
  void entityTagOfAnotherTimestampIsNotSentSoACrashBetweenRenamesCannotHideANewTimestamp() throws Exception {
    TestRepository repo = new TestRepository(temp);
    Path store = repo.newStore(temp.resolve("store"));
    try (MapHttpServer server = new MapHttpServer(publishedFiles(repo.published()))) {
      TufClient.open(store, Fetchers.http(server.base()), repo.clock).refresh();
      publishSecondRevision(repo, server);
      // What a crash can leave: the new tag's rename made durable, the new timestamp's not.
      byte[] newTimestamp = repo.publishedFile("timestamp.json");
      Files.write(store.resolve("timestamp.etag"),
          TrustedStore.etagRecord(newTimestamp, MapHttpServer.etagOf(newTimestamp)));
      int before = server.requests().size();

      TrustedFeed feed = TufClient.open(store, Fetchers.http(server.base()), repo.clock).refresh();

      assertThat(server.requests().subList(before, server.requests().size())).contains("/feed/timestamp.json");
      assertThat(feed.updated()).isTrue();
      assertThat(feed.targetsVersion()).isEqualTo(2);
    }
  }

  private static void publishSecondRevision(TestRepository repo, MapHttpServer server) throws Exception {
    repo.publishRevision(2);
    publishedFiles(repo.published()).forEach(server::put);
  }

  /** A server on 127.0.0.1 whose every request goes to the handler, started. */
  private static HttpServer serving(com.sun.net.httpserver.HttpHandler handler) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", handler);
    server.start();
    return server;
  }

  @Test
  void endlessHttpResponseIsCutAtTheCap() throws Exception {
    TestRepository repo = new TestRepository(temp);
    Path store = repo.newStore(temp.resolve("store"));
    AtomicLong sent = new AtomicLong();
    HttpServer server = serving(exchange -> {
      try (exchange) {
        if (!exchange.getRequestURI().getPath().equals("/timestamp.json")) {
          exchange.sendResponseHeaders(404, -1);
          return;
        }
        exchange.sendResponseHeaders(200, 0);
        byte[] chunk = new byte[8192];
        java.util.Arrays.fill(chunk, (byte) ' ');
        try (OutputStream out = exchange.getResponseBody()) {
          // Bounded so the test ends even if the client misbehaves; the client stops reading long before.
          while (sent.get() < 64L * 1024 * 1024) {
            out.write(chunk);
            sent.addAndGet(chunk.length);
          }
        } catch (IOException clientHungUp) {
          // expected: the client closed the connection at its cap
        }
      }
    });
    try {
      TufClient agent = TufClient.open(store, Fetchers.http(URI.create("http://127.0.0.1:"
          + server.getAddress().getPort())), repo.clock);
      StoreSnapshot before = StoreSnapshot.of(store);

      assertThatThrownBy(agent::refresh).isInstanceOf(OversizedException.class)
          .hasMessageContaining("timestamp.json").hasMessageContaining("expected at most 16384 bytes but found more");
      assertThat(StoreSnapshot.of(store)).isEqualTo(before);
      assertThat(sent.get()).isLessThan(64L * 1024 * 1024);
    } finally {
      server.stop(0);
    }
  }

  @Test
  void responseSentSlowlyIsCutAtTheDeadlineAsUnreachable() throws Exception {
    TestRepository repo = new TestRepository(temp);
    Path store = repo.newStore(temp.resolve("store"));
    AtomicLong sent = new AtomicLong();
    HttpServer server = serving(exchange -> {
      try (exchange; OutputStream out = exchange.getResponseBody()) {
        exchange.sendResponseHeaders(200, 0);
        // A byte every 100 ms, 300 at most (30 s): the client's deadline is 1 s. A real delay, since the slowness
        // is what is tested: each byte comes well within any wait for the next, so only the deadline on the whole
        // download ends it. 1 s is the shortest deadline the message names (it counts whole seconds).
        while (sent.get() < 300) {
          out.write(' ');
          out.flush();
          sent.incrementAndGet();
          Thread.sleep(100);
        }
      } catch (IOException | InterruptedException clientHungUp) {
        // expected: the client closed the connection at its deadline
      }
    });
    try {
      HttpClient http = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).build();
      TufClient agent = TufClient.open(store, Fetchers.http(URI.create("http://127.0.0.1:"
          + server.getAddress().getPort()), http, Duration.ofSeconds(1)), repo.clock);
      StoreSnapshot before = StoreSnapshot.of(store);

      assertThatThrownBy(agent::refresh).isInstanceOf(IOException.class)
          .isNotInstanceOf(FeedVerificationException.class)
          .hasMessageContaining(".root.json: the download did not end within 1 s");
      assertThat(sent.get()).as("bytes sent before the client gave up").isLessThan(300);
      assertThat(StoreSnapshot.of(store)).isEqualTo(before);
    } finally {
      server.stop(0);
    }
  }

  @Test
  void serverErrorIsAnIoFailureNotAVerdict() throws Exception {
    HttpServer server = serving(exchange -> {
      try (exchange) {
        exchange.sendResponseHeaders(503, -1);
      }
    });
    try {
      Fetcher fetcher = Fetchers.http(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/feed"));
      assertThatThrownBy(() -> fetcher.fetch("timestamp.json", java.util.Optional.empty()))
          .isInstanceOf(IOException.class).hasMessageContaining("expected HTTP 200 but found 503");
    } finally {
      server.stop(0);
    }
  }

  @Test
  void unreachableRepositoryIsNamedWithWhatWentWrongNotNull() throws Exception {
    int port;
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort(); // closed again: nothing listens there now
    }
    Fetcher refused = Fetchers.http(URI.create("http://127.0.0.1:" + port + "/feed"));
    Fetcher unknown = Fetchers.http(URI.create("http://no-such-host.invalid/feed"));

    assertThatThrownBy(() -> refused.fetch("timestamp.json", java.util.Optional.empty())).isInstanceOf(IOException.class)
        .hasMessage("GET http://127.0.0.1:" + port + "/feed/timestamp.json: cannot connect (connection refused, or the"
            + " host is unreachable)");
    assertThatThrownBy(() -> unknown.fetch("timestamp.json", java.util.Optional.empty())).isInstanceOf(IOException.class)
        .hasMessage("GET http://no-such-host.invalid/feed/timestamp.json: unknown host (the name does not resolve)");
  }

  @Test
  void targetNamesArePercentEncodedPerSegment() {
    assertThat(HttpFetcher.encode("targets/sub dir/abc.M 1?.json")).isEqualTo("targets/sub%20dir/abc.M%201%3F.json");
  }
}
