package dev.tourniquet.servlet;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A strict JSON reader and a writer, just enough for the enforcement and hits files, so that the filter
 * adds no JSON library to the application it protects. Objects read as {@link LinkedHashMap}, arrays as
 * {@link List}, numbers as {@link Long} (fractions and exponents are refused: no value in these files has
 * one), and {@code true}, {@code false}, {@code null} as themselves. Duplicate keys, trailing commas,
 * comments, leading zeros and nesting deeper than {@link #MAX_DEPTH} are syntax errors.
 */
final class Json {
  /** Deeper nesting is refused, so a hostile file cannot exhaust the stack. */
  static final int MAX_DEPTH = 64;

  private final String text;
  private int pos;

  private Json(String text) {
    this.text = text;
  }

  /** A text that is not JSON, with its line and column. */
  static final class SyntaxError extends Exception {
    SyntaxError(String message) {
      super(message);
    }
  }

  static Object parse(String text) throws SyntaxError {
    Json p = new Json(text);
    p.skipSpace();
    Object value = p.value(0);
    p.skipSpace();
    if (p.pos < text.length()) {
      throw p.error("expected the end of the text but found " + p.describe());
    }
    return value;
  }

  private Object value(int depth) throws SyntaxError {
    if (depth > MAX_DEPTH) {
      throw error(String.format(Locale.ROOT, "expected at most %d levels of nesting but found more", MAX_DEPTH));
    }
    if (pos >= text.length()) {
      throw error("expected a value but found the end of the text");
    }
    char c = text.charAt(pos);
    switch (c) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string();
      case 't':
        return literal("true", Boolean.TRUE);
      case 'f':
        return literal("false", Boolean.FALSE);
      case 'n':
        return literal("null", null);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          return number();
        }
        throw error("expected a value but found " + describe());
    }
  }

  private Map<String, Object> object(int depth) throws SyntaxError {
    pos++;
    Map<String, Object> map = new LinkedHashMap<>();
    skipSpace();
    if (peek('}')) {
      pos++;
      return map;
    }
    while (true) {
      skipSpace();
      if (!peek('"')) {
        throw error("expected a key in double quotes but found " + describe());
      }
      int keyAt = pos;
      String key = string();
      if (map.containsKey(key)) {
        pos = keyAt;
        throw error("duplicate key \"" + key + "\"; expected each key once");
      }
      skipSpace();
      expect(':');
      skipSpace();
      map.put(key, value(depth + 1));
      skipSpace();
      if (peek(',')) {
        pos++;
        continue;
      }
      expect('}');
      return map;
    }
  }

  private List<Object> array(int depth) throws SyntaxError {
    pos++;
    List<Object> list = new ArrayList<>();
    skipSpace();
    if (peek(']')) {
      pos++;
      return list;
    }
    while (true) {
      skipSpace();
      list.add(value(depth + 1));
      skipSpace();
      if (peek(',')) {
        pos++;
        continue;
      }
      expect(']');
      return list;
    }
  }

  private String string() throws SyntaxError {
    pos++;
    StringBuilder sb = new StringBuilder();
    while (true) {
      if (pos >= text.length()) {
        throw error("expected a closing double quote but found the end of the text");
      }
      char c = text.charAt(pos++);
      if (c == '"') {
        return sb.toString();
      }
      if (c < 0x20) {
        pos--;
        throw error(String.format(Locale.ROOT, "expected an escaped control character but found U+%04X", (int) c));
      }
      if (c != '\\') {
        sb.append(c);
        continue;
      }
      if (pos >= text.length()) {
        throw error("expected an escape but found the end of the text");
      }
      char e = text.charAt(pos++);
      switch (e) {
        case '"', '\\', '/' -> sb.append(e);
        case 'b' -> sb.append('\b');
        case 'f' -> sb.append('\f');
        case 'n' -> sb.append('\n');
        case 'r' -> sb.append('\r');
        case 't' -> sb.append('\t');
        case 'u' -> {
          if (pos + 4 > text.length()) {
            throw error("expected four hex digits after \\u but found the end of the text");
          }
          int v = 0;
          for (int i = 0; i < 4; i++) {
            int d = Character.digit(text.charAt(pos + i), 16);
            if (d < 0) {
              pos += i;
              throw error("expected four hex digits after \\u but found " + describe());
            }
            v = v * 16 + d;
          }
          pos += 4;
          sb.append((char) v);
        }
        default -> {
          pos--;
          throw error("expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u but found \\" + e);
        }
      }
    }
  }

  private Long number() throws SyntaxError {
    int start = pos;
    if (peek('-')) {
      pos++;
    }
    int digits = pos;
    while (pos < text.length() && Character.isDigit(text.charAt(pos)) && text.charAt(pos) < 128) {
      pos++;
    }
    if (pos == digits) {
      throw error("expected a digit but found " + describe());
    }
    if (text.charAt(digits) == '0' && pos - digits > 1) {
      pos = digits;
      throw error("expected a number without leading zeros but found " + text.substring(start, Math.min(text.length(), start + 20)));
    }
    if (peek('.') || peek('e') || peek('E')) {
      throw error("expected an integer but found a fraction or exponent in " + text.substring(start, Math.min(text.length(), pos + 10)));
    }
    BigInteger v = new BigInteger(text.substring(start, pos));
    if (v.bitLength() > 63) {
      pos = start;
      throw error("expected an integer that fits in 64 bits but found " + v);
    }
    return v.longValue();
  }

  private Object literal(String word, Object value) throws SyntaxError {
    if (!text.startsWith(word, pos)) {
      throw error("expected a value but found " + describe());
    }
    pos += word.length();
    return value;
  }

  private void expect(char c) throws SyntaxError {
    if (!peek(c)) {
      throw error("expected '" + c + "' but found " + describe());
    }
    pos++;
  }

  private boolean peek(char c) {
    return pos < text.length() && text.charAt(pos) == c;
  }

  private void skipSpace() {
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        return;
      }
      pos++;
    }
  }

  private String describe() {
    if (pos >= text.length()) {
      return "the end of the text";
    }
    int cp = text.codePointAt(pos);
    return cp < 0x20 || cp == 0x7f ? String.format(Locale.ROOT, "U+%04X", cp) : "'" + new String(Character.toChars(cp)) + "'";
  }

  private SyntaxError error(String message) {
    int line = 1;
    int column = 1;
    for (int i = 0; i < pos && i < text.length(); i++) {
      if (text.charAt(i) == '\n') {
        line++;
        column = 1;
      } else {
        column++;
      }
    }
    return new SyntaxError(String.format(Locale.ROOT, "line %d, column %d: %s", line, column, message));
  }

  /** Writes a value built of maps, lists, strings, numbers, booleans and nulls, indented by two spaces. */
  static void write(Object value, StringBuilder out, int indent) {
    if (value == null) {
      out.append("null");
    } else if (value instanceof String s) {
      quote(s, out);
    } else if (value instanceof Number || value instanceof Boolean) {
      out.append(value);
    } else if (value instanceof Map<?, ?> map) {
      if (map.isEmpty()) {
        out.append("{}");
        return;
      }
      out.append("{\n");
      int i = 0;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        out.append("  ".repeat(indent + 1));
        quote((String) e.getKey(), out);
        out.append(": ");
        write(e.getValue(), out, indent + 1);
        out.append(++i < map.size() ? ",\n" : "\n");
      }
      out.append("  ".repeat(indent)).append('}');
    } else if (value instanceof List<?> list) {
      if (list.isEmpty()) {
        out.append("[]");
        return;
      }
      out.append("[\n");
      for (int i = 0; i < list.size(); i++) {
        out.append("  ".repeat(indent + 1));
        write(list.get(i), out, indent + 1);
        out.append(i + 1 < list.size() ? ",\n" : "\n");
      }
      out.append("  ".repeat(indent)).append(']');
    } else {
      throw new IllegalArgumentException("cannot write a " + value.getClass().getName() + " as JSON");
    }
  }

  static String write(Object value) {
    StringBuilder out = new StringBuilder();
    write(value, out, 0);
    return out.append('\n').toString();
  }

  private static void quote(String s, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x7f || c == 0x2028 || c == 0x2029) {
            out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
