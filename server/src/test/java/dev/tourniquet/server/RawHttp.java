package dev.tourniquet.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/**
 * Sends a request line exactly as written, which no HTTP client does: clients normalise {@code ..} and
 * re-encode paths, and the tests need what an attacker would send.
 */
final class RawHttp {
  /** Status code and the whole response text. */
  record Answer(int status, String text) {}

  private RawHttp() {}

  static Answer get(URI server, String rawTarget) throws IOException {
    try (Socket socket = new Socket(server.getHost(), server.getPort())) {
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      out.write(("GET " + rawTarget + " HTTP/1.1\r\nHost: " + server.getHost() + "\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = socket.getInputStream();
      String text = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
      String[] statusLine = text.split("\r\n", 2)[0].split(" ");
      return new Answer(Integer.parseInt(statusLine[1]), text);
    }
  }
}
