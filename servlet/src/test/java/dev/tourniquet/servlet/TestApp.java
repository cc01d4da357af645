package dev.tourniquet.servlet;

import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The protected application: answers {@code ok <uri>} as HTML. A request with {@code ?slow} waits for
 * the test to release it; {@code ?csp=V} sets a Content-Security-Policy header of its own; every answer says {@code X-Powered-By}.
 */
final class TestApp extends HttpServlet {
  final AtomicInteger requests = new AtomicInteger();
  volatile CountDownLatch slowEntered = new CountDownLatch(1);
  volatile CountDownLatch slowRelease = new CountDownLatch(1);

  @Override
  protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
    requests.incrementAndGet();
    resp.setContentType("text/html;charset=UTF-8");
    String csp = req.getParameter("csp");
    if (csp != null) {
      resp.setHeader("Content-Security-Policy", csp);
    }
    resp.setHeader("X-Powered-By", "TestApp/1.0");
    if (req.getParameter("slow") != null) {
      slowEntered.countDown();
      try {
        if (!slowRelease.await(20, TimeUnit.SECONDS)) {
          resp.setStatus(500);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    Object forwardedFrom = req.getAttribute(RequestDispatcher.FORWARD_REQUEST_URI);
    resp.getWriter().print("ok " + req.getRequestURI() + (forwardedFrom == null ? "" : " forwarded from " + forwardedFrom));
  }
}
