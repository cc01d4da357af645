package dev.tourniquet.server;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One hosted feed: the published directory of a TUF repository, served as static files. The server
 * never verifies or changes them: agents verify every byte against the publisher's keys, so this class
 * only has to serve exactly the files under its root and nothing else.
 *
 * <p>Paths are checked segment by segment before they reach the file system, rejecting rather than
 * normalising anything ambiguous: empty, {@code .} or {@code ..} segments, a decoded {@code /} or
 * {@code \}, control characters, names starting with a dot; and the resolved file's real path (symbolic
 * links followed) must still lie under the root's real path.
 */
final class HostedFeed {
  static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  /** Versioned metadata: {@code N.root.json}, {@code N.snapshot.json}, {@code N.targets.json}. */
  private static final Pattern VERSIONED = Pattern.compile("[1-9][0-9]{0,18}\\.(root|snapshot|targets)\\.json");
  /** A consistent-snapshot target: 64 hex digits of its SHA-256, a dot, its name. */
  private static final Pattern HASH_PREFIXED = Pattern.compile("[0-9a-f]{64}\\..+");
  /** Larger files are refused: a feed is metadata and small documents. */
  static final long MAX_FILE_BYTES = 32L * 1024 * 1024;

  /**
   * A file to serve. {@code content} is null when only the validators were asked for and the file is too
   * large for the cache to keep its bytes; {@code length} is its length in bytes either way.
   */
  record File(byte[] content, long length, String etag, Instant lastModified, boolean immutable,
      String contentType) {
    File withoutContent() {
      return new File(null, length, etag, lastModified, immutable, contentType);
    }
  }

  /** A mitigation revision listed in the feed's current targets metadata. */
  record Listed(String id, int revision) {}

  private final String name;
  private final Path root;
  private final Path realRoot;
  private final FeedFileCache cache;

