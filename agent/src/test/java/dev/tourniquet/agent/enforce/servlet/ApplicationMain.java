package dev.tourniquet.agent.enforce.servlet;

import dev.tourniquet.servlet.TourniquetFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumSet;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * A servlet application protected by the real filter: {@link #application} builds it in this JVM
 * ({@code ServletEnforcerJettyTest}); {@link #main} runs it in a child JVM ({@code KilledApplicationTest}),
 * its filter reading the enforcement file given as the only argument, prints {@code STARTED pid} once it
 * serves, and runs until it is killed.
 */
public final class ApplicationMain {
  private ApplicationMain() {}

  public static void main(String[] args) throws Exception {
    Server server = application(Path.of(args[0]), new HttpServlet() {
      @Override
      protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        resp.getWriter().print("ok");
      }
    });
    server.start();
    System.out.println("STARTED " + ProcessHandle.current().pid());
    System.out.flush();
    server.join();
  }

  /**
   * A Jetty, not started, on a free loopback port, serving {@code servlet} for every path behind a
   * Tourniquet filter that reads {@code file}.
   */
  static Server application(Path file, HttpServlet servlet) {
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    context.addFilter(new FilterHolder(new TourniquetFilter(file)), "/*", EnumSet.of(DispatcherType.REQUEST));
    context.addServlet(new ServletHolder(servlet), "/*");
    server.setHandler(context);
    return server;
  }
}
