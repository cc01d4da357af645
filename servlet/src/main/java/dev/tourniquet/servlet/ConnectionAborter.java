package dev.tourniquet.servlet;

import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.logging.Level;

/**
 * Closes a request's connection without sending a response: IIS's {@code AbortRequest}. The Servlet API
 * has no such operation, so each container is reached through its own public API, found by reflection at
 * run time so that the filter depends on no container. The strategy is chosen once per request class.
 *
 * <ul>
 *   <li><b>Jetty 12 (ee10)</b>: {@code ServletContextRequest.getServletContextRequest(request)
 *       .getConnectionMetaData().getConnection().getEndPoint().close()} — the socket is closed before any
 *       byte of the response is written; what Jetty writes afterwards fails and is discarded. Over HTTP/2
 *       this closes the whole connection, every stream of that client with it.
 *   <li><b>Tomcat 11</b>: the connector request behind {@code RequestFacade} (a protected field, read
 *       reflectively), {@code getCoyoteRequest().action(ActionCode.CLOSE_NOW, null)} — what Tomcat's own
 *       error handling uses: the response is swallowed and the connection closed without a status line.
 *   <li><b>Any other container</b>: the Servlet API cannot close a connection, so the filter does the most
 *       abrupt thing it allows: {@code 403} with no body and {@code Connection: close}. The client sees a
 *       status line, unlike on IIS; the request still never reaches the application.
 * </ul>
 */
abstract class ConnectionAborter {
  /**
   * Aborts the request.
   *
   * @return true if the connection was closed without a response, false if the fallback answered
   */
  abstract boolean abort(HttpServletRequest request, HttpServletResponse response) throws IOException;

  private static final ClassValue<ConnectionAborter> BY_CLASS = new ClassValue<>() {
    @Override
    protected ConnectionAborter computeValue(Class<?> type) {
      return detect(type);
    }
  };

  static ConnectionAborter forRequest(ServletRequest request) {
    return BY_CLASS.get(innermost(request).getClass());
  }

  static ServletRequest innermost(ServletRequest request) {
    ServletRequest r = request;
    for (int i = 0; i < 64 && r instanceof ServletRequestWrapper w; i++) {
      r = w.getRequest();
    }
    return r;
  }

  static ConnectionAborter detect(Class<?> type) {
    String name = type.getName();
    try {
      if (name.startsWith("org.eclipse.jetty.ee10.")) {
        return new Jetty(type.getClassLoader());
      }
      if (name.equals("org.apache.catalina.connector.RequestFacade")) {
        return new Tomcat(type);
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      EnforcementWatcher.LOG.log(Level.WARNING, "tourniquet: cannot reach the connection of " + name
          + "; AbortRequest will answer 403 with Connection: close instead", e);
    }
    return FALLBACK;
  }

  static final ConnectionAborter FALLBACK = new ConnectionAborter() {
    @Override
    boolean abort(HttpServletRequest request, HttpServletResponse response) throws IOException {
      return fallback(response);
    }
  };

  static boolean fallback(HttpServletResponse response) throws IOException {
    if (!response.isCommitted()) {
      response.reset();
      response.setStatus(HttpServletResponse.SC_FORBIDDEN);
      response.setHeader("Connection", "close");
      response.setContentLength(0);
      response.flushBuffer();
    }
    return false;
  }

  /** Jetty 12 ee10: close the connection's end point. */
  static final class Jetty extends ConnectionAborter {
    private final Method servletContextRequest;
    private final Method connectionMetaData;
    private final Method connection;
    private final Method endPoint;
    private final Method close;

    Jetty(ClassLoader loader) throws ReflectiveOperationException {
      Class<?> scr = Class.forName("org.eclipse.jetty.ee10.servlet.ServletContextRequest", false, loader);
      servletContextRequest = scr.getMethod("getServletContextRequest", ServletRequest.class);
      connectionMetaData = Class.forName("org.eclipse.jetty.server.Request", false, loader).getMethod("getConnectionMetaData");
      connection = Class.forName("org.eclipse.jetty.server.ConnectionMetaData", false, loader).getMethod("getConnection");
      endPoint = Class.forName("org.eclipse.jetty.io.Connection", false, loader).getMethod("getEndPoint");
      close = Class.forName("org.eclipse.jetty.io.EndPoint", false, loader).getMethod("close");
    }

    @Override
    boolean abort(HttpServletRequest request, HttpServletResponse response) throws IOException {
      try {
        Object core = servletContextRequest.invoke(null, innermost(request));
        Object ep = endPoint.invoke(connection.invoke(connectionMetaData.invoke(core)));
        close.invoke(ep);
        return true;
      } catch (ReflectiveOperationException | RuntimeException e) {
        EnforcementWatcher.LOG.log(Level.WARNING, "tourniquet: cannot close the Jetty connection; answering 403 instead", e);
        return fallback(response);
      }
    }
  }

  /** Tomcat 11: ask the Coyote processor to close the connection now, swallowing the response. */
  static final class Tomcat extends ConnectionAborter {
    private final Field request;
    private final Method coyoteRequest;
    private final Method action;
    private final Object closeNow;

    Tomcat(Class<?> facade) throws ReflectiveOperationException {
      ClassLoader loader = facade.getClassLoader();
      request = facade.getDeclaredField("request");
      request.setAccessible(true);
      coyoteRequest = Class.forName("org.apache.catalina.connector.Request", false, loader).getMethod("getCoyoteRequest");
      Class<?> actionCode = Class.forName("org.apache.coyote.ActionCode", false, loader);
      action = Class.forName("org.apache.coyote.Request", false, loader).getMethod("action", actionCode, Object.class);
      closeNow = actionCode.getField("CLOSE_NOW").get(null);
    }

    @Override
    boolean abort(HttpServletRequest servletRequest, HttpServletResponse response) throws IOException {
      try {
        Object connectorRequest = request.get(innermost(servletRequest));
        action.invoke(coyoteRequest.invoke(connectorRequest), closeNow, null);
        return true;
      } catch (ReflectiveOperationException | RuntimeException e) {
        EnforcementWatcher.LOG.log(Level.WARNING, "tourniquet: cannot close the Tomcat connection; answering 403 instead", e);
        return fallback(response);
      }
    }
  }
}
