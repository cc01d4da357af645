package dev.tourniquet.feed.tuf;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A public key as TUF metadata lists it (TUF section 4.2, KEY), with its key id. Public key files
 * ({@code *.pub.json}) hold exactly this object: {@code {"keytype":"ed25519","scheme":"ed25519",
 * "keyval":{"public":"<64 hex digits>"}}}.
 *
 * @param keytype e.g. {@code ed25519} or {@code ecdsa-sha2-nistp256}
 * @param scheme e.g. {@code ed25519} or {@code ecdsa-sha2-nistp256}
 * @param publicValue {@code keyval.public}: hex for ed25519, PEM for ECDSA
 */
public record VerificationKey(String keytype, String scheme, String publicValue) {

  /**
   * Validates that this client can verify signatures by the key.
   *
   * @throws IllegalArgumentException if the key type or scheme is unsupported or the key does not decode
   */
  public VerificationKey {
    Objects.requireNonNull(keytype, "keytype");
    Objects.requireNonNull(scheme, "scheme");
    Objects.requireNonNull(publicValue, "publicValue");
    KeyInfo info;
    try {
      info = KeyInfo.parse("key", "key", null, toJson(keytype, scheme, publicValue));
    } catch (MalformedMetadataException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
    if (!info.usable()) {
      throw new IllegalArgumentException("public key: " + info.unusableReason());
    }
  }

  /**
   * Returns the TUF key id: the hex SHA-256 of the canonical JSON of the key object.
   *
   * @return the key id
   */
  public String keyId() {
    return KeyInfo.keyId(toJson());
  }

  /**
   * Returns the key object as listed in root metadata.
   *
   * @return the JSON text
   */
  public String json() {
    return new String(Json.writePretty(toJson()), StandardCharsets.UTF_8);
  }

  ObjectNode toJson() {
    return toJson(keytype, scheme, publicValue);
  }

  private static ObjectNode toJson(String keytype, String scheme, String publicValue) {
    ObjectNode key = Json.object();
    key.put("keytype", keytype);
    key.put("scheme", scheme);
    key.putObject("keyval").put("public", publicValue);
    return key;
  }

  /**
   * Parses a key object.
   *
   * @param json the key object text
   * @return the key
   * @throws IllegalArgumentException if the text is not a supported key object
   */
  public static VerificationKey parse(String json) {
    try {
      ObjectNode node = Json.parseObject("key", json.getBytes(StandardCharsets.UTF_8));
      return new VerificationKey(Metadata.requireText("key", "keytype", node.get("keytype")),
          Metadata.requireText("key", "scheme", node.get("scheme")),
          Metadata.requireText("key", "keyval.public", node.path("keyval").get("public")));
    } catch (MalformedMetadataException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /**
   * Reads a public key file.
   *
   * @param file the file
   * @return the key
   * @throws IOException if the file cannot be read
   * @throws IllegalArgumentException if it is a private key file or does not hold a supported key object
   */
  public static VerificationKey read(Path file) throws IOException {
    String text = Files.readString(file, StandardCharsets.UTF_8);
    // A private key file given where its public key belongs: say so, rather than report a PEM block or an
    // encrypted key object as malformed JSON or a key object without keytype.
    if (text.stripLeading().startsWith("-----BEGIN") || text.contains(KeyFiles.FORMAT)) {
      throw new IllegalArgumentException(file + ": expected a public key file but found a private key; give the public"
          + " key written beside it by keys generate (PREFIX.pub.json), and keep the private key where it is");
    }
    try {
      return parse(text);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Writes this key to a public key file (readable by all: it is public), replacing any existing file.
   *
   * @param file the file
   * @throws IOException if the file cannot be written
   */
  public void write(Path file) throws IOException {
    AtomicFiles.write(file, json().getBytes(StandardCharsets.UTF_8), true, false, AtomicFiles.PUBLIC);
  }
}
