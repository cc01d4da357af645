package dev.tourniquet.servlet;

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
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Replaces a file so that a reader sees either the old bytes or the new ones, never a mix, and the new
 * ones survive a crash: write a temporary file in the same directory, fsync it, rename it over the target
 * with {@code ATOMIC_MOVE}, then fsync the directory so the rename itself is durable.
 *
 * <p>The files written here (the enforcement file, the filter's acknowledgement and hit counters) are
 * readable by everyone ({@code rw-r--r--} on POSIX, whatever the umask): the agent and the application
 * usually run as different users, each reading what the other writes, and none of them holds a secret
 * (the mitigations are published).
 */
final class AtomicFiles {
  private static final Set<PosixFilePermission> READABLE = PosixFilePermissions.fromString("rw-r--r--");
  private static final int NAME_ATTEMPTS = 100;

  private AtomicFiles() {}

  static void write(Path target, byte[] bytes) throws IOException {
    Path absolute = target.toAbsolutePath();
    Path dir = absolute.getParent();
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir); // only when missing: an existing one would cost a failed mkdir and an exception
    }
    Temporary created = Temporary.create(dir, absolute.getFileName().toString());
    Path temp = created.path();
    try {
      try (FileChannel ch = created.channel()) {
        if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
          setPermissions(temp, READABLE); // a chmod: not narrowed by the umask
        }
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

  /**
   * Sets a file's permissions without following a link (an open with {@code O_NOFOLLOW}, then {@code
   * fchmod}). The enforcement file's directory is shared with the application's user, who could put a link
   * in place of the temporary file between its creation and the chmod: a chmod by path, run as root, would
   * then make any file it points to (say {@code /etc/shadow}) readable by everyone.
   *
   * @throws IOException if the path is a link, or not a regular file, or cannot be changed
   */
  static void setPermissions(Path file, Set<PosixFilePermission> permissions) throws IOException {
    if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
      // A FIFO would block the open below; a link is refused by it anyway.
      throw new IOException(file + ": expected the temporary file just created but found something else in its place");
    }
    Files.getFileAttributeView(file, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setPermissions(permissions);
  }

  /** A new temporary file beside the target, open for writing. */
  private record Temporary(Path path, FileChannel channel) {
    /**
     * Creates it with one open that refuses an existing name (O_EXCL: never someone else's file or link),
     * where {@link Files#createTempFile} and a second open would take two.
     */
    static Temporary create(Path dir, String name) throws IOException {
      for (int attempt = 1; ; attempt++) {
        String random = Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36);
        Path path = dir.resolve("." + name + "." + random + ".tmp");
        try {
          return new Temporary(path, FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
        } catch (FileAlreadyExistsException e) {
          if (attempt >= NAME_ATTEMPTS) {
            throw e;
          }
        }
      }
    }
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
