package dev.tourniquet.cli.quickstart;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Sends a GET exactly as written, as {@code curl --path-as-is} does, and says what came back: a status
 * line, or a connection closed (or reset) without a single byte of response, which is what an aborted
 * request looks like from the client.
 */
final class HttpProbe {
  /** Every byte read is kept up to this many; a demo page is far smaller. */
  private static final int MAX_BYTES = 256 * 1024;
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private HttpProbe() {}

  /**
   * What a request got.
   *
   * @param status the HTTP status, or 0 when no response came
   * @param description the outcome in words, as a person reads it
   */
  record Outcome(int status, String description) {
    /** True when the connection ended without any response: the request was aborted. */
    boolean aborted() {
      return status == 0;
    }
  }

  /**
   * Sends {@code GET target} to 127.0.0.1:port with {@code Host: mail.contoso.com} and reads until the
   * server closes the connection.
   *
   * @param port the port
   * @param target the request target, sent byte for byte
   * @return the outcome
   * @throws IOException if the connection cannot be opened or the answer takes longer than 10 s
   */
  static Outcome get(int port, String target) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), (int) TIMEOUT.toMillis());
      socket.setSoTimeout((int) TIMEOUT.toMillis());
      socket.getOutputStream().write(("GET " + target + " HTTP/1.1\r\nHost: mail.contoso.com\r\nUser-Agent: tourniquet-quickstart\r\n"
          + "Accept: */*\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      boolean reset = false;
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[8192];
      try {
        for (int n; (n = in.read(buffer)) > 0 && received.size() < MAX_BYTES; ) {
          received.write(buffer, 0, n);
        }
      } catch (SocketTimeoutException e) {
        throw new IOException("no complete answer from 127.0.0.1:" + port + " within " + TIMEOUT.toSeconds() + " s", e);
      } catch (SocketException e) {
        reset = true; // an aborted request may end in a reset rather than a clean close
      }
      if (received.size() == 0) {
        return new Outcome(0, reset ? "connection reset without a response (curl: \"Connection reset by peer\")"
            : "connection closed without a response (curl: \"Empty reply from server\")");
      }
      String head = received.toString(StandardCharsets.ISO_8859_1);
      int eol = head.indexOf("\r\n");
      String statusLine = eol < 0 ? head : head.substring(0, eol);
      String[] parts = statusLine.split(" ", 3);
      if (parts.length < 2 || !parts[0].startsWith("HTTP/") || !parts[1].matches("[1-5][0-9][0-9]")) {
        throw new IOException("expected an HTTP status line from 127.0.0.1:" + port + " but found \""
            + statusLine.substring(0, Math.min(80, statusLine.length())) + "\"");
      }
      int status = Integer.parseInt(parts[1]);
      return new Outcome(status, "HTTP " + status + (parts.length > 2 ? " " + parts[2] : ""));
    }
  }
}
