package dev.tourniquet.feed.tuf;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Canonical JSON in the OLPC / securesystemslib form, the bytes that TUF signs and hashes key ids over
 * (TUF section 4.1). It is <em>not</em> RFC 8785: object keys are sorted by code point, there is no
 * whitespace, strings escape only {@code "} and {@code \} and write every other character raw as UTF-8 —
 * including the newlines of PEM keys — and numbers must be integers.
 *
 * <p>It works on a parsed tree so that fields this code does not know are signed and verified exactly as
 * received (TUF section 4: unknown attributes must be included when verifying signatures).
 */
final class CanonicalJson {
  private CanonicalJson() {}

  /**
   * Encodes a JSON tree canonically.
   *
   * @throws IllegalArgumentException if the tree holds a non-integer number or a string with an unpaired
   *     surrogate, which have no canonical form
   */
  static byte[] encode(JsonNode node) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
    write(node, out);
    return out.toByteArray();
  }

  private static void write(JsonNode node, ByteArrayOutputStream out) {
    switch (node.getNodeType()) {
      case OBJECT -> {
        List<Map.Entry<String, JsonNode>> fields = new ArrayList<>(node.size());
        for (Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator(); it.hasNext(); ) {
          fields.add(it.next());
        }
        fields.sort((a, b) -> compareCodePoints(a.getKey(), b.getKey()));
        out.write('{');
        boolean first = true;
        for (Map.Entry<String, JsonNode> field : fields) {
          if (!first) {
            out.write(',');
          }
          first = false;
          writeString(field.getKey(), out);
          out.write(':');
          write(field.getValue(), out);
        }
        out.write('}');
      }
      case ARRAY -> {
        out.write('[');
        for (int i = 0; i < node.size(); i++) {
          if (i > 0) {
            out.write(',');
          }
          write(node.get(i), out);
        }
        out.write(']');
      }
      case STRING -> writeString(node.textValue(), out);
      case NUMBER -> {
        if (!node.isIntegralNumber()) {
          throw new IllegalArgumentException("expected an integer but found the number " + node.asText()
              + " (canonical JSON has no floating-point numbers)");
        }
        out.writeBytes(node.bigIntegerValue().toString().getBytes(StandardCharsets.US_ASCII));
      }
      case BOOLEAN -> out.writeBytes((node.booleanValue() ? "true" : "false").getBytes(StandardCharsets.US_ASCII));
      case NULL -> out.writeBytes("null".getBytes(StandardCharsets.US_ASCII));
      default -> throw new IllegalArgumentException("expected a JSON value but found " + node.getNodeType());
    }
  }

  private static void writeString(String value, ByteArrayOutputStream out) {
    StringBuilder escaped = new StringBuilder(value.length() + 2).append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == '"' || c == '\\') {
        escaped.append('\\');
      }
      if (Character.isSurrogate(c)) {
        // UTF-8 has no form for an unpaired surrogate (a JSON "\\ud800" parses to one): String.getBytes
        // would write "?", giving two documents one canonical form and so one signature.
        boolean paired = Character.isHighSurrogate(c) && i + 1 < value.length()
            && Character.isLowSurrogate(value.charAt(i + 1));
        if (!paired) {
          throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
              "expected a string of Unicode characters but found the unpaired surrogate U+%04X", (int) c));
        }
        escaped.append(c);
        c = value.charAt(++i);
      }
      escaped.append(c);
    }
    escaped.append('"');
    out.writeBytes(escaped.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** securesystemslib sorts with Python's str ordering, which is by code point, not by UTF-16 unit. */
  static int compareCodePoints(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      int ca = a.codePointAt(i);
      int cb = b.codePointAt(j);
      if (ca != cb) {
        return Integer.compare(ca, cb);
      }
      i += Character.charCount(ca);
      j += Character.charCount(cb);
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }
}
