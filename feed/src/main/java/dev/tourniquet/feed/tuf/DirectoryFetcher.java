package dev.tourniquet.feed.tuf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/** {@link Fetcher} over a local directory; see {@link Fetchers#directory(Path)}. */
final class DirectoryFetcher implements Fetcher {
  private final Path root;

  DirectoryFetcher(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  @Override
  public Response fetch(String path, Optional<String> ifNoneMatch) throws IOException {
    if (Metadata.unsafeTargetPath(path) != null) {
      return new NotFound();
    }
    Path file = root.resolve(path).normalize();
    if (!file.startsWith(root) || !Files.isRegularFile(file)) {
      return new NotFound();
    }
    try {
      return new Found(Files.newInputStream(file), Optional.empty());
    } catch (NoSuchFileException e) {
      return new NotFound();
    }
  }
}
