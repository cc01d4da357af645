package dev.tourniquet.cli.quickstart;

import dev.tourniquet.servlet.TourniquetFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The application the quickstart protects: a stand-in for an Exchange front end on embedded Jetty that
 * answers Outlook on the web ({@code /owa/}), Autodiscover and the control panel with small pages, behind
 * the real {@link TourniquetFilter} reading the enforcement file the agent writes. Its "installed version"
 * is the first line of a version file, which the agent reads too.
 */
final class DemoApp implements AutoCloseable {
  private final Server jetty;
  private final URI uri;

  private DemoApp(Server jetty, URI uri) {
    this.jetty = jetty;
    this.uri = uri;
  }

  /**
   * Starts the app on 127.0.0.1.
   *
   * @param port the port, 0 for any free one
   * @param enforcementFile the servlet target's enforcement file (need not exist yet)
   * @param versionFile the file holding the installed version
   * @return the running app
   * @throws IOException if the port cannot be bound (the cause is a {@link java.net.BindException})
   */
  static DemoApp start(int port, Path enforcementFile, Path versionFile) throws IOException {
    QueuedThreadPool threads = new QueuedThreadPool(16, 2);
    threads.setName("quickstart-app");
    threads.setDaemon(true);
    Server jetty = new Server(threads);
    ServerConnector connector = new ServerConnector(jetty);
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    jetty.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    // First in the chain, for REQUEST dispatches, as docs/servlet.md asks.
    context.addFilter(new FilterHolder(new TourniquetFilter(enforcementFile)), "/*", EnumSet.of(DispatcherType.REQUEST));
    context.addServlet(new ServletHolder(new Pages(versionFile)), "/*");
    jetty.setHandler(context);
    jetty.setStopTimeout(500);
    try {
      jetty.start();
    } catch (Exception e) {
      stopQuietly(jetty);
      if (e instanceof IOException io) {
        throw io;
      }
      throw new IOException("the demo app cannot start: " + e.getMessage(), e);
    }
    return new DemoApp(jetty, URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/"));
  }

  /** The app's base URL, {@code http://127.0.0.1:PORT/}. */
  URI uri() {
    return uri;
  }

  int port() {
    return uri.getPort();
  }

  @Override
  public void close() {
    stopQuietly(jetty);
  }

  private static void stopQuietly(Server jetty) {
    try {
      jetty.stop();
    } catch (Exception e) {
      // Stopping on the way out: nothing left to protect.
    }
  }

  /** The pages: an Exchange front end's paths, each answering 200 with a line saying what it is. */
  private static final class Pages extends HttpServlet {
    private static final long serialVersionUID = 1L;
    private final transient Path versionFile;

    Pages(Path versionFile) {
      this.versionFile = versionFile;
    }

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      String path = req.getRequestURI().toLowerCase(java.util.Locale.ROOT);
      String version = version();
      String body;
      String type = "text/html; charset=utf-8";
      if (path.equals("/healthz")) {
        type = "text/plain; charset=utf-8";
        body = "ok\n";
      } else if (path.startsWith("/autodiscover/")) {
        type = "application/json";
        body = "{\"Protocol\":\"AutodiscoverV1\",\"Url\":\"https://mail.contoso.com/autodiscover/autodiscover.xml\"}\n";
      } else if (path.startsWith("/owa")) {
        body = page("Outlook on the web (demo)", "Sign in to your mailbox. This is the quickstart's demo app.", version);
      } else if (path.startsWith("/ecp")) {
        body = page("Exchange admin center (demo)", "The control panel of the demo app.", version);
      } else {
        body = page("Demo Exchange front end", "Paths: <a href=\"/owa/\">/owa/</a>, "
            + "<a href=\"/autodiscover/autodiscover.json?Email=user@contoso.com\">/autodiscover/autodiscover.json</a>, "
            + "<a href=\"/ecp/\">/ecp/</a>.", version);
      }
      resp.setStatus(200);
      resp.setContentType(type);
      resp.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
    }

    private String version() {
      try {
        return Files.readAllLines(versionFile, StandardCharsets.UTF_8).stream().findFirst().orElse("unknown").trim();
      } catch (IOException e) {
        return "unknown";
      }
    }

    private static String page(String title, String text, String version) {
      return "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + title + "</title></head><body><h1>" + title
          + "</h1><p>" + text + "</p><p>Installed version: " + escape(version)
          + " (protected by the Tourniquet servlet filter)</p></body></html>\n";
    }

    private static String escape(String s) {
      return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
  }
}
