package dev.tourniquet.agent.fleet;

import dev.tourniquet.agent.AtomicWrite;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The agent's fleet credential on disk: one line, owner-only permissions, written atomically (temp file,
 * fsync, rename, fsync of the directory). Reading refuses a file that others may read.
 */
final class CredentialFile {
  private CredentialFile() {}

  static void write(Path file, String credential) throws IOException {
    AtomicWrite.write(file, (credential + "\n").getBytes(StandardCharsets.UTF_8)); // owner-only from its creation
  }

  static String read(Path file) throws IOException {
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      if (perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ)) {
        throw new IOException(file + ": the fleet credential must be readable by its owner only (chmod 600) but is "
            + PosixFilePermissions.toString(perms));
      }
    } catch (UnsupportedOperationException e) {
      // not POSIX
    }
    String text = Files.readString(file, StandardCharsets.UTF_8).trim();
    if (text.isEmpty()) {
      throw new IOException(file + ": expected the fleet credential but the file is empty");
    }
    return text;
  }
}
