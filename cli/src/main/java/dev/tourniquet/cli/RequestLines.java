package dev.tourniquet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.rules.Decision;
import dev.tourniquet.rules.Header;
import dev.tourniquet.rules.HttpRequest;
import dev.tourniquet.rules.HttpResponse;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/** The JSON-lines request format of {@code tourniquet rules eval}, read strictly, and its decision output. */
final class RequestLines {
  private static final Set<String> REQUEST_KEYS =
      Set.of("id", "method", "target", "protocol", "headers", "remoteAddr", "https", "serverPort", "response");
  /** What {@code protocol} may be: {@code HTTP/} and a version, as servers report it ({@code HTTP/1.0}, {@code HTTP/2.0}). */
  private static final Pattern PROTOCOL = Pattern.compile("HTTP/[0-9](\\.[0-9])?");

  private RequestLines() {}

  /** A request line that is not a valid request: the message names the field and what is expected. */
  static final class Invalid extends Exception {
    Invalid(String message) {
      super(message, null, false, false);
    }
  }

  static HttpRequest request(JsonNode node) throws Invalid {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!REQUEST_KEYS.contains(key)) {
        throw new Invalid("unknown field \"" + key + "\"; expected only " + REQUEST_KEYS.stream().sorted().toList());
      }
    }
    String method = text(node, "method", "GET");
    if (method.isEmpty() || !method.chars().allMatch(c -> c > 0x20 && c < 0x7F && "()<>@,;:\\\"/[]?={}".indexOf(c) < 0)) {
      throw new Invalid("\"method\" is \"" + method + "\"; expected an HTTP token such as GET");
    }
    String target = text(node, "target", null);
    if (target == null) {
      throw new Invalid("missing \"target\"; expected the raw request-target, such as \"/owa/?x=1\"");
    }
    String protocol = text(node, "protocol", HttpRequest.HTTP_1_1);
    if (!PROTOCOL.matcher(protocol).matches()) {
      throw new Invalid("\"protocol\" is " + node.get("protocol") + "; expected HTTP/ and a version, such as HTTP/1.1 "
          + "(the default) or HTTP/1.0");
    }
    boolean https = bool(node, "https");
    int port = https ? 443 : 80;
    JsonNode p = node.get("serverPort");
    if (p != null) {
      if (!p.isInt() || p.intValue() < 1 || p.intValue() > 65535) {
        throw new Invalid("\"serverPort\" is " + p + "; expected a port from 1 to 65535");
      }
      port = p.intValue();
    }
    return new HttpRequest(method, target, protocol, headers(node.get("headers"), "headers"),
        text(node, "remoteAddr", "127.0.0.1"), https, port);
  }

  static HttpResponse response(JsonNode node) throws Invalid {
    JsonNode r = node.get("response");
    if (r == null || r.isNull()) {
      return null;
    }
    if (!r.isObject()) {
      throw new Invalid("\"response\" is not an object; expected {\"status\":200,\"headers\":[[name,value],…]}");
    }
    JsonNode status = r.get("status");
    if (status == null || !status.isInt() || status.intValue() < 100 || status.intValue() > 999) {
      throw new Invalid("\"response.status\" is " + status + "; expected a status from 100 to 999");
    }
    return new HttpResponse(status.intValue(), headers(r.get("headers"), "response.headers"));
  }

  private static List<Header> headers(JsonNode node, String field) throws Invalid {
    List<Header> headers = new ArrayList<>();
    if (node == null || node.isNull()) {
      return headers;
    }
    if (!node.isArray()) {
      throw new Invalid("\"" + field + "\" is not an array; expected [[name,value],…]");
    }
    int i = 0;
    for (JsonNode pair : node) {
      if (!pair.isArray() || pair.size() != 2 || !pair.get(0).isTextual() || !pair.get(1).isTextual()) {
        throw new Invalid("\"" + field + "[" + i + "]\" is " + pair + "; expected a [name, value] pair of strings");
      }
      String name = pair.get(0).textValue();
      if (name.isEmpty() || !name.chars().allMatch(c -> c > 0x20 && c < 0x7F && c != ':')) {
        throw new Invalid("\"" + field + "[" + i + "]\" has the header name \"" + name + "\"; expected an HTTP token");
      }
      headers.add(new Header(name, pair.get(1).textValue()));
      i++;
    }
    return headers;
  }

  private static String text(JsonNode node, String field, String fallback) throws Invalid {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isTextual()) {
      throw new Invalid("\"" + field + "\" is " + v + "; expected a string");
    }
    return v.textValue();
  }

  private static boolean bool(JsonNode node, String field) throws Invalid {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      return false;
    }
    if (!v.isBoolean()) {
      throw new Invalid("\"" + field + "\" is " + v + "; expected true or false");
    }
    return v.booleanValue();
  }

  /** Writes a decision's fields after the id. */
  static void write(Decision decision, ObjectNode out) {
    out.put("decision", decision.kind());
    if (decision.rule() != null) {
      out.put("rule", decision.rule());
    }
    if (decision instanceof Decision.Respond r) {
      out.put("status", r.status());
      out.put("reason", r.reason());
      if (!r.description().isEmpty()) {
        out.put("description", r.description());
      }
    } else if (decision instanceof Decision.Redirect r) {
      out.put("status", r.status());
      out.put("location", r.location());
    } else if (decision instanceof Decision.Rewrite r) {
      out.put("rewrittenTarget", r.target());
    }
  }
}
