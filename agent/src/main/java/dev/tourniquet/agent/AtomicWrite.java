package dev.tourniquet.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes trusted state atomically: a temporary file in the same directory, fsync, atomic rename, fsync of
 * the directory (so the rename itself survives a power cut). A reader sees the old file or the new one.
 */
final class AtomicWrite {
  private AtomicWrite() {}

  static void write(Path file, byte[] bytes) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    ensureDirectory(dir);
    Path temp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
    try {
      try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
          ch.write(buffer);
        }
        ch.force(true);
      }
      Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      try {
        Files.deleteIfExists(temp); // only on failure: once moved there is nothing left to delete
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      if (e instanceof AtomicMoveNotSupportedException) {
        throw new IOException(file + ": the file system cannot rename atomically, so state cannot be written safely", e);
      }
      throw e;
    }
    fsyncDirectory(dir);
  }

  /**
   * Creates a directory and its parents if it is missing. Cheaper than {@link Files#createDirectories}
   * alone when it exists, which is nearly always: that one tries {@code mkdir} first and builds an exception.
   */
  static void ensureDirectory(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir);
    }
  }

  static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Windows cannot open a directory for fsync; its rename is durable once MoveFileEx returns.
      if (!System.getProperty("os.name", "").startsWith("Windows")) {
        throw e;
      }
    }
  }
}
