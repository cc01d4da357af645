package dev.tourniquet.feed.tuf;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The built-in {@link Fetcher}s.
 */
public final class Fetchers {
  private Fetchers() {}

  /**
   * Words for a failed HTTP exchange. The JDK's HTTP client throws a refused connection, an unknown host
   * and a closed channel without any message ({@code getMessage()} is null down the whole cause chain), so
   * printing the message says "null"; this names what went wrong instead.
   *
   * @param e the failure
   * @return the first message in its cause chain, or words for the kind of failure
   */
  public static String describe(IOException e) {
    Throwable root = e;
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t.getMessage() != null && !t.getMessage().isBlank()) {
        return t.getMessage();
      }
      root = t;
    }
    if (root instanceof java.nio.channels.UnresolvedAddressException) {
      return "unknown host (the name does not resolve)";
    }
    if (e instanceof java.net.ConnectException) {
      return "cannot connect (connection refused, or the host is unreachable)";
    }
    if (root instanceof java.nio.channels.ClosedChannelException) {
      return "the connection was closed";
    }
    return root.getClass().getSimpleName();
  }

  /**
   * A response body that must be read whole within a time: once it has passed, the stream is closed (which
   * ends a read blocked on it) and reads throw an {@link IOException} saying so. An HTTP client's timeout
   * covers the wait for the headers only, so without this a server that sends its body a byte now and then
   * holds the reader for ever (TUF's slow retrieval attack). Closing the stream cancels the deadline.
   *
   * @param body the body as the HTTP client gives it
   * @param within how long reading it may take, from now
   * @param what the request, for the message (e.g. {@code GET https://…/timestamp.json})
   * @return the body, bounded in time
   */
  public static InputStream withDeadline(InputStream body, Duration within, String what) {
    return new DeadlineInputStream(body, within, what);
  }

  /**
   * Fetches over HTTP(S) with {@code java.net.http}: GET {@code base + path}, 200 is the file, 404 and
   * 410 mean not found (and 403 for {@code N.root.json}, as an S3 bucket answers it), 304 answers a conditional request ({@code If-None-Match}) for an unchanged file,
   * anything else is an {@link IOException}. Redirects are followed; the content is verified anyway.
   *
   * @param base the repository base URL; a trailing {@code /} is added if missing
   * @return the fetcher
   * @throws IllegalArgumentException if the base is not an absolute http or https URL
   */
  public static Fetcher http(URI base) {
    return http(base, HttpClient.newBuilder()
        .connectTimeout(Duration.ofSeconds(10))
        .followRedirects(HttpClient.Redirect.NORMAL)
        .build(), Duration.ofSeconds(60));
  }

  /**
   * Fetches over HTTP(S) with the given client, e.g. one with a proxy or custom TLS.
   *
   * @param base the repository base URL; a trailing {@code /} is added if missing
   * @param client the HTTP client
   * @param timeout how long to wait for a response's headers, and then for its body
   * @return the fetcher
   * @throws IllegalArgumentException if the base is not an absolute http or https URL
   */
  public static Fetcher http(URI base, HttpClient client, Duration timeout) {
    return new HttpFetcher(base, client, timeout);
  }

  /**
   * Fetches from a directory laid out like the repository (a publisher's {@code published/} directory or
   * a mirror's copy). Paths never leave the directory.
   *
   * @param root the directory
   * @return the fetcher
   */
  public static Fetcher directory(Path root) {
    return new DirectoryFetcher(root);
  }

  /**
   * Fetches from an offline bundle written by {@link FeedRepository#writeBundle(Path)}, so that an
   * air-gapped agent verifies it exactly as if it were fetched over HTTP. The returned fetcher keeps the
   * file open until closed.
   *
   * @param bundle the bundle file
   * @return the fetcher
   * @throws IOException if the file is not a readable bundle
   */
  public static BundleFetcher bundle(Path bundle) throws IOException {
    return BundleFetcher.open(bundle);
  }
}
