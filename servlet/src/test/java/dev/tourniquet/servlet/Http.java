package dev.tourniquet.servlet;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A raw HTTP/1.1 client over a socket, so that tests send request-targets exactly as written and can see
 * a connection closed without a single byte of response.
 */
final class Http {
  private Http() {}

  /**
   * What came back.
   *
   * @param raw every byte received before the server closed the connection, as ISO-8859-1
   */
  record Response(String raw) {
    boolean nothing() {
      return raw.isEmpty();
    }

    int status() {
      // A server may answer an HTTP/1.0 request with either version.
      if (!raw.startsWith("HTTP/1.1 ") && !raw.startsWith("HTTP/1.0 ")) {
        throw new AssertionError("expected a status line but found " + (raw.isEmpty() ? "no response at all" : raw));
      }
      return Integer.parseInt(raw.substring(9, 12));
    }

    /** The values of a header, case-insensitively. */
    List<String> headers(String name) {
      List<String> values = new ArrayList<>();
      String head = raw.substring(0, Math.max(0, raw.indexOf("\r\n\r\n")));
      for (String line : head.split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
          values.add(line.substring(colon + 1).trim());
        }
      }
      return values;
    }

    String header(String name) {
      List<String> values = headers(name);
      return values.isEmpty() ? null : values.get(0);
    }

    String body() {
      int at = raw.indexOf("\r\n\r\n");
      String body = at < 0 ? "" : raw.substring(at + 4);
      if ("chunked".equalsIgnoreCase(header("Transfer-Encoding"))) {
        StringBuilder out = new StringBuilder();
        int pos = 0;
        while (pos < body.length()) {
          int eol = body.indexOf("\r\n", pos);
          int size = Integer.parseInt(body.substring(pos, eol).trim().split(";")[0], 16);
          if (size == 0) {
            break;
          }
          out.append(body, eol + 2, eol + 2 + size);
          pos = eol + 2 + size + 2;
        }
        return out.toString();
      }
      return body;
    }

    @Override
    public String toString() {
      return raw.isEmpty() ? "(connection closed without a response)" : raw;
    }
  }

  static Response get(int port, String target, String... headers) throws IOException {
    StringBuilder request = new StringBuilder();
    request.append("GET ").append(target).append(" HTTP/1.1\r\n");
    request.append("Host: 127.0.0.1:").append(port).append("\r\n");
    for (String h : headers) {
      request.append(h).append("\r\n");
    }
    request.append("Connection: close\r\n\r\n");
    return send(port, request.toString());
  }

  static Response send(int port, String request) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      socket.setSoTimeout(15_000);
      OutputStream out = socket.getOutputStream();
      out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = socket.getInputStream();
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      byte[] buffer = new byte[8192];
      try {
        int n;
        while ((n = in.read(buffer)) >= 0) {
          received.write(buffer, 0, n);
        }
      } catch (SocketException e) {
        // A reset after the server closed is still "closed"; what was received is what counts.
        if (!e.getMessage().toLowerCase(Locale.ROOT).contains("reset")) {
          throw e;
        }
      }
      return new Response(received.toString(StandardCharsets.ISO_8859_1));
    }
  }
}
