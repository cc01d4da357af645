package dev.tourniquet.server;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** A complete response: status, content type, body and extra headers. */
record Reply(int status, String contentType, byte[] body, Map<String, String> headers) {

  static Reply json(int status, Object value) {
    return new Reply(status, "application/json", JsonBodies.write(value), Map.of());
  }

  static Reply noContent() {
    return new Reply(204, null, new byte[0], Map.of());
  }

  static Reply error(int status, String message) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("error", message);
    body.put("status", status);
    return json(status, body);
  }

  static Reply html(int status, String html) {
    return new Reply(status, "text/html; charset=utf-8", html.getBytes(StandardCharsets.UTF_8), Map.of());
  }

  static Reply redirect(String location) {
    return new Reply(303, null, new byte[0], Map.of("Location", location));
  }

  Reply with(String header, String value) {
    Map<String, String> h = new LinkedHashMap<>(headers);
    h.put(header, value);
    return new Reply(status, contentType, body, h);
  }
}
