package dev.tourniquet.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.Test;

/** How AbortRequest behaves where the container is not known. */
class FallbackAbortTest {
  @Test
  void unknownRequestClassGetsTheFallback() {
    assertThat(ConnectionAborter.detect(Object.class)).isSameAs(ConnectionAborter.FALLBACK);
  }

  @Test
  void knownContainersGetTheirOwnStrategy() {
    assertThat(ConnectionAborter.detect(org.eclipse.jetty.ee10.servlet.ServletApiRequest.class))
        .isInstanceOf(ConnectionAborter.Jetty.class);
    assertThat(ConnectionAborter.detect(org.apache.catalina.connector.RequestFacade.class))
        .isInstanceOf(ConnectionAborter.Tomcat.class);
  }

  @Test
  void fallbackAnswers403WithAnEmptyBodyAndClosesTheConnection() throws Exception {
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.addServlet(new ServletHolder(new HttpServlet() {
      @Override
      protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        resp.setHeader("X-App", "set before the abort");
        ConnectionAborter.FALLBACK.abort(req, resp);
      }
    }), "/*");
    server.setHandler(context);
    server.start();
    try {
      // Keep-alive: the read ends only if the server closes the connection.
      Http.Response response = Http.send(connector.getLocalPort(), "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");

      assertThat(response.status()).isEqualTo(403);
      assertThat(response.header("Connection")).isEqualToIgnoringCase("close");
      assertThat(response.header("X-App")).isNull();
      assertThat(response.body()).isEmpty();
    } finally {
      server.stop();
    }
  }
}
