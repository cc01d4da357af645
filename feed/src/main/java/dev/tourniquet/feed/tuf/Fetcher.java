package dev.tourniquet.feed.tuf;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;
import java.util.Optional;

/**
 * Where the client gets repository files from: an HTTP mirror, a local directory, an offline bundle
 * (see {@link Fetchers}), or anything else. A fetcher only transports bytes; it is not trusted. The client
 * caps how much it reads from every response and verifies everything it reads.
 *
 * <p>Paths are relative to the repository base and use {@code /}: {@code "2.root.json"},
 * {@code "timestamp.json"}, {@code "3.snapshot.json"}, {@code "targets/<sha256>.M1.json"}.
 */
public interface Fetcher {

  /**
   * Fetches one file.
   *
   * @param path the path relative to the repository base
   * @param ifNoneMatch the entity tag of the copy the client already trusts; a fetcher that supports
   *     conditional requests answers {@link NotModified} when the file has not changed, others ignore it
   * @return the file, or why there is none
   * @throws IOException if the repository could not be reached or answered with an error other than
   *     "not found" (a transient failure worth retrying)
   */
  Response fetch(String path, Optional<String> ifNoneMatch) throws IOException;

  /** The outcome of a fetch. */
  sealed interface Response permits Found, NotFound, NotModified {}

  /**
   * The file exists; the client reads its body up to a cap and closes it.
   *
   * @param body the file's bytes
   * @param etag the entity tag to send back with a later conditional request, if any
   */
  record Found(InputStream body, Optional<String> etag) implements Response, Closeable {
    /**
     * Validates the fields.
     *
     * @throws NullPointerException if a field is null
     */
    public Found {
      Objects.requireNonNull(body, "body");
      Objects.requireNonNull(etag, "etag");
    }

    /**
     * Closes the body, abandoning any unread rest of it.
     *
     * @throws IOException if closing fails
     */
    @Override
    public void close() throws IOException {
      body.close();
    }
  }

  /** The file does not exist on the repository (for HTTP: 404 or 410). */
  record NotFound() implements Response {}

  /** The file is unchanged since the copy whose entity tag was sent (for HTTP: 304). */
  record NotModified() implements Response {}
}
