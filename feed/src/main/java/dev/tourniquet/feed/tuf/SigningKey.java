package dev.tourniquet.feed.tuf;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;

/**
 * An ed25519 private key with its public half, as the JDK signs with it ({@code Ed25519}). Create one with
 * {@link #generate()}; store it with {@link KeyFiles}. Root and targets keys belong offline; snapshot and
 * timestamp keys sign automatically and may live on the publishing host.
 */
public final class SigningKey {
  /** PKCS#8 v1 prefix for a raw Ed25519 seed (RFC 8410). */
  private static final byte[] V1_PREFIX = Hex.decode("302e020100300506032b657004220420").orElseThrow();
  /** PKCS#8 v2 (OneAsymmetricKey, RFC 5958) prefix: seed, then {@code [1]} public key. */
  private static final byte[] V2_PREFIX = Hex.decode("3051020101300506032b657004220420").orElseThrow();
  private static final byte[] V2_PUBLIC_TAG = Hex.decode("812100").orElseThrow();

  private final PrivateKey privateKey;
  private final byte[] seed;
  private final VerificationKey verificationKey;

  private SigningKey(PrivateKey privateKey, byte[] seed, VerificationKey verificationKey) {
    this.privateKey = privateKey;
    this.seed = seed;
    this.verificationKey = verificationKey;
  }

  /**
   * Generates a new ed25519 key with the JDK's strong random source.
   *
   * @return the key
   */
  public static SigningKey generate() {
    try {
      KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
      byte[] spki = pair.getPublic().getEncoded();
      byte[] raw = Arrays.copyOfRange(spki, spki.length - 32, spki.length);
      byte[] seed = ((EdECPrivateKey) pair.getPrivate()).getBytes().orElseThrow();
      return new SigningKey(pair.getPrivate(), seed,
          new VerificationKey(KeyInfo.ED25519, KeyInfo.ED25519, Hex.encode(raw)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every JDK 15+ has Ed25519", e);
    }
  }

  /**
   * Returns the public key as metadata lists it.
   *
   * @return the public key
   */
  public VerificationKey verificationKey() {
    return verificationKey;
  }

  /**
   * Returns the TUF key id.
   *
   * @return the key id
   */
  public String keyId() {
    return verificationKey.keyId();
  }

  String signHex(byte[] data) {
    try {
      Signature signature = Signature.getInstance("Ed25519");
      signature.initSign(privateKey);
      signature.update(data);
      return Hex.encode(signature.sign());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("Ed25519 signing failed", e);
    }
  }

  /** PKCS#8 v2 DER, so that the file carries the public key too (the JDK cannot derive it). */
  byte[] pkcs8() {
    byte[] publicRaw = Hex.decode(verificationKey.publicValue()).orElseThrow();
    byte[] der = new byte[V2_PREFIX.length + 32 + V2_PUBLIC_TAG.length + 32];
    System.arraycopy(V2_PREFIX, 0, der, 0, V2_PREFIX.length);
    System.arraycopy(seed, 0, der, V2_PREFIX.length, 32);
    System.arraycopy(V2_PUBLIC_TAG, 0, der, V2_PREFIX.length + 32, V2_PUBLIC_TAG.length);
    System.arraycopy(publicRaw, 0, der, V2_PREFIX.length + 32 + V2_PUBLIC_TAG.length, 32);
    return der;
  }

  /**
   * Reads an Ed25519 PKCS#8 v2 structure and checks that its public key belongs to its private key.
   *
   * @throws IllegalArgumentException if the structure is not that, or the halves do not match
   */
  static SigningKey fromPkcs8(byte[] der) {
    int expectedLength = V2_PREFIX.length + 32 + V2_PUBLIC_TAG.length + 32;
    if (der.length != expectedLength
        || !Arrays.equals(der, 0, V2_PREFIX.length, V2_PREFIX, 0, V2_PREFIX.length)
        || !Arrays.equals(der, V2_PREFIX.length + 32, V2_PREFIX.length + 32 + V2_PUBLIC_TAG.length,
            V2_PUBLIC_TAG, 0, V2_PUBLIC_TAG.length)) {
      throw new IllegalArgumentException("expected an Ed25519 PKCS#8 v2 private key with its public key ("
          + expectedLength + " bytes of DER) but found " + der.length + " bytes of another structure");
    }
    byte[] seed = Arrays.copyOfRange(der, V2_PREFIX.length, V2_PREFIX.length + 32);
    byte[] publicRaw = Arrays.copyOfRange(der, expectedLength - 32, expectedLength);
    byte[] v1 = Arrays.copyOf(V1_PREFIX, V1_PREFIX.length + 32);
    System.arraycopy(seed, 0, v1, V1_PREFIX.length, 32);
    try {
      PrivateKey privateKey = KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(v1));
      SigningKey key = new SigningKey(privateKey, seed,
          new VerificationKey(KeyInfo.ED25519, KeyInfo.ED25519, Hex.encode(publicRaw)));
      byte[] probe = "tourniquet key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      KeyInfo verifier = KeyInfo.parse("key", "key", null, key.verificationKey.toJson());
      if (!verifier.verifies(key.signHex(probe), probe)) {
        throw new IllegalArgumentException("expected the public key of the private key but found another key");
      }
      return key;
    } catch (GeneralSecurityException | MalformedMetadataException e) {
      throw new IllegalArgumentException("Ed25519 private key does not decode: " + e.getMessage(), e);
    }
  }

  /**
   * Describes the key by its public half only.
   *
   * @return {@code ed25519 key <key id>}
   */
  @Override
  public String toString() {
    return "ed25519 key " + keyId();
  }
}
