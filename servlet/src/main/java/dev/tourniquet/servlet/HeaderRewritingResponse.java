package dev.tourniquet.servlet;

import dev.tourniquet.rules.Header;
import dev.tourniquet.rules.HttpRequest;
import dev.tourniquet.rules.HttpResponse;
import dev.tourniquet.rules.RequestException;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs outbound rules on the response headers just before the response can commit: on the first write or
 * flush of the body, on {@code sendError}, {@code sendRedirect} and {@code flushBuffer}, and when the
 * filter chain returns. A header the application sets after its first body write is not seen, since the
 * container may already have sent the headers by then.
 */
final class HeaderRewritingResponse extends HttpServletResponseWrapper {
  private final HttpRequest request;
  private final List<Snapshot.Compiled> stages;
  private final HitCounter hits;
  private boolean applied;
  private ServletOutputStream stream;
  private PrintWriter writer;

  HeaderRewritingResponse(HttpServletResponse response, HttpRequest request, List<Snapshot.Compiled> stages, HitCounter hits) {
    super(response);
    this.request = request;
    this.stages = stages;
    this.hits = hits;
  }

  /** Applies the outbound rules once, if the response has not committed. */
  void applyRules() {
    HttpServletResponse response = (HttpServletResponse) getResponse();
    if (applied || response.isCommitted()) {
      return;
    }
    applied = true;
    List<Header> before = headers(response);
    List<Header> headers = before;
    for (Snapshot.Compiled stage : stages) {
      List<Header> after;
      try {
        after = stage.response().evaluateResponse(request, new HttpResponse(response.getStatus(), headers));
      } catch (RequestException e) {
        // The filter checked the request against every enforce-mode rule set before the chain ran.
        hits.hit(stage.mitigation(), "unevaluable-request");
        continue;
      }
      if (!after.equals(headers)) {
        hits.hit(stage.mitigation(), "response-headers");
        if (stage.enforce()) {
          headers = after;
        }
      }
    }
    if (!headers.equals(before)) {
      apply(response, before, headers);
    }
  }

  private static List<Header> headers(HttpServletResponse response) {
    List<Header> headers = new ArrayList<>();
    boolean contentType = false;
    for (String name : response.getHeaderNames()) {
      contentType |= name.equalsIgnoreCase("Content-Type");
      for (String value : response.getHeaders(name)) {
        headers.add(new Header(name, value));
      }
    }
    // Tomcat keeps the content type apart from the other headers until it commits.
    if (!contentType && response.getContentType() != null) {
      headers.add(new Header("Content-Type", response.getContentType()));
    }
    return headers;
  }

  private static Map<String, List<Header>> byName(List<Header> headers) {
    Map<String, List<Header>> m = new LinkedHashMap<>();
    for (Header h : headers) {
      m.computeIfAbsent(h.name().toLowerCase(Locale.ROOT), k -> new ArrayList<>()).add(h);
    }
    return m;
  }

  private static void apply(HttpServletResponse response, List<Header> before, List<Header> after) {
    Map<String, List<Header>> old = byName(before);
    Map<String, List<Header>> now = byName(after);
    for (Map.Entry<String, List<Header>> e : now.entrySet()) {
      if (e.getValue().equals(old.get(e.getKey()))) {
        continue;
      }
      List<Header> values = e.getValue();
      if (e.getKey().equals("content-type")) {
        response.setContentType(values.get(0).value());
        continue;
      }
      response.setHeader(values.get(0).name(), values.get(0).value());
      for (int i = 1; i < values.size(); i++) {
        response.addHeader(values.get(i).name(), values.get(i).value());
      }
    }
    for (Map.Entry<String, List<Header>> e : old.entrySet()) {
      if (!now.containsKey(e.getKey())) {
        if (e.getKey().equals("content-type")) {
          response.setContentType(null);
        } else {
          // Servlet 6: a null value removes the header.
          response.setHeader(e.getValue().get(0).name(), null);
        }
      }
    }
  }

  @Override
  public ServletOutputStream getOutputStream() throws IOException {
    if (stream == null) {
      stream = new Stream(super.getOutputStream());
    }
    return stream;
  }

  @Override
  public PrintWriter getWriter() throws IOException {
    if (writer == null) {
      PrintWriter inner = super.getWriter();
      writer = new PrintWriter(new Writer() {
        @Override
        public void write(char[] buf, int off, int len) {
          applyRules();
          inner.write(buf, off, len);
        }

        @Override
        public void flush() {
          applyRules();
          inner.flush();
        }

        @Override
        public void close() {
          applyRules();
          inner.close();
        }
      });
    }
    return writer;
  }

  @Override
  public void flushBuffer() throws IOException {
    applyRules();
    if (writer != null) {
      writer.flush();
    }
    super.flushBuffer();
  }

  @Override
  public void sendError(int sc, String msg) throws IOException {
    applyRules();
    super.sendError(sc, msg);
  }

  @Override
  public void sendError(int sc) throws IOException {
    applyRules();
    super.sendError(sc);
  }

  @Override
  public void sendRedirect(String location) throws IOException {
    sendRedirect(location, HttpServletResponse.SC_FOUND, true);
  }

  @Override
  public void sendRedirect(String location, boolean clearBuffer) throws IOException {
    sendRedirect(location, HttpServletResponse.SC_FOUND, clearBuffer);
  }

  @Override
  public void sendRedirect(String location, int sc) throws IOException {
    sendRedirect(location, sc, true);
  }

  @Override
  public void sendRedirect(String location, int sc, boolean clearBuffer) throws IOException {
    // The container sets Location inside sendRedirect; rules see the status and headers set before it.
    setStatus(sc);
    applyRules();
    super.sendRedirect(location, sc, clearBuffer);
  }

  @Override
  public void reset() {
    super.reset();
    applied = false;
  }

  /** Delegates every call, applying the rules before the first byte. */
  private final class Stream extends ServletOutputStream {
    private final ServletOutputStream inner;

    Stream(ServletOutputStream inner) {
      this.inner = inner;
    }

    @Override
    public void write(int b) throws IOException {
      applyRules();
      inner.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      applyRules();
      inner.write(b, off, len);
    }

    @Override
    public void flush() throws IOException {
      applyRules();
      inner.flush();
    }

    @Override
    public void close() throws IOException {
      applyRules();
      inner.close();
    }

    @Override
    public boolean isReady() {
      return inner.isReady();
    }

    @Override
    public void setWriteListener(WriteListener listener) {
      inner.setWriteListener(listener);
    }
  }

}
