package dev.tourniquet.servlet;

import jakarta.servlet.DispatcherType;
import java.nio.file.Path;
import java.util.EnumSet;
import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.core.StandardContext;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** A real servlet container on 127.0.0.1 and a random port, with the filter in front of {@link TestApp}. */
interface Container {
  int port();

  /** Stops the container, and with it the filter. */
  void stop() throws Exception;

  /** Embedded Jetty 12, ee10. */
  static Container jetty(TourniquetFilter filter, TestApp app, String contextPath) throws Exception {
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath(contextPath.isEmpty() ? "/" : contextPath);
    context.addFilter(new FilterHolder(filter), "/*", EnumSet.of(DispatcherType.REQUEST));
    context.addServlet(new ServletHolder(app), "/*");
    server.setHandler(context);
    server.start();
    int port = connector.getLocalPort();
    return new Container() {
      @Override
      public int port() {
        return port;
      }

      @Override
      public void stop() throws Exception {
        server.stop();
      }
    };
  }

  /** Embedded Tomcat 11. */
  static Container tomcat(TourniquetFilter filter, TestApp app, Path baseDir, String contextPath) throws Exception {
    Tomcat tomcat = new Tomcat();
    tomcat.setBaseDir(baseDir.toString());
    Connector connector = new Connector();
    connector.setPort(0);
    connector.setProperty("address", "127.0.0.1");
    // Let the filter, not Tomcat's own limit of 100, see a request with too many header fields.
    connector.setProperty("maxHeaderCount", "-1");
    tomcat.setConnector(connector);
    Context context = tomcat.addContext(contextPath, null);
    // The embedded context needs no leak detection on stop, which only warns without --add-opens.
    ((StandardContext) context).setClearReferencesRmiTargets(false);
    ((StandardContext) context).setClearReferencesThreadLocals(false);
    Tomcat.addServlet(context, "app", app);
    context.addServletMappingDecoded("/*", "app");
    FilterDef def = new FilterDef();
    def.setFilterName("tourniquet");
    def.setFilter(filter);
    context.addFilterDef(def);
    FilterMap map = new FilterMap();
    map.setFilterName("tourniquet");
    map.addURLPattern("/*");
    context.addFilterMap(map);
    tomcat.start();
    int port = connector.getLocalPort();
    return new Container() {
      @Override
      public int port() {
        return port;
      }

      @Override
      public void stop() throws Exception {
        tomcat.stop();
        tomcat.destroy();
      }
    };
  }
}
