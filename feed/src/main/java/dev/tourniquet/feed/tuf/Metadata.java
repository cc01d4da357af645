package dev.tourniquet.feed.tuf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigInteger;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.format.ResolverStyle;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One metadata file as received: its exact bytes, the parsed tree (every field kept, known or not), the
 * canonical bytes of its {@code signed} part — what signatures are verified over — and typed views of the
 * fields the client workflow reads.
 *
 * <p>Parsing is strict (TUF section 4): required fields must be present with the right types, an entry
 * of a {@code targets} object without {@code length} and {@code hashes} is refused while parsing, not when
 * the target is first used, and numbers must be integers. Unknown fields are kept in the tree and so are
 * covered by the canonical bytes.
 */
final class Metadata {
  static final DateTimeFormatter EXPIRES = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss'Z'")
      .withResolverStyle(ResolverStyle.STRICT);
  private static final Pattern SPEC_VERSION = Pattern.compile("(\\d+)\\.(\\d+)(?:\\.(\\d+))?");
  /** Spec versions 1.x.y are read; TUF promises backwards-compatible changes within a major version. */
  static final int SUPPORTED_MAJOR = 1;
  /** Characters Windows does not allow in a file name ({@code :} also names a drive or a data stream). */
  private static final String WINDOWS_RESERVED_CHARACTERS = "<>:\"|?*";
  /** Names Windows gives devices in every directory, with any extension and in any case. */
  private static final Pattern WINDOWS_DEVICE = Pattern.compile(
      "(?:CON|PRN|AUX|NUL|COM[0-9\u00b9\u00b2\u00b3]|LPT[0-9\u00b9\u00b2\u00b3]|CONIN\\$|CONOUT\\$)",
      Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);

  record Sig(String keyId, String sig) {}

  record RoleKeys(List<String> keyIds, int threshold) {
    RoleKeys {
      keyIds = List.copyOf(keyIds);
    }
  }

  record RootInfo(boolean consistentSnapshot, Map<String, KeyInfo> keys, Map<Role, RoleKeys> roles) {
    RootInfo {
      keys = Collections.unmodifiableMap(new LinkedHashMap<>(keys));
      roles = Collections.unmodifiableMap(new EnumMap<>(roles));
    }
  }

  record MetaFile(long version, OptionalLong length, Map<String, String> hashes) {
    MetaFile {
      hashes = Collections.unmodifiableMap(new TreeMap<>(hashes));
    }
  }

  final String file;
  final byte[] bytes;
  final ObjectNode tree;
  final byte[] canonicalSigned;
  final Role role;
  final long version;
  final Instant expires;
  final List<Sig> signatures;
  private final RootInfo root;
  private final Map<String, MetaFile> meta;
  private final Map<String, TargetFile> targets;

  private Metadata(String file, byte[] bytes, ObjectNode tree, byte[] canonicalSigned, Role role, long version,
      Instant expires, List<Sig> signatures, RootInfo root, Map<String, MetaFile> meta,
      Map<String, TargetFile> targets) {
    this.file = file;
    this.bytes = bytes;
    this.tree = tree;
    this.canonicalSigned = canonicalSigned;
    this.role = role;
    this.version = version;
    this.expires = expires;
    this.signatures = signatures;
    this.root = root;
    this.meta = meta;
    this.targets = targets;
  }

  RootInfo root() {
    if (root == null) {
      throw new IllegalStateException(file + " is " + role.typeName() + " metadata, not root");
    }
    return root;
  }

  Map<String, MetaFile> meta() {
    if (meta == null) {
      throw new IllegalStateException(file + " is " + role.typeName() + " metadata, it lists no meta");
    }
    return meta;
  }

  Map<String, TargetFile> targets() {
    if (targets == null) {
      throw new IllegalStateException(file + " is " + role.typeName() + " metadata, not targets");
    }
    return targets;
  }

  boolean expiredAt(Instant now) {
    // TUF 5.3.10 and following: the expiry MUST be higher than the fixed update start time.
    return !expires.isAfter(now);
  }

