package dev.tourniquet.agent.enforce;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Iterator;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads the small files enforcers keep or find beside a target: bounded, never through a symbolic link, never
 * blocking on a named pipe. The files beside an enforcement file are written by the application, often as a
 * user the agent trusts less; the enforcers' own saved counts are read the same way.
 */
public final class StateFiles {
  private StateFiles() {}

  /**
   * Reads at most {@code max + 1} bytes of a regular file (a longer result means the file is over the limit),
   * without following a symbolic link.
   *
   * @param path the file
   * @param max the most bytes the file may hold
   * @return the bytes read, {@code max + 1} of them if the file holds more than {@code max}
   * @throws NoSuchFileException if there is no such file
   * @throws IOException if it is not a regular file (the message says what it is) or cannot be read
   */
  public static byte[] readUpTo(Path path, int max) throws IOException {
    BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (!attributes.isRegularFile()) {
      throw new IOException(path + ": expected a regular file but found "
          + (attributes.isSymbolicLink() ? "a symbolic link" : attributes.isDirectory() ? "a directory" : "a special file"));
    }
    try (InputStream in = Files.newInputStream(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      return in.readNBytes(max + 1);
    }
  }

  /**
   * Reads a JSON object from a file of at most {@code max} bytes, as {@link #readUpTo} does.
   *
   * @param file the file
   * @param max the most bytes the file may hold
   * @param json the mapper to parse with
   * @return the object, or empty if there is no such file
   * @throws IOException if the file cannot be read, is over the limit, does not parse or is not a JSON object;
   *     the message names the file, what was expected and what was found
   */
  public static Optional<ObjectNode> readObject(Path file, int max, ObjectMapper json) throws IOException {
    byte[] bytes;
    try {
      bytes = readUpTo(file, max);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    if (bytes.length > max) {
      throw new IOException(file + ": expected at most " + max + " bytes but found more");
    }
    JsonNode root;
    try {
      root = json.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw new IOException(file + ": expected JSON but it does not parse: " + e.getOriginalMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IOException(file + ": expected a JSON object but found " + (root == null || root.isMissingNode()
          ? "an empty file" : root.getNodeType().toString().toLowerCase(Locale.ROOT)));
    }
    return Optional.of((ObjectNode) root);
  }

  /**
   * Refuses an object with a field not among those allowed, as a saved file that a later version wrote, or
   * someone edited, would have.
   *
   * @param node the object
   * @param allowed the fields it may have
   * @param prefix where the object is, for the message: {@code ""} for the top level, else e.g. {@code "log."}
   * @throws IllegalArgumentException naming the fields expected and the one found
   */
  public static void requireOnlyFields(JsonNode node, Set<String> allowed, String prefix) {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      if (!allowed.contains(name)) {
        throw new IllegalArgumentException("expected only the fields " + new TreeSet<>(allowed)
            + (prefix.isEmpty() ? "" : " in " + prefix.substring(0, prefix.length() - 1)) + " but found " + prefix + name);
      }
    }
  }
}
