package dev.tourniquet.feed.tuf;

import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;

/** Lower-case hex, and a lenient decoder that reports bad input instead of throwing. */
final class Hex {
  private static final HexFormat HEX = HexFormat.of();

  private Hex() {}

  static String encode(byte[] bytes) {
    return HEX.formatHex(bytes);
  }

  /** Decodes hex of either case; empty for an empty, odd-length or non-hex string. */
  static Optional<byte[]> decode(String text) {
    if (text.isEmpty() || text.length() % 2 != 0) {
      return Optional.empty();
    }
    for (int i = 0; i < text.length(); i++) {
      // ASCII only: Character.digit also takes other scripts' digits (U+0660, U+FF10), which HexFormat
      // refuses with an unchecked exception, and metadata reaches here before any signature is checked.
      if (!HexFormat.isHexDigit(text.charAt(i))) {
        return Optional.empty();
      }
    }
    return Optional.of(HEX.parseHex(text.toLowerCase(Locale.ROOT)));
  }

  static boolean isLowerHex(String text, int length) {
    if (text.length() != length) {
      return false;
    }
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
        return false;
      }
    }
    return true;
  }
}