  HostedFeed(String name, Path root, FeedFileCache cache) throws IOException {
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("feed name: expected letters, digits, '.', '_' or '-' (at most 64) but found \""
          + name + "\"");
    }
    if (!Files.isDirectory(root)) {
      throw new NoSuchFileException(root.toString(), null, "feed " + name + ": expected a directory to serve");
    }
    if (Files.exists(root.resolve("repository.json")) && Files.isDirectory(root.resolve("published"))) {
      throw new IllegalArgumentException("feed " + name + ": " + root + " is a feed repository; serve its published"
          + " directory: " + root.resolve("published"));
    }
    this.name = name;
    this.root = root;
    this.realRoot = root.toRealPath();
    this.cache = cache;
  }

  String name() {
    return name;
  }

  Path root() {
    return root;
  }

  /**
   * Reads a file by its path below the feed, from the cache while the file's identity is unchanged. The path
   * is checked on every call, before the cache is consulted.
   *
   * @param path the file's path, already percent-decoded once (by the router, as every path is), segment by
   *     segment; it is never decoded again, so {@code %2e%2e} here is a file of that name, not {@code ..}
   * @param withContent false when the validators are enough for now: the content is then null for a file
   *     too large for the cache to keep
   * @throws HttpException 400 for an ambiguous or unsafe path, 404 for a missing file, a directory, or a
   *     file outside the root
   */
  File read(List<String> path, boolean withContent) throws HttpException, IOException {
    List<String> segments = checked(path);
    Path candidate = realRoot.resolve(realRoot.getFileSystem().getPath(segments.get(0),
        segments.subList(1, segments.size()).toArray(String[]::new)));
    Path real;
    try {
      real = candidate.toRealPath();
    } catch (NoSuchFileException e) {
      cache.remove(candidate);
      throw HttpException.notFound("feed %s has no file %s", name, String.join("/", segments));
    }
    // Symbolic links are followed, but the target must stay inside the feed.
    if (!real.startsWith(realRoot)) {
      cache.remove(candidate);
      throw HttpException.notFound("feed %s has no file %s", name, String.join("/", segments));
    }
    BasicFileAttributes attrs = Files.readAttributes(real, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (!attrs.isRegularFile()) {
      // No directory listings.
      cache.remove(candidate);
      throw HttpException.notFound("feed %s has no file %s", name, String.join("/", segments));
    }
    if (attrs.size() > MAX_FILE_BYTES) {
      throw new HttpException(500, "feed " + name + ": " + String.join("/", segments) + " is larger than "
          + MAX_FILE_BYTES + " bytes; refusing to serve it");
    }
    // Keyed by the requested path, not the real one: immutability and type follow the name asked for.
    Optional<FeedFileCache.Identity> identity = FeedFileCache.Identity.of(attrs);
    Optional<File> cached = identity.flatMap(id -> cache.get(candidate, id));
    if (cached.isPresent() && (cached.get().content() != null || !withContent)) {
      return cached.get();
    }
    byte[] content = Files.readAllBytes(real);
    String last = segments.get(segments.size() - 1);
    boolean immutable = segments.size() == 1 ? VERSIONED.matcher(last).matches()
        : segments.get(0).equals("targets") && HASH_PREFIXED.matcher(last).matches();
    String type = last.endsWith(".json") ? "application/json" : "application/octet-stream";
    // The ETag is the hash of the bytes served, so it is strong and identical on every replica.
    File file = new File(content, content.length, "\"" + sha256(content).substring(0, 40) + "\"",
        attrs.lastModifiedTime().toInstant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS), immutable, type);
    // Remember it only if the identity still describes what was read: a file written in place while it
    // was read is served as read this once, and read again next time.
    if (identity.isPresent() && content.length == attrs.size() && identity.equals(FeedFileCache.Identity.of(
        Files.readAttributes(real, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)))) {
      cache.put(candidate, identity.get(), file);
    }
    return file;
  }

  /** Checks a decoded path, refusing anything that is not a plain relative file name. */
  static List<String> checked(List<String> path) throws HttpException {
    if (path.isEmpty()) {
      throw HttpException.notFound("expected a file path after the feed name");
    }
    String whole = String.join("/", path);
    for (String s : path) {
      if (s.isEmpty() || s.equals(".") || s.equals("..")) {
        throw HttpException.badRequest("feed path %s: expected file names separated by '/' but found an empty, '.'"
            + " or '..' segment", JsonBodies.quote(whole));
      }
      if (s.indexOf('/') >= 0 || s.indexOf('\\') >= 0 || JsonBodies.hasControl(s) || s.indexOf(':') >= 0) {
        throw HttpException.badRequest("feed path %s: expected plain file names but found %s", JsonBodies.quote(whole),
            JsonBodies.quote(s));
      }
      if (s.startsWith(".")) {
        throw HttpException.notFound("feeds serve no hidden files: %s", JsonBodies.quote(s));
      }
    }
    return List.copyOf(path);
  }

  /** Strict percent-decoding (UTF-8); a malformed escape is an error, never passed through. */
  static String percentDecode(String raw) throws HttpException {
    if (raw.indexOf('%') < 0) {
      return raw;
    }
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    for (int i = 0; i < raw.length(); i++) {
      char ch = raw.charAt(i);
      if (ch == '%') {
        if (i + 2 >= raw.length() || Character.digit(raw.charAt(i + 1), 16) < 0
            || Character.digit(raw.charAt(i + 2), 16) < 0) {
          throw HttpException.badRequest("path segment %s: expected '%%' followed by two hex digits",
              JsonBodies.quote(raw));
        }
        bytes.write(Character.digit(raw.charAt(i + 1), 16) * 16 + Character.digit(raw.charAt(i + 2), 16));
        i += 2;
      } else {
        byte[] b = String.valueOf(ch).getBytes(StandardCharsets.UTF_8);
        bytes.write(b, 0, b.length);
      }
    }
    var decoder = StandardCharsets.UTF_8.newDecoder();
    try {
      return decoder.decode(java.nio.ByteBuffer.wrap(bytes.toByteArray())).toString();
    } catch (java.nio.charset.CharacterCodingException e) {
      throw HttpException.badRequest("path segment %s: expected UTF-8 after percent-decoding", JsonBodies.quote(raw));
    }
  }

  /** The hash of {@code timestamp.json} now, or empty if there is none yet. */
  Optional<String> timestampHash() throws IOException {
    Path file = root.resolve("timestamp.json");
    try {
      return Optional.of(sha256(Files.readAllBytes(file)));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  /**
   * Lists the mitigations of the current targets metadata, following timestamp → snapshot → targets →
   * target files as published. Nothing here is verified (the server holds no keys and trusts its own
   * disk): the list only drives rollouts and the dashboard; agents verify what they apply.
   */
  List<Listed> listMitigations() throws IOException {
    JsonNode timestamp = json("timestamp.json");
    long snapshotVersion = timestamp.path("signed").path("meta").path("snapshot.json").path("version").asLong(0);
    JsonNode snapshot = Files.exists(root.resolve(snapshotVersion + ".snapshot.json"))
        ? json(snapshotVersion + ".snapshot.json") : json("snapshot.json");
    long targetsVersion = snapshot.path("signed").path("meta").path("targets.json").path("version").asLong(0);
    JsonNode targets = Files.exists(root.resolve(targetsVersion + ".targets.json"))
        ? json(targetsVersion + ".targets.json") : json("targets.json");
    List<Listed> out = new ArrayList<>();
    Iterator<Map.Entry<String, JsonNode>> it = targets.path("signed").path("targets").properties().iterator();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String target = e.getKey();
      if (!target.startsWith("mitigations/") || !target.endsWith(".json") || target.indexOf('/', 12) >= 0) {
        continue;
      }
      String file = target.substring("mitigations/".length());
      String hash = e.getValue().path("hashes").path("sha256").asText("");
      Path hashed = root.resolve("targets").resolve("mitigations").resolve(hash + "." + file);
      Path plain = root.resolve("targets").resolve("mitigations").resolve(file);
      Path path = !hash.isEmpty() && Files.isRegularFile(hashed) ? hashed : plain;
      if (!Files.isRegularFile(path) || Files.size(path) > MAX_FILE_BYTES) {
        continue;
      }
      JsonNode doc = JsonBodies.MAPPER.readTree(Files.readAllBytes(path));
      if (doc != null && doc.path("id").isTextual() && doc.path("revision").canConvertToInt()
          && JsonBodies.MITIGATION_ID.matcher(doc.path("id").asText()).matches()) {
        out.add(new Listed(doc.path("id").asText(), doc.path("revision").asInt()));
      }
    }
    return out;
  }

  private JsonNode json(String file) throws IOException {
    Path p = root.resolve(file);
    if (Files.size(p) > MAX_FILE_BYTES) {
      throw new IOException(p + ": larger than " + MAX_FILE_BYTES + " bytes");
    }
    return JsonBodies.MAPPER.readTree(Files.readAllBytes(p));
  }

  static String sha256(byte[] content) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The hosted feeds, sharing one cache of their files. */
  static Map<String, HostedFeed> of(Map<String, Path> feeds, FeedFileCache cache) throws IOException {
    Map<String, HostedFeed> out = new LinkedHashMap<>();
    for (var e : feeds.entrySet()) {
      out.put(e.getKey(), new HostedFeed(e.getKey(), e.getValue(), cache));
    }
    return out;
  }
}
