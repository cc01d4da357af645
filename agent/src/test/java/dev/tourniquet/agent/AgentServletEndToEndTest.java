package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.servlet.TourniquetFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.concurrent.locks.LockSupport;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path on one server: a publisher signs M1 (Microsoft's EEMS rule from the shared fixture) into a
 * feed; the agent verifies it, plans, and writes the servlet target's enforcement file; the real
 * {@link TourniquetFilter} in an embedded Jetty reloads it and cuts the ProxyNotShell request off. Then the
 * fixed version is installed and the agent removes M1 by itself, and the same request reaches the
 * application again.
 */
class AgentServletEndToEndTest {
  @TempDir Path dir;
  AgentFixture fx;
  Agent agent;
  Server jetty;
  int port;

  @BeforeEach
  void setUp() throws Exception {
    fx = new AgentFixture(dir);
    jetty = new Server();
    ServerConnector connector = new ServerConnector(jetty);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    jetty.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    context.addFilter(new FilterHolder(new TourniquetFilter(fx.enforcementFile)), "/*", EnumSet.of(DispatcherType.REQUEST));
    context.addServlet(new ServletHolder(new HttpServlet() {
      @Override
      protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        resp.getWriter().print("ok");
      }
    }), "/*");
    jetty.setHandler(context);
    jetty.start();
    port = connector.getLocalPort();
  }

  @AfterEach
  void tearDown() throws Exception {
    if (agent != null) {
      agent.close();
    }
    jetty.stop();
  }

  @Test
  void signedM1BlocksProxyNotShellInJettyAndIsRemovedAfterPatching() throws Exception {
    assertThat(get(Mitigations.PROXYNOTSHELL)).startsWith("HTTP/1.1 200");
    fx.feed.put(Mitigations.m1(1)).publish();
    agent = fx.open();

    AgentStatus applied = agent.check();

    assertThat(AgentFixture.row(applied, "M1").status()).isEqualTo(Status.APPLIED);
    assertThat(awaitAnswer(Mitigations.PROXYNOTSHELL, "")).as("aborted: not a byte of response").isEmpty();
    assertThat(get("/autodiscover/autodiscover.json?Email=user@contoso.com")).startsWith("HTTP/1.1 200");

    fx.version(Mitigations.FIXED);
    AgentStatus patched = agent.check();

    assertThat(AgentFixture.row(patched, "M1").status()).isEqualTo(Status.REMOVED);
    assertThat(AgentFixture.row(patched, "M1").reason()).contains("is fixed");
    assertThat(awaitAnswer(Mitigations.PROXYNOTSHELL, "HTTP/1.1 200")).startsWith("HTTP/1.1 200");
    assertThat(fx.audit("M1.1", "applied")).containsExactly("apply app");
    assertThat(fx.audit("M1.1", "removed")).containsExactly("remove app");
  }

  /** Polls (the filter reloads the file by itself) until the answer starts with the prefix. */
  String awaitAnswer(String target, String prefix) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      String answer = get(target);
      if (prefix.isEmpty() ? answer.isEmpty() : answer.startsWith(prefix)) {
        return answer;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("expected an answer starting with \"" + prefix + "\" within 30 s but got: " + answer);
      }
      LockSupport.parkNanos(50_000_000);
    }
  }

  /** A GET sent exactly as written; returns every byte received until the server closed. */
  String get(String target) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(("GET " + target + " HTTP/1.1\r\nHost: mail.contoso.com\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[8192];
      try {
        for (int n; (n = in.read(buffer)) > 0; ) {
          received.write(buffer, 0, n);
        }
      } catch (java.net.SocketException reset) {
        // An aborted request may end in a reset rather than a clean close.
      }
      return received.toString(StandardCharsets.ISO_8859_1);
    }
  }
}
