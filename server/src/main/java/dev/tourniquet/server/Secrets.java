package dev.tourniquet.server;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Random secrets and their stored form. Every secret is 256 random bits, base64url, behind a short prefix
 * that says what it is ({@code tqe_} enrolment token, {@code tqa_} agent credential, {@code tqu_} user
 * token, {@code tqs_} dashboard session, {@code tqc_} its CSRF token, {@code tql_} a login form's token) so
 * that a leaked one is recognised by secret scanners and in logs.
 * Only the SHA-256 of a secret is stored: for a uniformly random 256-bit value a fast hash is enough, a
 * slow password hash would add nothing.
 */
final class Secrets {
  static final String ENROLMENT = "tqe_";
  static final String AGENT = "tqa_";
  static final String USER = "tqu_";
  static final String SESSION = "tqs_";
  static final String CSRF = "tqc_";
  static final String LOGIN = "tql_";

  private static final SecureRandom RANDOM = new SecureRandom();

  private Secrets() {}

  /** A new secret: the prefix, then 32 random bytes in base64url without padding. */
  static String newSecret(String prefix) {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    return prefix + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** A new opaque identifier: 16 random bytes in hex. */
  static String newId() {
    byte[] bytes = new byte[16];
    RANDOM.nextBytes(bytes);
    return HexFormat.of().formatHex(bytes);
  }

  /** The stored form of a secret: lowercase hex SHA-256 of its UTF-8 bytes. */
  static String hash(String secret) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }

  /**
   * Whether a presented value has the shape of a secret with this prefix; anything else is refused before
   * a database lookup.
   */
  static boolean looksLike(String prefix, String value) {
    return value != null && value.length() == prefix.length() + 43 && value.startsWith(prefix)
        && value.chars().skip(prefix.length()).allMatch(c -> (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_');
  }

  /** Constant-time comparison of two strings, for CSRF tokens held in a session. */
  static boolean same(String a, String b) {
    return a != null && b != null
        && MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }
}
