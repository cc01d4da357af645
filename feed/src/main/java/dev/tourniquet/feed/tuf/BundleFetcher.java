package dev.tourniquet.feed.tuf;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * A {@link Fetcher} that serves the files of an offline feed bundle (see
 * {@link FeedRepository#writeBundle(Path)} for the format). The bundle is not trusted: the client
 * verifies every file it reads from it exactly as if fetched over HTTP, and caps how much it reads.
 *
 * <p>A bundle with two entries of the same name, or an entry whose name is not a safe relative path, is
 * refused when opened: such an archive could show different content to different readers.
 */
public final class BundleFetcher implements Fetcher, Closeable {
  /** The name of the bundle's descriptor entry. */
  public static final String DESCRIPTOR = "tourniquet-bundle.json";
  /** The bundle format this version writes and reads. */
  public static final String FORMAT = "tourniquet-feed-bundle/1";

  private final ZipFile zip;
  private final Map<String, ZipEntry> entries;

  private BundleFetcher(ZipFile zip, Map<String, ZipEntry> entries) {
    this.zip = zip;
    this.entries = entries;
  }

  static BundleFetcher open(Path bundle) throws IOException {
    ZipFile zip;
    try {
      zip = new ZipFile(bundle.toFile());
    } catch (ZipException e) {
      throw new IOException(bundle + ": expected a feed bundle (zip) but found " + e.getMessage(), e);
    }
    try {
      Map<String, ZipEntry> entries = new HashMap<>();
      for (ZipEntry entry : Collections.list(zip.entries())) {
        if (entry.isDirectory()) {
          continue;
        }
        String unsafe = Metadata.unsafeTargetPath(entry.getName());
        if (unsafe != null) {
          throw new IOException(bundle + ": expected entries with safe relative names but found " + unsafe);
        }
        if (entries.put(entry.getName(), entry) != null) {
          throw new IOException(bundle + ": expected unique entry names but found " + entry.getName() + " twice");
        }
      }
      if (!entries.containsKey(DESCRIPTOR)) {
        throw new IOException(bundle + ": expected a " + DESCRIPTOR + " entry but found none");
      }
      return new BundleFetcher(zip, Map.copyOf(entries));
    } catch (IOException | RuntimeException e) {
      zip.close();
      throw e;
    }
  }

  /**
   * Serves the bundle entry named by the path.
   *
   * @param path the repository path
   * @param ifNoneMatch ignored: a bundle has no entity tags
   * @return the entry, or {@link NotFound}
   * @throws IOException if the entry cannot be read
   */
  @Override
  public Response fetch(String path, Optional<String> ifNoneMatch) throws IOException {
    ZipEntry entry = path.equals(DESCRIPTOR) ? null : entries.get(path);
    if (entry == null) {
      return new NotFound();
    }
    return new Found(zip.getInputStream(entry), Optional.empty());
  }

  /**
   * Closes the bundle file.
   *
   * @throws IOException if closing fails
   */
  @Override
  public void close() throws IOException {
    zip.close();
  }
}
