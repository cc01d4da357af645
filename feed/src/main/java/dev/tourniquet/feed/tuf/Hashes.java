package dev.tourniquet.feed.tuf;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The hash algorithms TUF metadata may list that this client computes: {@code sha256} and {@code sha512}.
 * Other algorithms listed next to one of these are ignored; a file listing none of these cannot be
 * verified and is refused.
 */
final class Hashes {
  static final String SHA256 = "sha256";
  static final String SHA512 = "sha512";

  private Hashes() {}

  static boolean supported(String algorithm) {
    return SHA256.equals(algorithm) || SHA512.equals(algorithm);
  }

  static String hex(String algorithm, byte[] data) {
    return Hex.encode(digest(algorithm).digest(data));
  }

  static MessageDigest digest(String algorithm) {
    try {
      return MessageDigest.getInstance(switch (algorithm) {
        case SHA256 -> "SHA-256";
        case SHA512 -> "SHA-512";
        default -> throw new IllegalArgumentException("unsupported hash algorithm " + algorithm);
      });
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256 and SHA-512", e);
    }
  }

  /** The first supported algorithm listed, preferring sha256; names a consistent-snapshot target. */
  static Optional<String> preferred(Map<String, String> hashes) {
    if (hashes.containsKey(SHA256)) {
      return Optional.of(SHA256);
    }
    if (hashes.containsKey(SHA512)) {
      return Optional.of(SHA512);
    }
    return Optional.empty();
  }

  /**
   * Checks every supported hash listed against the data.
   *
   * @throws HashMismatchException at the first listed hash that differs
   * @throws MalformedMetadataException if no supported algorithm is listed
   */
  static void verify(String file, String listedBy, String step, Map<String, String> hashes, byte[] data)
      throws HashMismatchException, MalformedMetadataException {
    boolean checked = false;
    for (Map.Entry<String, String> listed : new java.util.TreeMap<>(hashes).entrySet()) {
      if (!supported(listed.getKey())) {
        continue;
      }
      checked = true;
      String expected = listed.getValue().toLowerCase(Locale.ROOT);
      String found = hex(listed.getKey(), data);
      if (!MessageDigest.isEqual(expected.getBytes(java.nio.charset.StandardCharsets.US_ASCII),
          found.getBytes(java.nio.charset.StandardCharsets.US_ASCII))) {
        throw new HashMismatchException(file, listedBy, step, listed.getKey(), expected, found);
      }
    }
    if (!checked) {
      throw new MalformedMetadataException(listedBy, "hashes for " + file
          + ": expected a sha256 or sha512 hash but found only " + hashes.keySet());
    }
  }
}
