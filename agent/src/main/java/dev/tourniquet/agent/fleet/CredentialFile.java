package dev.tourniquet.agent.fleet;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
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
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path temp = dir.resolve(file.getFileName() + ".tmp");
    Files.deleteIfExists(temp);
    try {
      Files.createFile(temp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException e) {
      Files.createFile(temp); // not POSIX: the directory's ACL applies
    }
    try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap((credential + "\n").getBytes(StandardCharsets.UTF_8)));
      ch.force(true);
    }
    Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      // some file systems cannot open a directory for fsync; the rename is still atomic
    }
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