  /**
   * Parses metadata of the expected role.
   *
   * @throws MalformedMetadataException if the bytes are not well-formed metadata of that role
   */
  static Metadata parse(String file, byte[] bytes, Role expected) throws MalformedMetadataException {
    ObjectNode tree = Json.parseObject(file, bytes);
    JsonNode signedNode = tree.get("signed");
    if (signedNode == null || !signedNode.isObject()) {
      throw new MalformedMetadataException(file, "signed: expected an object but found " + Json.kind(signedNode));
    }
    ObjectNode signed = (ObjectNode) signedNode;
    List<Sig> signatures = parseSignatures(file, tree.get("signatures"));
    byte[] canonical;
    try {
      canonical = CanonicalJson.encode(signed);
    } catch (IllegalArgumentException e) {
      throw new MalformedMetadataException(file, "signed: " + e.getMessage());
    }
    String type = requireText(file, "signed._type", signed.get("_type"));
    if (!type.equals(expected.typeName())) {
      throw new MalformedMetadataException(file, "signed._type: expected \"" + expected.typeName()
          + "\" but found \"" + type + "\"");
    }
    String specVersion = requireText(file, "signed.spec_version", signed.get("spec_version"));
    Matcher spec = SPEC_VERSION.matcher(specVersion);
    if (!spec.matches() || !spec.group(1).equals(String.valueOf(SUPPORTED_MAJOR))) {
      throw new MalformedMetadataException(file, "signed.spec_version: expected 1.x or 1.x.y but found \""
          + specVersion + "\"");
    }
    long version = requirePositive(file, "signed.version", signed.get("version"));
    Instant expires = parseExpires(file, signed.get("expires"));
    RootInfo root = null;
    Map<String, MetaFile> meta = null;
    Map<String, TargetFile> targets = null;
    switch (expected) {
      case ROOT -> root = parseRoot(file, signed);
      case TIMESTAMP -> {
        meta = parseMeta(file, signed.get("meta"));
        if (meta.size() != 1 || !meta.containsKey(Role.SNAPSHOT.fileName())) {
          throw new MalformedMetadataException(file, "signed.meta: expected exactly one entry, snapshot.json,"
              + " but found " + meta.keySet());
        }
      }
      case SNAPSHOT -> meta = parseMeta(file, signed.get("meta"));
      case TARGETS -> targets = parseTargets(file, signed.get("targets"));
      default -> throw new IllegalArgumentException("unknown role " + expected);
    }
    return new Metadata(file, bytes, tree, canonical, expected, version, expires, signatures, root, meta, targets);
  }

  private static List<Sig> parseSignatures(String file, JsonNode node) throws MalformedMetadataException {
    if (node == null || !node.isArray()) {
      throw new MalformedMetadataException(file, "signatures: expected an array but found " + Json.kind(node));
    }
    List<Sig> signatures = new ArrayList<>(node.size());
    for (int i = 0; i < node.size(); i++) {
      JsonNode entry = node.get(i);
      String path = "signatures[" + i + "]";
      if (!entry.isObject()) {
        throw new MalformedMetadataException(file, path + ": expected an object but found " + Json.kind(entry));
      }
      signatures.add(new Sig(requireText(file, path + ".keyid", entry.get("keyid")),
          requireText(file, path + ".sig", entry.get("sig"))));
    }
    return List.copyOf(signatures);
  }

