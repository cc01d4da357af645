package dev.tourniquet.server;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Strict reading of request bodies: one JSON object, no duplicate keys, no trailing data, bounded depth
 * and string length, and no field the endpoint does not know (a misspelt field is an error, never
 * silently ignored). Every error names the body and the field and says what was expected.
 */
final class JsonBodies {
  static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder()
          .maxNestingDepth(16)
          .maxStringLength(64 * 1024)
          .maxNumberLength(32)
          .build())
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build())
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);

  /** Server names: DNS-like host names. */
  static final Pattern SERVER_NAME = Pattern.compile("[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})");
  /** Mitigation ids as the feed allows them (letters, digits, '-', '_', '.'), bounded. */
  static final Pattern MITIGATION_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  /** Label keys. */
  static final Pattern LABEL_KEY = Pattern.compile("[a-z0-9][a-z0-9._-]{0,62}");
  /** User names. */
  static final Pattern USER_NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

  /** The range of times a request may carry: what both databases store and ISO-8601 writes in four digits. */
  static final Instant EARLIEST = Instant.parse("0001-01-01T00:00:00Z");
  static final Instant LATEST = Instant.parse("9999-12-31T23:59:59Z");

  private JsonBodies() {}

  /** Parses a body that must be one JSON object. */
  static Obj parse(String what, byte[] body) throws HttpException {
    JsonNode node;
    try {
      node = MAPPER.readTree(body);
    } catch (JsonProcessingException e) {
      throw HttpException.badRequest("%s: malformed JSON: %s", what, e.getOriginalMessage());
    } catch (IOException e) {
      throw HttpException.badRequest("%s: unreadable JSON: %s", what, e.getMessage());
    }
    if (node == null || node.isMissingNode()) {
      throw HttpException.badRequest("%s: expected a JSON object but found an empty body", what);
    }
    if (!node.isObject()) {
      throw HttpException.badRequest("%s: expected a JSON object but found %s", what, kind(node));
    }
    return new Obj(what, "", (ObjectNode) node);
  }

  static byte[] write(Object value) {
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write JSON: " + e.getMessage(), e);
    }
  }

  static String kind(JsonNode node) {
    if (node.isObject()) {
      return "an object";
    }
    if (node.isArray()) {
      return "an array";
    }
    if (node.isTextual()) {
      return "the string " + quote(node.asText());
    }
    if (node.isNull()) {
      return "null";
    }
    return node.getNodeType().name().toLowerCase(Locale.ROOT) + " " + abbreviate(node.toString());
  }

  /**
   * A value as an error message shows it: in quotes, abbreviated, and with every {@linkplain #invisible
   * invisible} character written as its escape, so the message names it instead of acting on the text around
   * it (a direction override in a refused name made the message itself read differently than it was).
   */
  static String quote(String s) {
    return "\"" + visible(abbreviate(s), true).replace("\"", "\\\"") + "\"";
  }

  /**
   * Whether a character acts on the text around it instead of showing: a control character (C0, DEL, C1)
   * or an invisible format character (Unicode category Cf: direction marks, embeddings, overrides and
   * isolates, the Arabic letter mark, zero-width spaces and joiners). Such characters can make a name or a
   * reason read as something else ("Trojan Source", CVE-2021-42574), or two names look the same.
   */
  static boolean invisible(int codePoint) {
    int type = Character.getType(codePoint);
    return type == Character.CONTROL || type == Character.FORMAT;
  }

  /**
   * The text with every {@linkplain #invisible invisible} character replaced by a visible escape: a
   * backslash, {@code u} and four hex digits (in braces beyond U+FFFF). Tabs and line breaks are kept when
   * {@code escapeLineBreaks} is false: they show as what they are.
   */
  static String visible(String s, boolean escapeLineBreaks) {
    StringBuilder out = null;
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      boolean escape = invisible(cp) && (escapeLineBreaks || (cp != '\t' && cp != '\n' && cp != '\r'));
      if (escape && out == null) {
        out = new StringBuilder(s.length() + 16).append(s, 0, i);
      }
      if (escape) {
        out.append(cp <= 0xFFFF ? String.format(Locale.ROOT, "\\u%04X", cp) : String.format(Locale.ROOT, "\\u{%X}", cp));
      } else if (out != null) {
        out.appendCodePoint(cp);
      }
      i += Character.charCount(cp);
    }
    return out == null ? s : out.toString();
  }

  static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }

  /** A JSON object being read, with the path that names it in messages. */
  static final class Obj {
    private final String what;
    private final String path;
    private final ObjectNode node;

    Obj(String what, String path, ObjectNode node) {
      this.what = what;
      this.path = path;
      this.node = node;
    }

    private String field(String name) {
      return path.isEmpty() ? name : path + "." + name;
    }

    HttpException error(String name, String expected, JsonNode found) {
      return HttpException.badRequest("%s: field \"%s\": expected %s but found %s", what, field(name), expected,
          found == null ? "nothing" : kind(found));
    }

    /** Refuses any field not in the allowed set. */
    Obj only(Set<String> allowed) throws HttpException {
      Iterator<String> names = node.fieldNames();
      while (names.hasNext()) {
        String name = names.next();
        if (!allowed.contains(name)) {
          throw HttpException.badRequest("%s: unknown field \"%s\"; expected %s", what, field(name),
              allowed.isEmpty() ? "no fields (an empty body or {})"
                  : "only " + String.join(", ", new java.util.TreeSet<>(allowed)));
        }
      }
      return this;
    }

    /** Whether the field is there at all, null included. */
    boolean present(String name) {
      return node.has(name);
    }

    boolean has(String name) {
      return node.has(name) && !node.get(name).isNull();
    }

    String string(String name, Pattern pattern, String description) throws HttpException {
      return optString(name, pattern, description).orElseThrow(() -> error(name, description, null));
    }

    Optional<String> optString(String name, Pattern pattern, String description) throws HttpException {
      JsonNode v = node.get(name);
      if (v == null || v.isNull()) {
        return Optional.empty();
      }
      if (!v.isTextual() || !pattern.matcher(v.asText()).matches()) {
        throw error(name, description, v);
      }
      return Optional.of(v.asText());
    }

    String text(String name, int maxLength) throws HttpException {
      return optText(name, maxLength).orElseThrow(() -> error(name, "a string", null));
    }

    Optional<String> optText(String name, int maxLength) throws HttpException {
      JsonNode v = node.get(name);
      if (v == null || v.isNull()) {
        return Optional.empty();
      }
      String expected = "a string of at most " + maxLength + " characters without control characters";
      if (!v.isTextual() || v.asText().length() > maxLength || hasControl(v.asText())) {
        throw error(name, expected, v);
      }
      return Optional.of(v.asText());
    }

    /**
     * Like {@link #optText}, for text people read as a name (labels, notes): also refuses C1 controls and
     * invisible format characters, naming the first one found. Agents' free text (reasons, versions, feed
     * errors) is taken as it comes and shown with such characters escaped.
     */
    Optional<String> optPlainText(String name, int maxLength) throws HttpException {
      JsonNode v = node.get(name);
      if (v == null || v.isNull()) {
        return Optional.empty();
      }
      return Optional.of(plainText(name, v, maxLength));
    }

    private String plainText(String name, JsonNode v, int maxLength) throws HttpException {
      String expected = "a string of at most " + maxLength + " characters without control or invisible formatting"
          + " characters";
      if (!v.isTextual() || v.asText().length() > maxLength) {
        throw error(name, expected, v);
      }
      String text = v.asText();
      for (int i = 0; i < text.length(); ) {
        int cp = text.codePointAt(i);
        if (invisible(cp)) {
          String charName = Character.getName(cp);
          throw HttpException.badRequest("%s: field \"%s\": expected %s but found U+%04X%s at character %d", what,
              field(name), expected, cp, charName == null ? "" : " " + charName, text.codePointCount(0, i) + 1);
        }
        i += Character.charCount(cp);
      }
      return text;
    }

    /** Like {@link #optText} but line breaks and tabs are allowed: error messages from agents. */
    Optional<String> optMessage(String name, int maxLength) throws HttpException {
      JsonNode v = node.get(name);
      if (v == null || v.isNull()) {
        return Optional.empty();
      }
      if (!v.isTextual() || v.asText().length() > maxLength
          || v.asText().chars().anyMatch(c -> (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f)) {
        throw error(name, "a string of at most " + maxLength + " characters", v);
      }
      return Optional.of(v.asText());
    }

    boolean bool(String name) throws HttpException {
      JsonNode v = node.get(name);
      if (v == null || !v.isBoolean()) {
        throw error(name, "true or false", v);
      }
      return v.asBoolean();
    }

    long integer(String name, long min, long max) throws HttpException {
      JsonNode v = node.get(name);
      if (v == null || !v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < min || v.asLong() > max) {
        throw error(name, "a whole number from " + min + " to " + max, v);
      }
      return v.asLong();
    }

    /**
     * An optional time, within the years 1 to 9999: {@link Instant} reads years up to a billion either way,
     * which neither database stores (H2 failed with an internal error, PostgreSQL with a database error).
     */
    Optional<Instant> optInstant(String name) throws HttpException {
      JsonNode v = node.get(name);
      if (v == null || v.isNull()) {
        return Optional.empty();
      }
      String expected = "an ISO-8601 UTC time from " + EARLIEST + " to " + LATEST + " such as 2026-03-01T12:00:00Z";
      if (!v.isTextual()) {
        throw error(name, expected, v);
      }
      Instant t;
      try {
        t = Instant.parse(v.asText());
      } catch (DateTimeParseException e) {
        throw error(name, expected, v);
      }
      if (t.isBefore(EARLIEST) || t.isAfter(LATEST)) {
        throw error(name, expected, v);
      }
      return Optional.of(t);
    }

    /**
     * An object of string values, at most {@code max} entries: keys match the pattern, values are
     * {@linkplain #optPlainText plain text}.
     */
    Map<String, String> stringMap(String name, Pattern keyPattern, String keyDescription, int maxValue, int max)
        throws HttpException {
      JsonNode v = node.get(name);
      if (v == null || v.isNull()) {
        return Map.of();
      }
      if (!v.isObject() || v.size() > max) {
        throw error(name, "an object of at most " + max + " string values", v);
      }
      Map<String, String> out = new LinkedHashMap<>();
      Iterator<Map.Entry<String, JsonNode>> it = v.properties().iterator();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!keyPattern.matcher(e.getKey()).matches()) {
          throw HttpException.badRequest("%s: field \"%s\": expected keys that are %s but found %s", what, field(name),
              keyDescription, quote(e.getKey()));
        }
        out.put(e.getKey(), plainText(name + "." + e.getKey(), e.getValue(), maxValue));
      }
      return out;
    }

    /** An array of objects, at most {@code max}. */
    List<Obj> objects(String name, int max) throws HttpException {
      JsonNode v = node.get(name);
      if (v == null || v.isNull()) {
        return List.of();
      }
      if (!v.isArray() || v.size() > max) {
        throw error(name, "an array of at most " + max + " objects", v);
      }
      List<Obj> out = new ArrayList<>();
      for (int i = 0; i < v.size(); i++) {
        JsonNode item = v.get(i);
        if (!item.isObject()) {
          throw error(name + "[" + i + "]", "an object", item);
        }
        out.add(new Obj(what, field(name) + "[" + i + "]", (ObjectNode) item));
      }
      return out;
    }

    /** An object whose values are whole numbers, e.g. audit hit counters. */
    Map<String, Long> counters(String name, int maxKeyLength, int max) throws HttpException {
      JsonNode v = node.get(name);
      if (v == null || v.isNull()) {
        return Map.of();
      }
      if (!v.isObject() || v.size() > max) {
        throw error(name, "an object of at most " + max + " counters", v);
      }
      Map<String, Long> out = new LinkedHashMap<>();
      Iterator<Map.Entry<String, JsonNode>> it = v.properties().iterator();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().isEmpty() || e.getKey().length() > maxKeyLength || hasControl(e.getKey())) {
          throw HttpException.badRequest("%s: field \"%s\": expected names of 1 to %d characters but found %s", what,
              field(name), maxKeyLength, quote(e.getKey()));
        }
        JsonNode n = e.getValue();
        if (!n.isIntegralNumber() || !n.canConvertToLong() || n.asLong() < 0) {
          throw error(name + "." + e.getKey(), "a whole number of hits, 0 or more", n);
        }
        out.put(e.getKey(), n.asLong());
      }
      return out;
    }
  }

  static boolean hasControl(String s) {
    return s.chars().anyMatch(c -> c < 0x20 || c == 0x7f);
  }
}
