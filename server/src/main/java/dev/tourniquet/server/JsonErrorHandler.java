package dev.tourniquet.server;

import java.nio.ByteBuffer;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Errors that Jetty itself raises before a request reaches {@link FleetHandler} (an ambiguous URI such
 * as an encoded {@code ..}, a malformed request line, headers too large) answer in the same JSON form as
 * every other refusal, without stack traces or server details.
 */
final class JsonErrorHandler extends ErrorHandler {
  JsonErrorHandler() {
    setShowStacks(false);
    setShowCauses(false);
  }

  @Override
  protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
      Callback callback) {
    Reply reply = Reply.error(code, describe(code, message));
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, reply.contentType());
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.write(true, ByteBuffer.wrap(reply.body()), callback);
  }

  private static String describe(int code, String message) {
    return "request refused: " + (message == null || message.isBlank() ? "HTTP " + code : message);
  }
}
