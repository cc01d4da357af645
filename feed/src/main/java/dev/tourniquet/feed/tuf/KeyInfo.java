package dev.tourniquet.feed.tuf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import org.bouncycastle.math.ec.rfc8032.Ed25519;

/**
 * One public key as listed in root metadata (TUF section 4.2, KEY), with what it takes to verify
 * signatures by it.
 *
 * <p>Supported: {@code ed25519}/{@code ed25519} (keyval.public is the hex of the raw 32-byte key) and ECDSA
 * over P-256 with SHA-256 (keytype {@code ecdsa-sha2-nistp256} or {@code ecdsa}, scheme
 * {@code ecdsa-sha2-nistp256}, keyval.public a PEM SubjectPublicKeyInfo, signatures hex of DER). Any other
 * key parses and is kept but is {@linkplain #usable() unusable}: its signatures never count toward a
 * threshold. So is a key whose listed id is not the id computed from it.
 *
 * <p>Ed25519 signatures are checked with Bouncy Castle's RFC 8032 implementation, not the JDK's: an agent
 * verifies three signatures on every check that finds a new timestamp, and the JDK 17 implementation takes
 * about 0.63 ms per signature where Bouncy Castle's takes about 0.08 ms (JMH, docs/benchmarks.md). Both reject a
 * non-canonical S; the public key's point is decoded and checked once, when the key is read. ECDSA stays
 * with the JDK.
 *
 * <p>The key id is the SHA-256 of the canonical JSON of the key object restricted to the fields the
 * specification defines ({@code keytype}, {@code scheme}, {@code keyval} and the legacy
 * {@code keyid_hash_algorithms}): tools such as tuf-on-ci attach unknown fields to key objects after
 * computing the id.
 */
