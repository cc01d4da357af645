package dev.tourniquet.rules.json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A small, strict JSON (RFC 8259) reader and writer, so that the rules module needs nothing beyond RE2/J
 * and the servlet filter, which reads the agent's enforcement file, adds no JSON library to the
 * application it protects.
 * Objects become {@code LinkedHashMap<String, Object>}, arrays {@code List<Object>}, numbers {@code Long}
 * (the rule format has no fractions), and {@code true}/{@code false}/{@code null} their Java values.
 * Duplicate keys, trailing commas, fractions, leading zeros and nesting deeper than {@link #MAX_DEPTH}
 * are errors that name the line and column.
 */
public final class Json {
  /** Deeper nesting is refused, so that a hostile document cannot exhaust the stack. */
  public static final int MAX_DEPTH = 64;

  private final String text;
  private int pos;

  private Json(String text) {
    this.text = text;
  }

  /** A text that is not JSON, or not JSON this reader accepts; the message gives the line and column. */
  public static final class SyntaxError extends Exception {
    private static final long serialVersionUID = 1L;

    SyntaxError(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * Parses a JSON text.
   *
   * @param text the text
   * @return the value: {@code Map<String, Object>} (in document order), {@code List<Object>}, {@code String},
   *     {@code Long}, {@code Boolean} or {@code null}
   * @throws SyntaxError if the text is not one JSON value, or uses what this reader refuses (duplicate
   *     keys, fractions, exponents, leading zeros, nesting deeper than {@link #MAX_DEPTH})
   */
  public static Object parse(String text) throws SyntaxError {
    Json json = new Json(text);
    json.skipSpace();
    Object value = json.value(0);
    json.skipSpace();
    if (json.pos < text.length()) {
      throw json.error(json.describe() + " after the value", "the end of the text");
    }
    return value;
  }

  private Object value(int depth) throws SyntaxError {
    if (depth > MAX_DEPTH) {
      throw error("more than " + MAX_DEPTH + " levels of nesting", "at most " + MAX_DEPTH);
    }
    if (pos >= text.length()) {
      throw error("the end of the text", "a value");
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
        throw error(describe(), "a value");
    }
  }

  private Map<String, Object> object(int depth) throws SyntaxError {
    pos++;
    Map<String, Object> map = new LinkedHashMap<>();
    skipSpace();
    if (peek() == '}') {
      pos++;
      return map;
    }
    while (true) {
      skipSpace();
      if (peek() != '"') {
        throw error(describe(), "a string key");
      }
      int keyAt = pos;
      String key = string();
      skipSpace();
      expect(':');
      skipSpace();
      Object v = value(depth + 1);
      if (map.containsKey(key)) {
        pos = keyAt;
        throw error("duplicate key \"" + key + "\"", "each key once");
      }
      map.put(key, v);
      skipSpace();
      char c = peek();
      pos++;
      if (c == '}') {
        return map;
      }
      if (c != ',') {
        pos--;
        throw error(describe(), "',' or '}'");
      }
    }
  }

  private List<Object> array(int depth) throws SyntaxError {
    pos++;
    List<Object> list = new ArrayList<>();
    skipSpace();
    if (peek() == ']') {
      pos++;
      return list;
    }
    while (true) {
      skipSpace();
      list.add(value(depth + 1));
      skipSpace();
      char c = peek();
      pos++;
      if (c == ']') {
        return list;
      }
      if (c != ',') {
        pos--;
        throw error(describe(), "',' or ']'");
      }
    }
  }

  private String string() throws SyntaxError {
    pos++;
    StringBuilder out = new StringBuilder();
    while (true) {
      if (pos >= text.length()) {
        throw error("the end of the text", "a closing double quote");
      }
      char c = text.charAt(pos++);
      if (c == '"') {
        return out.toString();
      }
      if (c < 0x20) {
        pos--;
        throw error(String.format(Locale.ROOT, "control character U+%04X in a string", (int) c), "control characters escaped (as \\n or \\u00XX)");
      }
      if (c != '\\') {
        out.append(c);
        continue;
      }
      if (pos >= text.length()) {
        throw error("the end of the text", "an escape sequence");
      }
      char e = text.charAt(pos++);
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.append(e);
          break;
        case 'b':
          out.append('\b');
          break;
        case 'f':
          out.append('\f');
          break;
        case 'n':
          out.append('\n');
          break;
        case 'r':
          out.append('\r');
          break;
        case 't':
          out.append('\t');
          break;
        case 'u': {
          if (pos + 4 > text.length()) {
            throw error("a truncated \\u escape", "four hex digits");
          }
          int v = 0;
          for (int i = 0; i < 4; i++) {
            int d = Character.digit(text.charAt(pos + i), 16);
            if (d < 0 || text.charAt(pos + i) > 'f') {
              throw error("a malformed \\u escape", "four hex digits");
            }
            v = v * 16 + d;
          }
          pos += 4;
          out.append((char) v);
          break;
        }
        default:
          pos--;
          throw error("the unknown escape \\" + e, "one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX");
      }
    }
  }

  private Long number() throws SyntaxError {
    int start = pos;
    if (peek() == '-') {
      pos++;
    }
    int digitsStart = pos;
    while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') {
      pos++;
    }
    int digits = pos - digitsStart;
    if (digits == 0) {
      throw error(describe(), "digits");
    }
    if (digits > 1 && text.charAt(digitsStart) == '0') {
      pos = start;
      throw error("a leading zero", "a whole number without leading zeros");
    }
    if (pos < text.length() && (text.charAt(pos) == '.' || text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
      pos = start;
      throw error("a fraction or exponent", "a whole number");
    }
    if (digits > 18) {
      pos = start;
      throw error("a number too large", "a whole number that fits in 64 bits (at most 18 digits)");
    }
    return Long.parseLong(text.substring(start, pos));
  }

  private Object literal(String word, Object value) throws SyntaxError {
    if (!text.startsWith(word, pos)) {
      throw error(describe(), "a value");
    }
    pos += word.length();
    return value;
  }

  private void expect(char c) throws SyntaxError {
    if (peek() != c) {
      throw error(describe(), "'" + c + "'");
    }
    pos++;
  }

  private char peek() {
    return pos < text.length() ? text.charAt(pos) : '\0';
  }

  private String describe() {
    if (pos >= text.length()) {
      return "the end of the text";
    }
    int cp = text.codePointAt(pos);
    return cp < 0x20 || cp == 0x7f ? String.format(Locale.ROOT, "U+%04X", cp) : "'" + new String(Character.toChars(cp)) + "'";
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

  private SyntaxError error(String what, String expected) {
    int line = 1;
    int column = 1;
    for (int i = 0; i < Math.min(pos, text.length()); i++) {
      if (text.charAt(i) == '\n') {
        line++;
        column = 1;
      } else {
        column++;
      }
    }
    return new SyntaxError(String.format(Locale.ROOT, "line %d, column %d: expected %s but found %s", line, column, expected, what));
  }

  private static void quote(String s, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        default:
          if (c < 0x20 || c == 0x7f || c == 0x2028 || c == 0x2029) {
            out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            out.append(c);
          }
      }
    }
    out.append('"');
  }

  /**
   * Writes a value of the kinds {@link #parse} returns (and {@code Integer}), indented by two spaces per
   * level, followed by a line break.
   *
   * @param value the value
   * @return the JSON text
   * @throws IllegalArgumentException if the value holds anything else
   */
  public static String write(Object value) {
    StringBuilder out = new StringBuilder();
    write(value, out, 0);
    return out.append('\n').toString();
  }

  /**
   * Appends a value of the kinds {@link #parse} returns (and {@code Integer}), indented by two spaces per
   * level, with no line break after it.
   *
   * @param value the value
   * @param out where to append
   * @param indent the nesting level the value starts at
   * @throws IllegalArgumentException if the value holds anything else
   */
  public static void write(Object value, StringBuilder out, int indent) {
    if (value == null) {
      out.append("null");
    } else if (value instanceof String s) {
      quote(s, out);
    } else if (value instanceof Boolean || value instanceof Integer || value instanceof Long) {
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
      throw new IllegalArgumentException("not a JSON value: " + value.getClass());
    }
  }
}
