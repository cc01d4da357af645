package dev.tourniquet.cli.quickstart;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The quickstart's data directory, made anew at every run: locked against a second quickstart using it,
 * emptied if an earlier quickstart made it, and refused if it holds anything else (it is never someone's
 * files that get deleted).
 */
final class DataDirectory implements AutoCloseable {
  static final String MARKER = "QUICKSTART.txt";
  private static final String LOCK = "quickstart.lock";

  private final Path dir;
  private final FileChannel channel;
  private final FileLock lock;

  private DataDirectory(Path dir, FileChannel channel, FileLock lock) {
    this.dir = dir;
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Claims the directory: creates it, locks it, and empties it.
   *
   * @param dir the directory
   * @return the claimed directory; close it to release the lock
   * @throws QuickstartException if another quickstart holds it, or it holds files a quickstart did not make
   * @throws IOException if it cannot be created or emptied
   */
  static DataDirectory claim(Path dir) throws QuickstartException, IOException {
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new QuickstartException(dir + ": expected a directory for the quickstart's files but found a file; choose"
          + " another one with --data DIR");
    }
    Files.createDirectories(dir);
    List<Path> entries;
    try (Stream<Path> list = Files.list(dir)) {
      entries = list.filter(p -> !p.getFileName().toString().equals(LOCK)).toList();
    }
    if (!entries.isEmpty() && !Files.isRegularFile(dir.resolve(MARKER))) {
      throw new QuickstartException(dir + ": expected an empty directory or one an earlier quickstart made (with "
          + MARKER + ") but found other files; choose another one with --data DIR");
    }
    FileChannel channel = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
    if (lock == null) {
      channel.close();
      throw new QuickstartException(dir + ": another quickstart is running with this directory; stop it first, or"
          + " choose another one with --data DIR");
    }
    try {
      for (Path entry : entries) {
        deleteTree(entry);
      }
      Files.writeString(dir.resolve(MARKER), "Made by `tourniquet quickstart`: its fleet server, demo feed, demo app"
          + " and agent keep their files here.\nThe next quickstart run deletes this directory's contents and starts"
          + " afresh.\n", StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      lock.release();
      channel.close();
      throw e;
    }
    return new DataDirectory(dir, channel, lock);
  }

  Path path() {
    return dir;
  }

  Path resolve(String name) {
    return dir.resolve(name);
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      channel.close();
    }
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
