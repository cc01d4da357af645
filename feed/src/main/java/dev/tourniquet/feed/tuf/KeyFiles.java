package dev.tourniquet.feed.tuf;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.spec.KeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.Set;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Private key files. A private key file is created with owner-only permissions ({@code rw-------}) and
 * never overwrites an existing file. Its content is one of:
 *
 * <ul>
 *   <li><b>Unencrypted:</b> PEM {@code -----BEGIN PRIVATE KEY-----} holding the PKCS#8 v2 (RFC 5958) DER
 *       of the Ed25519 key, which includes the public key; OpenSSL reads it from 3.5 on (3.0 to 3.4
 *       read only PKCS#8 v1 and refuse it).
 *   <li><b>Encrypted with a passphrase:</b> a JSON object
 *       <pre>{@code
 * {"format": "tourniquet-encrypted-private-key/1",
 *  "kdf": "PBKDF2WithHmacSHA256", "iterations": 600000, "salt": "<base64 of 16 random bytes>",
 *  "cipher": "AES-256-GCM", "nonce": "<base64 of 12 random bytes>",
 *  "ciphertext": "<base64 of AES-256-GCM(PKCS#8 v2 DER) followed by its 16-byte tag>"}
 * }</pre>
 *       The AES key is PBKDF2-HMAC-SHA256(passphrase as UTF-8, salt, iterations, 256 bits). The GCM
 *       additional authenticated data is the UTF-8 of {@code format, kdf, iterations, salt, cipher, nonce}
 *       joined by {@code "\n"}, so the parameters cannot be altered without detection.
 * </ul>
 *
 * <p>Reading refuses a private key file that other users can read or write (on file systems with POSIX
 * permissions).
 */
public final class KeyFiles {
  static final String FORMAT = "tourniquet-encrypted-private-key/1";
  static final String KDF = "PBKDF2WithHmacSHA256";
  static final String CIPHER = "AES-256-GCM";
  /** OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256. */
  static final int DEFAULT_ITERATIONS = 600_000;
  static final int MIN_ITERATIONS = 10_000;
  static final int MAX_ITERATIONS = 10_000_000;
  private static final String PEM_LABEL = "PRIVATE KEY";
  private static final SecureRandom RANDOM = new SecureRandom();

  private KeyFiles() {}

  /**
   * Writes a private key file, encrypted if a passphrase is given.
   *
   * @param file the file to create; it must not exist
   * @param key the key
   * @param passphrase the passphrase, or null or empty for an unencrypted file
   * @throws FileAlreadyExistsException if the file exists (keys are never overwritten)
   * @throws IOException if the file cannot be written
   */
  public static void writePrivateKey(Path file, SigningKey key, char[] passphrase) throws IOException {
    writePrivateKey(file, key, passphrase, DEFAULT_ITERATIONS);
  }

  static void writePrivateKey(Path file, SigningKey key, char[] passphrase, int iterations) throws IOException {
    byte[] der = key.pkcs8();
    try {
      byte[] content = passphrase == null || passphrase.length == 0
          ? pem(der)
          : encrypt(der, passphrase, iterations);
      AtomicFiles.write(file, content, true, true, AtomicFiles.OWNER_ONLY);
      restrictIfNotPosix(file);
    } finally {
      Arrays.fill(der, (byte) 0);
    }
  }

  /**
   * Tells whether a private key file is encrypted, so that a caller knows to ask for the passphrase.
   *
   * @param file the key file
   * @return true if it is in the encrypted format
   * @throws IOException if the file cannot be read
   */
  public static boolean isEncrypted(Path file) throws IOException {
    byte[] content = Files.readAllBytes(file);
    return new String(content, StandardCharsets.UTF_8).stripLeading().startsWith("{") && !isPublicKey(content);
  }

  /**
   * Tells whether the bytes are a public key object ({@code keys generate}'s {@code PREFIX.pub.json}). It is
   * JSON as an encrypted private key is, and the options that take a private key are named as those of
   * {@code feed init} that take a public one: without this check, a public key given for a private one
   * was asked a passphrase for, or refused for being readable by others.
   */
  private static boolean isPublicKey(byte[] content) {
    try {
      ObjectNode node = Json.parseObject("key", content);
      return node.has("keyval") && !node.has("ciphertext");
    } catch (MalformedMetadataException e) {
      return false;
    }
  }

  /**
   * Reads a private key file.
   *
   * @param file the key file
   * @param passphrase the passphrase for an encrypted file; ignored for an unencrypted one
   * @return the key
   * @throws InsecureKeyFileException if other users may read or write the file
   * @throws WrongPassphraseException if an encrypted file does not decrypt with the passphrase
   * @throws KeyFileException if the file is a public key file, or in no format this version reads
   * @throws IOException if the file cannot be read
   */
  public static SigningKey readPrivateKey(Path file, char[] passphrase) throws PublisherException, IOException {
    byte[] content = Files.readAllBytes(file);
    if (isPublicKey(content)) {
      throw new KeyFileException(file, "expected a private key file but found a public key file; give the private key"
          + " written beside it by keys generate (PREFIX.key, not PREFIX.pub.json)");
    }
    checkPermissions(file);
    String text = new String(content, StandardCharsets.UTF_8);
    byte[] der;
    if (text.stripLeading().startsWith("{")) {
      der = decrypt(file, content, passphrase);
    } else {
      der = KeyInfo.pemBody(text, PEM_LABEL).orElseThrow(() -> new KeyFileException(file,
          "expected a PEM PRIVATE KEY block or an encrypted key object but found neither"));
    }
    try {
      return SigningKey.fromPkcs8(der);
    } catch (IllegalArgumentException e) {
      throw new KeyFileException(file, e.getMessage());
    } finally {
      Arrays.fill(der, (byte) 0);
    }
  }

  private static byte[] pem(byte[] der) {
    String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
    return ("-----BEGIN " + PEM_LABEL + "-----\n" + body + "\n-----END " + PEM_LABEL + "-----\n")
        .getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] encrypt(byte[] der, char[] passphrase, int iterations) {
    byte[] salt = new byte[16];
    byte[] nonce = new byte[12];
    RANDOM.nextBytes(salt);
    RANDOM.nextBytes(nonce);
    String saltB64 = Base64.getEncoder().encodeToString(salt);
    String nonceB64 = Base64.getEncoder().encodeToString(nonce);
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.ENCRYPT_MODE, deriveKey(passphrase, salt, iterations), new GCMParameterSpec(128, nonce));
      cipher.updateAAD(aad(iterations, saltB64, nonceB64));
      byte[] ciphertext = cipher.doFinal(der);
      ObjectNode file = Json.object();
      file.put("format", FORMAT);
      file.put("kdf", KDF);
      file.put("iterations", iterations);
      file.put("salt", saltB64);
      file.put("cipher", CIPHER);
      file.put("nonce", nonceB64);
      file.put("ciphertext", Base64.getEncoder().encodeToString(ciphertext));
      return Json.writePretty(file);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every JDK has PBKDF2WithHmacSHA256 and AES-GCM", e);
    }
  }

  private static byte[] decrypt(Path file, byte[] content, char[] passphrase) throws PublisherException {
    ObjectNode node;
    String saltB64;
    String nonceB64;
    int iterations;
    byte[] salt;
    byte[] nonce;
    byte[] ciphertext;
    try {
      node = Json.parseObject(file.toString(), content);
      String format = Metadata.requireText("key", "format", node.get("format"));
      if (!FORMAT.equals(format)
          || !KDF.equals(Metadata.requireText("key", "kdf", node.get("kdf")))
          || !CIPHER.equals(Metadata.requireText("key", "cipher", node.get("cipher")))) {
        throw new KeyFileException(file, "expected format " + FORMAT + " with " + KDF + " and " + CIPHER
            + " but found " + node.path("format").asText() + " with " + node.path("kdf").asText() + " and "
            + node.path("cipher").asText());
      }
      long iterationsValue = Metadata.requirePositive("key", "iterations", node.get("iterations"));
      if (iterationsValue < MIN_ITERATIONS || iterationsValue > MAX_ITERATIONS) {
        throw new KeyFileException(file, "iterations: expected " + MIN_ITERATIONS + " to " + MAX_ITERATIONS
            + " but found " + iterationsValue);
      }
      iterations = (int) iterationsValue;
      saltB64 = Metadata.requireText("key", "salt", node.get("salt"));
      nonceB64 = Metadata.requireText("key", "nonce", node.get("nonce"));
      salt = Base64.getDecoder().decode(saltB64);
      nonce = Base64.getDecoder().decode(nonceB64);
      ciphertext = Base64.getDecoder().decode(Metadata.requireText("key", "ciphertext", node.get("ciphertext")));
    } catch (MalformedMetadataException e) {
      throw new KeyFileException(file, e.problem());
    } catch (IllegalArgumentException e) {
      throw new KeyFileException(file, "expected base64 salt, nonce and ciphertext but found " + e.getMessage());
    }
    if (salt.length < 16 || nonce.length != 12) {
      throw new KeyFileException(file, "expected a salt of at least 16 bytes and a 12-byte nonce but found "
          + salt.length + " and " + nonce.length);
    }
    if (passphrase == null || passphrase.length == 0) {
      throw new WrongPassphraseException(file, "expected a passphrase for the encrypted key but found none");
    }
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.DECRYPT_MODE, deriveKey(passphrase, salt, iterations), new GCMParameterSpec(128, nonce));
      cipher.updateAAD(aad(iterations, saltB64, nonceB64));
      return cipher.doFinal(ciphertext);
    } catch (AEADBadTagException e) {
      throw new WrongPassphraseException(file,
          "expected a passphrase that decrypts the key but found one that does not (or the file was altered)");
    } catch (GeneralSecurityException e) {
      throw new KeyFileException(file, "expected an AES-256-GCM ciphertext but found " + e.getMessage());
    }
  }

  private static SecretKeySpec deriveKey(char[] passphrase, byte[] salt, int iterations)
      throws GeneralSecurityException {
    // PBEKeySpec encodes chars as their low 8 bits; the passphrase is therefore first UTF-8 encoded and
    // each byte passed as one char, so that any passphrase, in any script, keeps all its entropy.
    java.nio.ByteBuffer buffer = StandardCharsets.UTF_8.encode(java.nio.CharBuffer.wrap(passphrase));
    byte[] utf8 = new byte[buffer.remaining()];
    buffer.get(utf8);
    if (buffer.hasArray()) {
      Arrays.fill(buffer.array(), (byte) 0);
    }
    char[] bytesAsChars = new char[utf8.length];
    for (int i = 0; i < utf8.length; i++) {
      bytesAsChars[i] = (char) (utf8[i] & 0xff);
    }
    KeySpec spec = new PBEKeySpec(bytesAsChars, salt, iterations, 256);
    try {
      byte[] key = SecretKeyFactory.getInstance(KDF).generateSecret(spec).getEncoded();
      return new SecretKeySpec(key, "AES");
    } finally {
      Arrays.fill(bytesAsChars, '\0');
      Arrays.fill(utf8, (byte) 0);
    }
  }

  private static byte[] aad(int iterations, String salt, String nonce) {
    return String.join("\n", FORMAT, KDF, Integer.toString(iterations), salt, CIPHER, nonce)
        .getBytes(StandardCharsets.UTF_8);
  }

  private static void checkPermissions(Path file) throws IOException, InsecureKeyFileException {
    PosixFileAttributeView view = Files.getFileAttributeView(file, PosixFileAttributeView.class);
    if (view == null) {
      return;
    }
    Set<PosixFilePermission> permissions = view.readAttributes().permissions();
    for (PosixFilePermission p : permissions) {
      if (p.name().startsWith("GROUP") || p.name().startsWith("OTHERS")) {
        throw new InsecureKeyFileException(file, PosixFilePermissions.toString(permissions));
      }
    }
  }

  private static void restrictIfNotPosix(Path file) throws IOException {
    if (Files.getFileAttributeView(file, PosixFileAttributeView.class) != null) {
      return;
    }
    java.nio.file.attribute.AclFileAttributeView acl =
        Files.getFileAttributeView(file, java.nio.file.attribute.AclFileAttributeView.class);
    if (acl == null) {
      throw new IOException(file + ": expected a file system with POSIX permissions or ACLs to protect the key"
          + " but found neither");
    }
    java.nio.file.attribute.UserPrincipal owner = Files.getOwner(file);
    acl.setAcl(java.util.List.of(java.nio.file.attribute.AclEntry.newBuilder()
        .setType(java.nio.file.attribute.AclEntryType.ALLOW)
        .setPrincipal(owner)
        .setPermissions(java.nio.file.attribute.AclEntryPermission.values())
        .build()));
  }
}