  private static RootInfo parseRoot(String file, ObjectNode signed) throws MalformedMetadataException {
    JsonNode csNode = signed.get("consistent_snapshot");
    boolean consistent = false;
    if (csNode != null) {
      if (!csNode.isBoolean()) {
        throw new MalformedMetadataException(file, "signed.consistent_snapshot: expected a boolean but found "
            + Json.kind(csNode));
      }
      consistent = csNode.booleanValue();
    }
    JsonNode keysNode = signed.get("keys");
    if (keysNode == null || !keysNode.isObject()) {
      throw new MalformedMetadataException(file, "signed.keys: expected an object but found " + Json.kind(keysNode));
    }
    Map<String, KeyInfo> keys = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = keysNode.properties().iterator(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      keys.put(entry.getKey(), KeyInfo.parse(file, "signed.keys." + entry.getKey(), entry.getKey(), entry.getValue()));
    }
    JsonNode rolesNode = signed.get("roles");
    if (rolesNode == null || !rolesNode.isObject()) {
      throw new MalformedMetadataException(file, "signed.roles: expected an object but found " + Json.kind(rolesNode));
    }
    Map<Role, RoleKeys> roles = new EnumMap<>(Role.class);
    for (Role role : Role.values()) {
      String path = "signed.roles." + role.typeName();
      JsonNode roleNode = rolesNode.get(role.typeName());
      if (roleNode == null || !roleNode.isObject()) {
        throw new MalformedMetadataException(file, path + ": expected an object but found " + Json.kind(roleNode));
      }
      JsonNode idsNode = roleNode.get("keyids");
      if (idsNode == null || !idsNode.isArray()) {
        throw new MalformedMetadataException(file, path + ".keyids: expected an array but found " + Json.kind(idsNode));
      }
      List<String> ids = new ArrayList<>();
      Set<String> seen = new HashSet<>();
      for (int i = 0; i < idsNode.size(); i++) {
        String id = requireText(file, path + ".keyids[" + i + "]", idsNode.get(i));
        if (!seen.add(id)) {
          throw new MalformedMetadataException(file, path + ".keyids: expected unique key ids but found " + id
              + " twice");
        }
        ids.add(id);
      }
      long threshold = requirePositive(file, path + ".threshold", roleNode.get("threshold"));
      if (threshold > Integer.MAX_VALUE) {
        throw new MalformedMetadataException(file, path + ".threshold: expected at most " + Integer.MAX_VALUE
            + " but found " + threshold);
      }
      roles.put(role, new RoleKeys(ids, (int) threshold));
    }
    return new RootInfo(consistent, keys, roles);
  }

