package dev.tourniquet.rules;

import java.util.List;

/**
 * The application's response, as outbound rules see it before it leaves the server.
 *
 * @param status the status code
 * @param headers the header fields, in order
 */
public record HttpResponse(int status, List<Header> headers) {
  /** Creates a response; the list is copied. */
  public HttpResponse {
    headers = List.copyOf(headers);
  }
}
