package dev.tourniquet.feed.tuf;

import java.nio.file.Path;

/**
 * An encrypted private key file did not decrypt: the passphrase is wrong, none was given, or the file
 * was altered (AES-GCM authenticates the whole file).
 */
public final class WrongPassphraseException extends PublisherException {
  private static final long serialVersionUID = 1L;

  private final Path file;

  WrongPassphraseException(Path file, String problem) {
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