  private static Map<String, MetaFile> parseMeta(String file, JsonNode node) throws MalformedMetadataException {
    if (node == null || !node.isObject()) {
      throw new MalformedMetadataException(file, "signed.meta: expected an object but found " + Json.kind(node));
    }
    Map<String, MetaFile> meta = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      String path = "signed.meta." + entry.getKey();
      JsonNode value = entry.getValue();
      if (!value.isObject()) {
        throw new MalformedMetadataException(file, path + ": expected an object but found " + Json.kind(value));
      }
      long version = requirePositive(file, path + ".version", value.get("version"));
      OptionalLong length = value.has("length")
          ? OptionalLong.of(requireNonNegative(file, path + ".length", value.get("length")))
          : OptionalLong.empty();
      Map<String, String> hashes = value.has("hashes") ? parseHashes(file, path + ".hashes", value.get("hashes")) : Map.of();
      meta.put(entry.getKey(), new MetaFile(version, length, hashes));
    }
    return Collections.unmodifiableMap(meta);
  }

  private static Map<String, TargetFile> parseTargets(String file, JsonNode node) throws MalformedMetadataException {
    if (node == null || !node.isObject()) {
      throw new MalformedMetadataException(file, "signed.targets: expected an object but found " + Json.kind(node));
    }
    Map<String, TargetFile> targets = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      String name = entry.getKey();
      String path = "signed.targets." + name;
      String unsafe = unsafeTargetPath(name);
      if (unsafe != null) {
        throw new MalformedMetadataException(file, path + ": expected a relative target path of safe segments but"
            + " found " + unsafe);
      }
      JsonNode value = entry.getValue();
      if (!value.isObject()) {
        throw new MalformedMetadataException(file, path + ": expected an object but found " + Json.kind(value));
      }
      if (!value.has("length")) {
        throw new MalformedMetadataException(file, path + ".length: expected an integer but found nothing");
      }
      if (!value.has("hashes")) {
        throw new MalformedMetadataException(file, path + ".hashes: expected an object but found nothing");
      }
      long length = requireNonNegative(file, path + ".length", value.get("length"));
      Map<String, String> hashes = parseHashes(file, path + ".hashes", value.get("hashes"));
      JsonNode custom = value.get("custom");
      if (custom != null && !custom.isObject()) {
        throw new MalformedMetadataException(file, path + ".custom: expected an object but found " + Json.kind(custom));
      }
      targets.put(name, new TargetFile(name, length, hashes,
          custom == null ? null : new String(CanonicalJson.encode(custom), java.nio.charset.StandardCharsets.UTF_8)));
    }
    return Collections.unmodifiableMap(targets);
  }

  private static Map<String, String> parseHashes(String file, String path, JsonNode node)
      throws MalformedMetadataException {
    if (node == null || !node.isObject() || node.isEmpty()) {
      throw new MalformedMetadataException(file, path + ": expected a non-empty object but found " + Json.kind(node));
    }
    Map<String, String> hashes = new TreeMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> entry = it.next();
      String digest = requireText(file, path + "." + entry.getKey(), entry.getValue());
      if (Hex.decode(digest).isEmpty()) {
        throw new MalformedMetadataException(file, path + "." + entry.getKey() + ": expected a hex digest but found \""
            + digest + "\"");
      }
      hashes.put(entry.getKey(), digest);
    }
    return hashes;
  }

  /**
   * Returns why a target path is unsafe to use as a relative file path, or null if it is safe.
   *
   * <p>The agent caches a target as {@code targets/NAME} in its store (TUF 5.7.3) on Linux and on Windows,
   * so a name must be a plain relative path on both, whichever platform checks it: on Windows {@code :}
   * makes {@code C:/x} absolute and {@code C:x} drive-relative (either leaves the store) and opens an
   * alternate data stream after a name; {@code <>"|?*} are not allowed in names; a device name such as
   * {@code CON} or {@code nul.json} is the device in every directory; a trailing dot or space is stripped,
   * so the file is another one than the name says.
   */
  static String unsafeTargetPath(String name) {
    if (name.isEmpty() || name.length() > 1024) {
      return "a path of " + name.length() + " characters";
    }
    if (name.startsWith("/")) {
      return "an absolute path \"" + name + "\"";
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c < 0x20 || c == 0x7f || c == '\\') {
        return "a control character or backslash in \"" + name.replaceAll("\\p{Cntrl}", "?") + "\"";
      }
      if (WINDOWS_RESERVED_CHARACTERS.indexOf(c) >= 0) {
        return "the character '" + c + "', which Windows reserves (" + WINDOWS_RESERVED_CHARACTERS + "), in \""
            + name + "\"";
      }
    }
    for (String segment : name.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        return "an empty, \".\" or \"..\" segment in \"" + name + "\"";
      }
      if (segment.endsWith(".") || segment.endsWith(" ")) {
        return "a segment ending in a dot or a space, which Windows strips, in \"" + name + "\"";
      }
      int dot = segment.indexOf('.');
      String stem = (dot < 0 ? segment : segment.substring(0, dot)).stripTrailing();
      if (WINDOWS_DEVICE.matcher(stem).matches()) {
        return "the Windows device name \"" + stem + "\" as a segment in \"" + name + "\"";
      }
    }
    return null;
  }

  static String requireText(String file, String path, JsonNode node) throws MalformedMetadataException {
    if (node == null || !node.isTextual()) {
      throw new MalformedMetadataException(file, path + ": expected a string but found " + Json.kind(node));
    }
    return node.textValue();
  }

  static long requirePositive(String file, String path, JsonNode node) throws MalformedMetadataException {
    long value = requireInteger(file, path, node, "an integer of at least 1");
    if (value < 1) {
      throw new MalformedMetadataException(file, path + ": expected an integer of at least 1 but found " + value);
    }
    return value;
  }

  static long requireNonNegative(String file, String path, JsonNode node) throws MalformedMetadataException {
    long value = requireInteger(file, path, node, "an integer of at least 0");
    if (value < 0) {
      throw new MalformedMetadataException(file, path + ": expected an integer of at least 0 but found " + value);
    }
    return value;
  }

  private static long requireInteger(String file, String path, JsonNode node, String expected)
      throws MalformedMetadataException {
    if (node == null || !node.isIntegralNumber()) {
      throw new MalformedMetadataException(file, path + ": expected " + expected + " but found " + Json.kind(node));
    }
    BigInteger value = node.bigIntegerValue();
    if (value.bitLength() > 63) {
      throw new MalformedMetadataException(file, path + ": expected " + expected + " that fits 63 bits but found "
          + value);
    }
    return value.longValueExact();
  }

  private static Instant parseExpires(String file, JsonNode node) throws MalformedMetadataException {
    String text = requireText(file, "signed.expires", node);
    try {
      return LocalDateTime.parse(text, EXPIRES).toInstant(ZoneOffset.UTC);
    } catch (DateTimeParseException e) {
      throw new MalformedMetadataException(file, "signed.expires: expected a date-time YYYY-MM-DDTHH:MM:SSZ but"
          + " found \"" + text + "\"");
    }
  }

  static String formatExpires(Instant instant) {
    return EXPIRES.format(LocalDateTime.ofInstant(instant, ZoneOffset.UTC));
  }
}
