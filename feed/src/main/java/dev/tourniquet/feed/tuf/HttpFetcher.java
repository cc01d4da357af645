package dev.tourniquet.feed.tuf;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.StringJoiner;
import java.util.regex.Pattern;

/** {@link Fetcher} over HTTP with conditional GET; see {@link Fetchers#http(URI)}. */
final class HttpFetcher implements Fetcher {
  private final URI base;
  private final HttpClient client;
  private final Duration timeout;

  HttpFetcher(URI base, HttpClient client, Duration timeout) {
    Objects.requireNonNull(base, "base");
    String scheme = base.getScheme() == null ? "" : base.getScheme().toLowerCase(Locale.ROOT);
    if (!base.isAbsolute() || !(scheme.equals("http") || scheme.equals("https"))) {
      throw new IllegalArgumentException("repository base: expected an absolute http or https URL but found " + base);
    }
    String text = base.toString();
    this.base = URI.create(text.endsWith("/") ? text : text + "/");
    this.client = Objects.requireNonNull(client, "client");
    this.timeout = Objects.requireNonNull(timeout, "timeout");
  }

  /** {@code N.root.json}, the next root that TUF 5.3.3 asks for on every refresh. */
  private static final Pattern NEXT_ROOT = Pattern.compile("[0-9]+\\.root\\.json");

  @Override
  public Response fetch(String path, Optional<String> ifNoneMatch) throws IOException {
    HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(encode(path)))
        .timeout(timeout)
        .header("Accept", "application/json, application/octet-stream, */*")
        .GET();
    ifNoneMatch.ifPresent(etag -> request.header("If-None-Match", etag));
    HttpRequest built = request.build();
    HttpResponse<InputStream> response;
    try {
      response = client.send(built, HttpResponse.BodyHandlers.ofInputStream());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while fetching " + path);
    } catch (InterruptedIOException e) {
      throw e;
    } catch (IOException e) {
      throw new IOException("GET " + built.uri() + ": " + Fetchers.describe(e), e);
    }
    int status = response.statusCode();
    if (status == 200) {
      return new Found(Fetchers.withDeadline(response.body(), timeout, "GET " + response.uri()),
          response.headers().firstValue("ETag"));
    }
    response.body().close();
    if (status == 304 && ifNoneMatch.isPresent()) {
      return new NotModified();
    }
    if (status == 404 || status == 410) {
      return new NotFound();
    }
    if (status == 403 && NEXT_ROOT.matcher(path).matches()) {
      // An S3 bucket (and mirrors like it) that does not let readers list answers 403 for a missing object.
      // The next root is missing on almost every check (TUF 5.3.3 asks for it to learn there is none), so
      // such a feed would never refresh; python-tuf reads 403 there as not found too. It gives an attacker
      // nothing a 404 would not. Anywhere else 403 stays a failure: those files must exist and be readable.
      return new NotFound();
    }
    throw new IOException("GET " + response.uri() + ": expected HTTP 200 but found " + status);
  }

  /** Percent-encodes each segment so that a target name cannot change the request's meaning. */
  static String encode(String path) {
    StringJoiner joined = new StringJoiner("/");
    for (String segment : path.split("/", -1)) {
      joined.add(URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20"));
    }
    return joined.toString();
  }
}
