package dev.tourniquet.servlet;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Replaces a file so that a reader sees either the old bytes or the new ones, never a mix, and the new
 * ones survive a crash: write a temporary file in the same directory, fsync it, rename it over the target
 * with {@code ATOMIC_MOVE}, then fsync the directory so the rename itself is durable.
 */
final class AtomicFiles {
  private AtomicFiles() {}

  static void write(Path target, byte[] bytes) throws IOException {
    Path absolute = target.toAbsolutePath();
    Path dir = absolute.getParent();
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir); // only when missing: an existing one would cost a failed mkdir and an exception
    }
    Path temp = Files.createTempFile(dir, "." + absolute.getFileName() + ".", ".tmp");
    try {
      try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
          ch.write(buffer);
        }
        ch.force(true);
      }
      Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException | RuntimeException e) {
      try {
        Files.deleteIfExists(temp); // only on failure: once moved there is nothing left to delete
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      if (e instanceof AtomicMoveNotSupportedException) {
        throw new IOException("the file system of " + dir + " cannot rename atomically; expected it to, since a reader must never see a partial file", e);
      }
      throw e;
    }
    fsyncDirectory(dir);
  }

  private static void fsyncDirectory(Path dir) {
    // POSIX makes a rename durable only once the directory is synced. Windows cannot open a directory
    // as a channel; there NTFS journals the rename itself, so the failure is ignored.
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // see above
    }
  }
}
