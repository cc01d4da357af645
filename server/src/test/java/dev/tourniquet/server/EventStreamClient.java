package dev.tourniquet.server;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A test client of {@code GET /api/v1/agent/events}: parses the stream into events (type and data) and
 * hands them to the test through a queue, waiting with a deadline.
 */
final class EventStreamClient implements AutoCloseable {
  /** One event; comments are reported with type {@code :}. */
  record Event(String type, String data) {}

  final int status;
  private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  private final HttpResponse<Stream<String>> response;
  private final CompletableFuture<Void> reader;

  EventStreamClient(HttpClient http, URI uri, String credential) throws Exception {
    response = http.send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + credential)
        .header("Accept", "text/event-stream").GET().build(), HttpResponse.BodyHandlers.ofLines());
    status = response.statusCode();
    reader = CompletableFuture.runAsync(() -> {
      String type = "message";
      StringBuilder data = new StringBuilder();
      var it = response.body().iterator();
      try {
        while (it.hasNext()) {
          String line = it.next();
          if (line.isEmpty()) {
            if (data.length() > 0 || !type.equals("message")) {
              events.add(new Event(type, data.toString()));
            }
            type = "message";
            data.setLength(0);
          } else if (line.startsWith(":")) {
            events.add(new Event(":", line.substring(1).trim()));
          } else if (line.startsWith("event:")) {
            type = line.substring(6).trim();
          } else if (line.startsWith("data:")) {
            data.append(line.substring(5).trim());
          }
        }
      } catch (RuntimeException e) {
        // the stream was closed
      }
      events.add(new Event("closed", ""));
    });
  }

  /** The next event that is not a comment, waiting at most {@code timeout}. */
  Event next(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      Event e = left > 0 ? events.poll(left, TimeUnit.NANOSECONDS) : null;
      if (e == null) {
        throw new AssertionError("no event within " + timeout);
      }
      if (!e.type().equals(":")) {
        return e;
      }
    }
  }

  /** The next event including comments. */
  Event nextAny(Duration timeout) throws InterruptedException {
    Event e = events.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    if (e == null) {
      throw new AssertionError("nothing within " + timeout);
    }
    return e;
  }

  @Override
  public void close() {
    response.body().close();
    reader.cancel(true);
  }
}
