package dev.tourniquet.feed.mitigation;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Strict JSON reading and the canonical writing of mitigation documents. Reading refuses duplicate keys
 * (two parsers could disagree on which value counts), trailing content and nesting deeper than
 * {@link Fields#MAX_DEPTH}; numbers keep their exact value. Writing is ours rather than Jackson's pretty
 * printer so that the canonical form is fixed here: two-space indentation, {@code "key": value}, one
 * member or element per line, {@code []} and <code>{}</code> when empty, {@code \n} line ends and a final
 * newline, non-ASCII characters as themselves (UTF-8).
 */
final class JsonText {
  static final ObjectMapper MAPPER = JsonMapper.builder(JsonFactory.builder()
          .streamReadConstraints(StreamReadConstraints.builder()
              .maxNestingDepth(Fields.MAX_DEPTH)
              .maxNumberLength(64)
              .maxStringLength(Fields.MAX_DOCUMENT_BYTES)
              .build())
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build())
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      // 403.0 stays 403.0: messages quote a number as written, and a rule set refuses it as a fraction.
      .disable(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
      .build();
  /** Whole numbers the rules' own JSON reader takes: at most 18 digits. */
  private static final BigInteger RULES_INTEGER_BOUND = BigInteger.TEN.pow(18);

  private JsonText() {}

  /** Parses one JSON value, strictly. */
  static JsonNode parse(String text) throws JsonProcessingException {
    return MAPPER.readTree(text);
  }

  /**
   * The value as the rules module's JSON reader builds it ({@code RuleJson.readTree}): maps, lists,
   * strings, booleans, null and {@code Long}; a number that reader would refuse stays as written, a
   * {@code BigDecimal} (fraction or exponent) or a {@code BigInteger} (more than 18 digits), so that the
   * rule set reports it at its path.
   */
  static Object tree(JsonNode node) {
    if (node.isObject()) {
      Map<String, Object> map = new LinkedHashMap<>();
      for (Map.Entry<String, JsonNode> field : node.properties()) {
        map.put(field.getKey(), tree(field.getValue()));
      }
      return map;
    }
    if (node.isArray()) {
      List<Object> list = new ArrayList<>(node.size());
      for (JsonNode item : node) {
        list.add(tree(item));
      }
      return list;
    }
    if (node.isTextual()) {
      return node.textValue();
    }
    if (node.isBoolean()) {
      return node.booleanValue();
    }
    if (node.isIntegralNumber()) {
      BigInteger value = node.bigIntegerValue();
      return value.abs().compareTo(RULES_INTEGER_BOUND) < 0 ? (Object) value.longValue() : value;
    }
    if (node.isNumber()) {
      return node.decimalValue();
    }
    return null;
  }

  /** Writes compact JSON: no whitespace at all. */
  static String compact(JsonNode node) {
    StringBuilder out = new StringBuilder();
    write(node, out, -1);
    return out.toString();
  }

  /** Writes the canonical pretty form, ending with a newline. */
  static String pretty(JsonNode node) {
    StringBuilder out = new StringBuilder();
    write(node, out, 0);
    return out.append('\n').toString();
  }

  /** How many containers deep a value nests: 0 for a scalar, 1 for a flat array or object. */
  static int depth(JsonNode node) {
    int deepest = 0;
    for (JsonNode child : node) {
      deepest = Math.max(deepest, depth(child));
    }
    return node.isContainerNode() ? deepest + 1 : 0;
  }

  /** Writes a value; {@code indent} is the current depth, or -1 for compact output. */
  private static void write(JsonNode node, StringBuilder out, int indent) {
    if (node.isObject()) {
      if (node.isEmpty()) {
        out.append("{}");
        return;
      }
      out.append('{');
      boolean first = true;
      for (Map.Entry<String, JsonNode> field : node.properties()) {
        if (!first) {
          out.append(',');
        }
        first = false;
        newline(out, indent + 1, indent);
        string(field.getKey(), out);
        out.append(indent < 0 ? ":" : ": ");
        write(field.getValue(), out, indent < 0 ? -1 : indent + 1);
      }
      newline(out, indent, indent);
      out.append('}');
    } else if (node.isArray()) {
      if (node.isEmpty()) {
        out.append("[]");
        return;
      }
      out.append('[');
      for (int i = 0; i < node.size(); i++) {
        if (i > 0) {
          out.append(',');
        }
        newline(out, indent + 1, indent);
        write(node.get(i), out, indent < 0 ? -1 : indent + 1);
      }
      newline(out, indent, indent);
      out.append(']');
    } else if (node.isTextual()) {
      string(node.textValue(), out);
    } else if (node.isNumber()) {
      out.append(node.isIntegralNumber() ? node.bigIntegerValue().toString() : node.decimalValue().toString());
    } else if (node.isBoolean()) {
      out.append(node.booleanValue());
    } else {
      out.append("null");
    }
  }

  private static void newline(StringBuilder out, int depth, int indent) {
    if (indent < 0) {
      return;
    }
    out.append('\n');
    for (int i = 0; i < depth; i++) {
      out.append("  ");
    }
  }

  /** Writes a JSON string (RFC 8259 section 7): quote, backslash and control characters escaped. */
  private static void string(String s, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\t' -> out.append("\\t");
        case '\r' -> out.append("\\r");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029') {
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
