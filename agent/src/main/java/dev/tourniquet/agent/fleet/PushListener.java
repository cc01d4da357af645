package dev.tourniquet.agent.fleet;

import dev.tourniquet.agent.AgentControl;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.DoubleSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the server-sent-event stream of {@code GET /api/v1/agent/events} and turns every {@code feed} or
 * {@code policy} event into {@link AgentControl#hint()}: the agent then checks at once, verifying
 * everything as on a scheduled check (a hint carries no content).
 *
 * <p>When the stream is lost (server restart, network, a silent connection: nothing, not even the 15 s
 * keep-alive, for three times that long), the listener reconnects after an exponential backoff with full
 * jitter (1 s doubling up to 5 min), and hints once after reconnecting, since events may have been missed
 * meanwhile. Polling goes on regardless: the push only makes changes arrive sooner.
 */
public final class PushListener implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PushListener.class);

  /** Timings; tests shorten them. */
  record Settings(Duration backoffBase, Duration backoffCap, Duration silence, DoubleSupplier random) {
    static Settings defaults() {
      return new Settings(Duration.ofSeconds(1), Duration.ofMinutes(5), Duration.ofSeconds(45),
          () -> ThreadLocalRandom.current().nextDouble());
    }
  }

  /** The longest line read from the stream; the server's are {@code event: feed} and short comments. */
  static final int MAX_LINE_BYTES = 4096;

  private final FleetClient client;
  private final AgentControl control;
  private final Settings settings;
  private final Thread thread;
  private final AtomicReference<InputStream> current = new AtomicReference<>();
  private volatile boolean closed;
  private volatile long lastActivity;
  private volatile int connections;

  private PushListener(FleetClient client, AgentControl control, Settings settings) {
    this.client = client;
    this.control = control;
    this.settings = settings;
    this.thread = new Thread(this::run, "tourniquet-fleet-push");
    thread.setDaemon(true);
  }

  static PushListener start(FleetClient client, AgentControl control, Settings settings) {
    PushListener listener = new PushListener(client, control, settings);
    listener.thread.start();
    return listener;
  }

  /** How many times a stream was opened (for tests and diagnostics). */
  int connections() {
    return connections;
  }

  private void run() {
    Backoff backoff = new Backoff(settings.backoffBase(), settings.backoffCap(), settings.random());
    Thread watchdog = new Thread(this::watch, "tourniquet-fleet-push-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    while (!closed) {
      try {
        HttpResponse<InputStream> response = client.http().send(client.authorised("api/v1/agent/events")
            .timeout(Duration.ofDays(3650)).header("Accept", "text/event-stream").GET().build(),
            HttpResponse.BodyHandlers.ofInputStream());
        if (response.statusCode() != 200) {
          response.body().close();
          throw new IOException("GET " + response.uri() + ": expected HTTP 200 but found " + response.statusCode());
        }
        current.set(response.body());
        lastActivity = System.nanoTime();
        if (connections++ > 0) {
          control.hint(); // events may have been missed while disconnected
        }
        if (!closed && read(response.body())) {
          backoff.reset();
        }
      } catch (IOException | RuntimeException e) {
        if (!closed) {
          LOG.debug("push stream: {}", e.toString());
        }
      } catch (InterruptedException e) {
        // close() or the watchdog: the loop condition decides
      } finally {
        close(current.getAndSet(null));
      }
      if (closed) {
        return;
      }
      Thread.interrupted(); // a watchdog kick must not cut the backoff short
      Duration delay = backoff.next();
      LOG.info("push stream from the fleet server lost; reconnecting in {} ms (polling continues)", delay.toMillis());
      try {
        Thread.sleep(delay.toMillis());
      } catch (InterruptedException e) {
        if (closed) {
          return;
        }
      }
    }
  }

  /**
   * Reads events until the stream ends; returns whether any event arrived.
   *
   * @throws IOException if a line is longer than {@link #MAX_LINE_BYTES}: the server's lines are short, and
   *     reading an endless one whole would take all the agent's memory
   */
  private boolean read(InputStream stream) throws IOException {
    boolean any = false;
    String type = "message";
    InputStream in = new BufferedInputStream(stream, 8192);
    String line;
    while (!closed && (line = line(in)) != null) {
      lastActivity = System.nanoTime();
      if (line.startsWith("event:")) {
        type = line.substring(6).trim();
      } else if (line.isEmpty()) {
        if (type.equals("feed") || type.equals("policy")) {
          any = true;
          control.hint();
        }
        type = "message";
      }
    }
    return any;
  }

  /** One line without its end (LF, CR LF or CR, as server-sent events allow), or null at the end of the stream. */
  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream(128);
    int b;
    while ((b = in.read()) != -1) {
      if (b == '\n') {
        break;
      }
      if (b == '\r') {
        in.mark(1);
        if (in.read() != '\n') {
          in.reset();
        }
        break;
      }
      if (line.size() == MAX_LINE_BYTES) {
        throw new IOException("push stream: expected lines of at most " + MAX_LINE_BYTES + " bytes but found a longer one");
      }
      line.write(b);
    }
    return b == -1 && line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
  }

  private static void close(InputStream s) {
    if (s != null) {
      try {
        s.close();
      } catch (IOException e) {
        // closing only to end the exchange
      }
    }
  }

  /** Closes a stream that has been silent for too long, so that the loop reconnects. */
  private void watch() {
    long silence = settings.silence().toNanos();
    while (!closed) {
      try {
        Thread.sleep(Math.max(10, settings.silence().toMillis() / 3));
      } catch (InterruptedException e) {
        return;
      }
      InputStream s = current.get();
      if (s != null && !closed && System.nanoTime() - lastActivity > silence) {
        current.compareAndSet(s, null);
        LOG.info("push stream silent for more than {}; reconnecting", settings.silence());
        close(s);
        thread.interrupt(); // a read blocked on a silent connection wakes up only when interrupted
      }
    }
  }

  /** Stops listening and closes the stream. */
  @Override
  public void close() {
    closed = true;
    close(current.getAndSet(null));
    thread.interrupt();
  }
}
