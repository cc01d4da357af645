package dev.tourniquet.feed.tuf;

import java.nio.file.Path;

/** A private key file is readable or writable by other users than its owner. */
public final class InsecureKeyFileException extends PublisherException {
  private static final long serialVersionUID = 1L;

  private final Path file;
  private final String permissions;

  InsecureKeyFileException(Path file, String permissions) {
    super(file + ": private key permissions: expected rw------- (owner only) but found " + permissions);
    this.file = file;
    this.permissions = permissions;
  }

  /**
   * Returns the key file.
   *
   * @return the file
   */
  public Path file() {
    return file;
  }

  /**
   * Returns the permissions found, e.g. {@code rw-r--r--}.
   *
   * @return the permissions
   */
  public String permissions() {
    return permissions;
  }
}
