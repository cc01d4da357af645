package dev.tourniquet.feed.tuf;

import java.nio.file.Path;

/** A key file is not in a format this version reads. */
public final class KeyFileException extends PublisherException {
  private static final long serialVersionUID = 1L;

  private final Path file;

  KeyFileException(Path file, String problem) {
    super(file + ": " + problem);
    this.file = file;
  }

  /**
   * Returns the key file.
   *
   * @return the file
   */
  public Path file() {
    return file;
  }
}
