package dev.tourniquet.servlet;

import dev.tourniquet.rules.RequestException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Turns a raw request path into the decoded path that {@link PathPrefix}es are compared with, or refuses
 * it. Ambiguous paths are refused, not normalised, because a container, a proxy in front of it and the
 * application may each normalise differently, and a prefix check that normalises one way while the
 * container routes another is how a disabled endpoint is reached anyway ({@code /ecp/..;/ecp/x},
 * {@code /owa%2F..%2Fecp}). This follows the "suspicious sequences" of Servlet 6.0 §3.5.2 and Spring
 * Security's {@code StrictHttpFirewall}.
 *
 * <p>Refused (400): a path not starting with {@code /}; an empty segment ({@code //}); a {@code .} or
 * {@code ..} segment, raw or encoded; a raw or encoded backslash; an encoded {@code /}; an encoded or raw
 * control character; malformed percent-encoding or UTF-8. Path parameters ({@code ;jsessionid=…}) are
 * removed from each segment, as the container does when it maps the request.
 */
final class RequestPath {
  private RequestPath() {}

  /**
   * Decodes and checks a raw path.
   *
   * @param raw the path as on the wire, without the query
   * @return the decoded path; a trailing {@code /} is kept
   * @throws RequestException with status 400 if the path is ambiguous or malformed
   */
  static String of(String raw) {
    if (!raw.startsWith("/")) {
      throw refuse(raw, "expected a path starting with '/'");
    }
    if (raw.indexOf('\\') >= 0) {
      throw refuse(raw, "expected no backslash");
    }
    String[] segments = raw.substring(1).split("/", -1);
    StringBuilder out = new StringBuilder(raw.length());
    for (int i = 0; i < segments.length; i++) {
      String segment = segments[i];
      int semi = segment.indexOf(';');
      if (semi >= 0) {
        segment = segment.substring(0, semi);
      }
      String decoded = decode(segment, raw);
      boolean last = i == segments.length - 1;
      if (decoded.isEmpty() && !last && !(semi >= 0)) {
        throw refuse(raw, "expected no empty segment ('//')");
      }
      if (decoded.isEmpty() && semi >= 0) {
        throw refuse(raw, "expected no segment made only of path parameters");
      }
      if (decoded.equals(".") || decoded.equals("..")) {
        throw refuse(raw, "expected no '" + decoded + "' segment");
      }
      for (int c = 0; c < decoded.length(); c++) {
        char ch = decoded.charAt(c);
        if (ch == '/' || ch == '\\') {
          throw refuse(raw, "expected no encoded '" + ch + "'");
        }
        if (ch < 0x20 || ch == 0x7f) {
          throw refuse(raw, String.format(Locale.ROOT, "expected no control character but found U+%04X", (int) ch));
        }
      }
      out.append('/').append(decoded);
    }
    return out.toString();
  }

  private static String decode(String segment, String raw) {
    if (segment.indexOf('%') < 0) {
      return segment;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(segment.length());
    for (int i = 0; i < segment.length(); i++) {
      char c = segment.charAt(i);
      if (c != '%') {
        byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
        bytes.write(b, 0, b.length);
        continue;
      }
      int hi = i + 2 < segment.length() ? Character.digit(segment.charAt(i + 1), 16) : -1;
      int lo = hi >= 0 ? Character.digit(segment.charAt(i + 2), 16) : -1;
      if (hi < 0 || lo < 0) {
        throw refuse(raw, "expected '%' to be followed by two hex digits");
      }
      bytes.write(hi * 16 + lo);
      i += 2;
    }
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes.toByteArray()))
          .toString();
    } catch (CharacterCodingException e) {
      throw refuse(raw, "expected UTF-8 after percent-decoding");
    }
  }

  private static RequestException refuse(String raw, String expected) {
    String shown = raw.length() > 200 ? raw.substring(0, 200) + "…" : raw;
    return new RequestException("ambiguous request path '" + shown + "': " + expected, 400);
  }
}
