package dev.tourniquet.feed.tuf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** The exact content (a SHA-256 per file) of a trusted store directory, to prove what a failed update changed. */
record StoreSnapshot(Map<String, String> files) {

  static StoreSnapshot of(Path dir) {
    Map<String, String> files = new TreeMap<>();
    if (!Files.isDirectory(dir)) {
      return new StoreSnapshot(files);
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path file : (Iterable<Path>) walk::iterator) {
        if (Files.isRegularFile(file) && !file.getFileName().toString().equals(".lock")) {
          files.put(dir.relativize(file).toString(), sha256(Files.readAllBytes(file)));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new StoreSnapshot(files);
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
