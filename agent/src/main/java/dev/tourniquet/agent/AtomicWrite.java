package dev.tourniquet.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes the agent's files atomically and durably: a temporary file in the same directory, fsync, atomic
 * rename, fsync of the directory (so the rename itself survives a power cut). A reader sees the old file or
 * the new one, never a mix. One implementation for the agent's state, its service records, the nginx
 * include it manages and its fleet credential.
 */
public final class AtomicWrite {
  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
  private static final FileAttribute<?>[] OWNER_ONLY_AT_CREATION = {PosixFilePermissions.asFileAttribute(OWNER_ONLY)};
  private static final int NAME_ATTEMPTS = 100;

  private AtomicWrite() {}

  /** Writes {@code file}, readable and writable by its owner only (on POSIX), creating its directory if missing. */
  public static void write(Path file, byte[] bytes) throws IOException {
    write(file, bytes, OWNER_ONLY);
  }

  /**
   * Writes {@code file} with the given POSIX permissions (ignored elsewhere) whatever the umask: the file is
   * created owner-only and changed with a chmod before any byte is written. Creates its directory if missing.
   */
  public static void write(Path file, byte[] bytes, Set<PosixFilePermission> permissions) throws IOException {
    Path absolute = file.toAbsolutePath();
    Path dir = absolute.getParent();
    ensureDirectory(dir);
    boolean posix = dir.getFileSystem().supportedFileAttributeViews().contains("posix");
    Temporary created = Temporary.create(dir, absolute.getFileName().toString(), posix);
    try {
      try (FileChannel ch = created.channel()) {
        if (posix && !permissions.equals(OWNER_ONLY)) {
          // Not following a link: the directory may be shared with a less trusted user (never chmod by path as root).
          Files.getFileAttributeView(created.path(), PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
              .setPermissions(permissions);
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
          ch.write(buffer);
        }
        ch.force(true);
      }
      Files.move(created.path(), absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      try {
        Files.deleteIfExists(created.path()); // only on failure: once moved there is nothing left to delete
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      if (e instanceof AtomicMoveNotSupportedException) {
        throw new IOException(file + ": the file system cannot rename atomically, so it cannot be written safely", e);
      }
      throw e;
    }
    fsyncDirectory(dir);
  }

  /** A new temporary file beside the target, open for writing. */
  private record Temporary(Path path, FileChannel channel) {
    /**
     * Creates it owner-only with one open that refuses an existing name (O_EXCL: never someone else's file
     * or link), where {@link Files#createTempFile} and a second open to write it would take two.
     */
    static Temporary create(Path dir, String name, boolean posix) throws IOException {
      Set<StandardOpenOption> options = EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      FileAttribute<?>[] attributes = posix ? OWNER_ONLY_AT_CREATION : new FileAttribute<?>[0];
      for (int attempt = 1; ; attempt++) {
        String random = Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36);
        Path path = dir.resolve("." + name + "." + random + ".tmp");
        try {
          return new Temporary(path, FileChannel.open(path, options, attributes));
        } catch (FileAlreadyExistsException e) {
          if (attempt >= NAME_ATTEMPTS) {
            throw e;
          }
        }
      }
    }
  }

  /**
   * Creates a directory and its parents if it is missing. Cheaper than {@link Files#createDirectories}
   * alone when it exists, which is nearly always: that one tries {@code mkdir} first and builds an exception.
   */
  public static void ensureDirectory(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir);
    }
  }

  /** Makes the renames and removals in {@code dir} durable (a no-op on Windows, where they already are). */
  public static void fsyncDirectory(Path dir) throws IOException {
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
