package dev.tourniquet.feed.tuf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
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
 * Replaces a file so that a reader, or the same process after a crash, sees either the old bytes or the
 * new ones, never a mix: write a temporary file in the same directory, fsync it, rename it over the target
 * with {@code ATOMIC_MOVE}, then fsync the directory so that the rename itself is durable.
 */
final class AtomicFiles {
  static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
  /**
   * For files meant to be read by others: a published feed (served by a web server running as another
   * user), a bundle, a public key. A temporary file is created owner-only, so the default would hide them;
   * these are set with a chmod, which the umask (0077 under many service managers) does not narrow.
   */
  static final Set<PosixFilePermission> PUBLIC = PosixFilePermissions.fromString("rw-r--r--");

  private AtomicFiles() {}

  /** Writes durably and atomically, replacing any existing file. */
  static void write(Path target, byte[] bytes) throws IOException {
    write(target, bytes, true, false, null);
  }

  /**
   * Writes atomically.
   *
   * @param durable fsync the file and its directory (trusted state); a cache whose entries are verified
   *     on every read may skip it
   * @param exclusive refuse to replace an existing file
   * @param permissions POSIX permissions for the new file whatever the umask, or null for owner-only
   */
  static void write(Path target, byte[] bytes, boolean durable, boolean exclusive, Set<PosixFilePermission> permissions)
      throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    ensureDirectory(dir);
    Path temp = writeTemporary(target, bytes, durable, permissions);
    try {
      if (exclusive) {
        // A hard link fails if the target exists, and is atomic: no window in which a key is replaced.
        try {
          Files.createLink(target, temp);
        } catch (FileAlreadyExistsException e) {
          throw e;
        } catch (UnsupportedOperationException | IOException e) {
          if (Files.exists(target)) {
            throw new FileAlreadyExistsException(target.toString());
          }
          Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
        }
      } else {
        replace(temp, target);
      }
      if (durable) {
        syncDirectory(dir);
      }
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  /** A new file's bytes written and synced beside it, not yet in its place. */
  record Staged(Path temp, Path target) {
    /** Puts the bytes in place, atomically; durable once the directory is synced. */
    void replace() throws IOException {
      AtomicFiles.replace(temp, target);
    }

    /** Removes the temporary file if it was not put in place. */
    void discard() throws IOException {
      Files.deleteIfExists(temp);
    }
  }

  /**
   * Writes the bytes of {@code target} to a temporary file in its directory, synced if {@code durable}:
   * the first half of {@link #write(Path, byte[])}, for a caller that replaces several files and syncs
   * their directory once. The directory must exist ({@link #ensureDirectory}).
   */
  static Staged stage(Path target, byte[] bytes, boolean durable) throws IOException {
    return new Staged(writeTemporary(target, bytes, durable, null), target);
  }

  /**
   * Writes a file in place, without a temporary file, a rename or a sync, and never through a symbolic link:
   * for a file whose reader checks what it reads, so that torn or stale bytes cost it nothing, and which
   * changes often enough that replacing it (a new file each time) is a cost of its own. Created owner-only.
   *
   * @throws IOException if it cannot be written (e.g. the name is a link or a directory)
   */
  static void overwrite(Path target, byte[] bytes) throws IOException {
    Set<OpenOption> options = Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING, LinkOption.NOFOLLOW_LINKS);
    boolean posix = target.getFileSystem().supportedFileAttributeViews().contains("posix");
    FileAttribute<?>[] attributes = posix ? Temporary.OWNER_ONLY_AT_CREATION : new FileAttribute<?>[0];
    try (FileChannel channel = FileChannel.open(target, options, attributes)) {
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
    }
  }

  private static Path writeTemporary(Path target, byte[] bytes, boolean durable, Set<PosixFilePermission> permissions)
      throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    boolean posix = dir.getFileSystem().supportedFileAttributeViews().contains("posix");
    Temporary created = Temporary.create(dir, target.getFileName().toString(), posix);
    try (FileChannel channel = created.channel()) {
      if (posix && permissions != null && !permissions.equals(OWNER_ONLY)) {
        // A chmod, so that the umask cannot narrow it as it narrows a mode given at creation.
        // Not following a link, whoever else may write to the directory.
        Files.getFileAttributeView(created.path(), PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
            .setPermissions(permissions);
      }
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
      if (durable) {
        channel.force(true);
      }
    } catch (IOException | RuntimeException e) {
      try {
        Files.deleteIfExists(created.path());
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    return created.path();
  }

  /** A new temporary file beside a target, open for writing. */
  private record Temporary(Path path, FileChannel channel) {
    private static final int NAME_ATTEMPTS = 100;
    private static final FileAttribute<?>[] OWNER_ONLY_AT_CREATION = {PosixFilePermissions.asFileAttribute(OWNER_ONLY)};

    /**
     * Creates it owner-only with one open that refuses an existing name (O_EXCL: never someone else's file
     * or link), where {@link Files#createTempFile} and a second open to write it would take two.
     */
    static Temporary create(Path dir, String name, boolean posix) throws IOException {
      Set<StandardOpenOption> options = EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      FileAttribute<?>[] attributes = posix ? OWNER_ONLY_AT_CREATION : new FileAttribute<?>[0];
      for (int attempt = 1; ; attempt++) {
        String random = Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36);
        Path path = dir.resolve(".tmp-" + random + "-" + name);
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

  /** For the directories that hold {@link #PUBLIC} files: others must be able to list and enter them. */
  static final Set<PosixFilePermission> PUBLIC_DIRECTORY = PosixFilePermissions.fromString("rwxr-xr-x");

  /**
   * Makes {@code dir} and every directory between {@code top} and it (both included; {@code dir} must be
   * {@code top} or inside it) exist and, on POSIX, {@code rwxr-xr-x}, set with a chmod so that the umask
   * cannot hide them: a web server running as another user must reach the files in them.
   */
  static void ensurePublicDirectory(Path top, Path dir) throws IOException {
    Path current = top.toAbsolutePath().normalize();
    Path to = dir.toAbsolutePath().normalize();
    if (!to.startsWith(current)) {
      throw new IllegalArgumentException(to + " is not inside " + current);
    }
    boolean posix = current.getFileSystem().supportedFileAttributeViews().contains("posix");
    while (true) {
      ensureDirectory(current);
      if (posix && !Files.getPosixFilePermissions(current).containsAll(PUBLIC_DIRECTORY)) {
        Files.setPosixFilePermissions(current, PUBLIC_DIRECTORY);
      }
      if (current.equals(to)) {
        return;
      }
      current = current.resolve(to.getName(current.getNameCount()));
    }
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

  private static void replace(Path temp, Path target) throws IOException {
    try {
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException("expected a file system with atomic rename but found none at " + target.getParent(), e);
    }
  }

  static void syncDirectory(Path dir) throws IOException {
    try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // Some platforms (Windows) cannot open a directory for syncing; the rename is still atomic there.
      if (isPosix(dir)) {
        throw e instanceof IOException io ? io : new IOException(e);
      }
    }
  }

  private static boolean isPosix(Path dir) {
    try {
      return Files.getFileStore(dir).supportsFileAttributeView("posix");
    } catch (IOException e) {
      return false;
    }
  }
}