record KeyInfo(String keyId, String keytype, String scheme, String publicValue, Optional<Verifier> verifier,
    String unusableReason) {

  /** Checks signatures by one decoded public key. */
  sealed interface Verifier {
    boolean verifies(byte[] signature, byte[] data) throws GeneralSecurityException;

    /** The key as an X.509 SubjectPublicKeyInfo. */
    byte[] encoded();
  }

  private record Ed25519Verifier(Ed25519.PublicPoint point, byte[] spki) implements Verifier {
    @Override
    public boolean verifies(byte[] signature, byte[] data) {
      return signature.length == Ed25519.SIGNATURE_SIZE && Ed25519.verify(signature, 0, point, data, 0, data.length);
    }

    @Override
    public byte[] encoded() {
      return spki.clone();
    }
  }

  private record EcdsaVerifier(PublicKey key) implements Verifier {
    @Override
    public boolean verifies(byte[] signature, byte[] data) throws GeneralSecurityException {
      Signature verify = Signature.getInstance("SHA256withECDSA");
      verify.initVerify(key);
      verify.update(data);
      return verify.verify(signature);
    }

    @Override
    public byte[] encoded() {
      return key.getEncoded();
    }
  }

  static final String ED25519 = "ed25519";
  static final String ECDSA_P256 = "ecdsa-sha2-nistp256";
  private static final List<String> ID_FIELDS = List.of("keytype", "scheme", "keyval", "keyid_hash_algorithms");
  /** DER prefix of an X.509 SubjectPublicKeyInfo for a raw Ed25519 key (RFC 8410). */
  private static final byte[] ED25519_SPKI_PREFIX = Hex.decode("302a300506032b6570032100").orElseThrow();

  KeyInfo {
    verifier = verifier == null ? Optional.empty() : verifier;
  }

  boolean usable() {
    return verifier.isPresent();
  }

  /**
   * Reads a key object listed under {@code listedId} (null: not listed, only read).
   *
   * @throws MalformedMetadataException if required fields are missing or of the wrong type
   */
  static KeyInfo parse(String file, String path, String listedId, JsonNode node) throws MalformedMetadataException {
    if (!node.isObject()) {
      throw new MalformedMetadataException(file, path + ": expected a key object but found " + Json.kind(node));
    }
    String keytype = Metadata.requireText(file, path + ".keytype", node.get("keytype"));
    String scheme = Metadata.requireText(file, path + ".scheme", node.get("scheme"));
    JsonNode keyval = node.get("keyval");
    if (keyval == null || !keyval.isObject()) {
      throw new MalformedMetadataException(file, path + ".keyval: expected an object but found " + Json.kind(keyval));
    }
    String publicValue = Metadata.requireText(file, path + ".keyval.public", keyval.get("public"));
    String computedId = keyId(node);
    if (listedId != null && !computedId.equals(listedId)) {
      return new KeyInfo(listedId, keytype, scheme, publicValue, Optional.empty(),
          "key id expected " + computedId + " (sha256 of the canonical key) but found " + listedId);
    }
    return withVerifier(computedId, keytype, scheme, publicValue);
  }

  /** Computes the TUF key id of a key object: sha256 of the canonical JSON of its defined fields. */
  static String keyId(JsonNode key) {
    ObjectNode defined = Json.object();
    for (String field : ID_FIELDS) {
      if (key.has(field)) {
        defined.set(field, key.get(field));
      }
    }
    return Hashes.hex(Hashes.SHA256, CanonicalJson.encode(defined));
  }

  private static KeyInfo withVerifier(String keyId, String keytype, String scheme, String publicValue) {
    try {
      if (ED25519.equals(keytype) && ED25519.equals(scheme)) {
        Optional<byte[]> raw = Hex.decode(publicValue);
        if (raw.isEmpty() || raw.get().length != 32) {
          return unusable(keyId, keytype, scheme, publicValue,
              "ed25519 public key expected 64 hex digits but found " + publicValue.length() + " characters");
        }
        Ed25519.PublicPoint point = Ed25519.validatePublicKeyPartialExport(raw.get(), 0);
        if (point == null) {
          return unusable(keyId, keytype, scheme, publicValue,
              "ed25519 public key does not decode: not the encoding of a point on the curve");
        }
        byte[] spki = Arrays.copyOf(ED25519_SPKI_PREFIX, ED25519_SPKI_PREFIX.length + 32);
        System.arraycopy(raw.get(), 0, spki, ED25519_SPKI_PREFIX.length, 32);
        return new KeyInfo(keyId, keytype, scheme, publicValue, Optional.of(new Ed25519Verifier(point, spki)), "");
      }
      if ((ECDSA_P256.equals(keytype) || "ecdsa".equals(keytype)) && ECDSA_P256.equals(scheme)) {
        Optional<byte[]> der = pemBody(publicValue, "PUBLIC KEY");
        if (der.isEmpty()) {
          return unusable(keyId, keytype, scheme, publicValue,
              "ECDSA public key expected a PEM PUBLIC KEY block but found none");
        }
        PublicKey key = KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(der.get()));
        if (!(key instanceof ECPublicKey ec) || !isP256(ec.getParams())) {
          return unusable(keyId, keytype, scheme, publicValue,
              "scheme ecdsa-sha2-nistp256 expected a P-256 key but found another curve");
        }
        return new KeyInfo(keyId, keytype, scheme, publicValue, Optional.of(new EcdsaVerifier(key)), "");
      }
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      return unusable(keyId, keytype, scheme, publicValue, "public key does not decode: " + e.getMessage());
    }
    return unusable(keyId, keytype, scheme, publicValue,
        "key type " + keytype + " with scheme " + scheme + " is not supported");
  }

  private static KeyInfo unusable(String keyId, String keytype, String scheme, String publicValue, String why) {
    return new KeyInfo(keyId, keytype, scheme, publicValue, Optional.empty(), why);
  }

  private static boolean isP256(ECParameterSpec params) {
    return params.getCurve().getField().getFieldSize() == 256
        && params.getOrder().toString(16).equals(
            "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  }

  static Optional<byte[]> pemBody(String pem, String label) {
    String begin = "-----BEGIN " + label + "-----";
    String end = "-----END " + label + "-----";
    int b = pem.indexOf(begin);
    int e = pem.indexOf(end);
    if (b < 0 || e < b) {
      return Optional.empty();
    }
    String body = pem.substring(b + begin.length(), e).replaceAll("\\s", "");
    try {
      return Optional.of(Base64.getDecoder().decode(body));
    } catch (IllegalArgumentException ex) {
      return Optional.empty();
    }
  }

  /**
   * Verifies a hex signature over data. Anything that does not decode or verify — an empty string, odd or
   * non-hex digits, a malformed DER structure — is simply not a valid signature.
   */
  boolean verifies(String signatureHex, byte[] data) {
    if (verifier.isEmpty()) {
      return false;
    }
    Optional<byte[]> signature = Hex.decode(signatureHex);
    if (signature.isEmpty()) {
      return false;
    }
    try {
      return verifier.get().verifies(signature.get(), data);
    } catch (GeneralSecurityException | RuntimeException e) {
      return false;
    }
  }

  /** The key material, so that one key listed under two ids is still one key. */
  String identity() {
    return verifier.map(k -> Base64.getEncoder().encodeToString(k.encoded()))
        .orElse(keytype + "\n" + scheme + "\n" + publicValue);
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
