package dev.tourniquet.feed.tuf;

import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Another process holding a file lock, as a second publisher's command would: locks the file given, says
 * {@code locked} on standard output, and holds the lock until its standard input ends.
 */
final class LockHolder {
  private LockHolder() {}

  public static void main(String[] args) throws Exception {
    try (FileChannel channel = FileChannel.open(Path.of(args[0]), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = channel.lock()) {
      System.out.println("locked " + lock.isValid());
      System.out.flush();
      while (System.in.read() >= 0) {
        // holds the lock until the test closes this process's standard input
      }
    }
  }
}
