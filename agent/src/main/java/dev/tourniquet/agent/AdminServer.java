package dev.tourniquet.agent;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.Iterator;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local admin API: HTTP on 127.0.0.1 only, every request authenticated with the bearer token kept in
 * {@code <stateDir>/admin.token}. Documented in {@code docs/operating.md}.
 *
 * <pre>
 * GET  /v1/status                      the status
 * POST /v1/check                       check the feed now, then the status
 * POST /v1/enable | /v1/disable        server-level setting, then the status
 * POST /v1/block | /v1/unblock | /v1/remove   body {"id":"M1"}, then the status
 * </pre>
 *
 * <p>Errors are JSON {@code {"error": "..."}}: 401 without the right token (nothing changes), 400 for a bad
 * body, 404 for an unknown path, 405 for a wrong method, 413 for a body over 4 KiB.
 *
 * <p>Any local user can connect to a loopback port, and bind one that is free. Three rules keep the token
 * from reaching such a user and make one that did useless:
 * <ol>
 *   <li>The port is chosen by the system unless configured ({@code admin.port: 0}, the default): there is no
 *       well-known port to take before the agent starts. A configured port that is taken fails the start,
 *       naming it, rather than moving to another that operators would not expect.
 *   <li>{@code admin.port} exists only while the API listens: it is deleted first at start, written once the
 *       server listens, and deleted first at stop. So a client never finds the port of a stopped agent, which
 *       someone else may have bound to collect the token. An agent that is killed leaves it; the next start
 *       deletes it before it writes the token, and {@link AdminClient} reads the token before the port, so a
 *       port a client reads is never older than the token it sends.
 *   <li>The token is new at every start (written atomically and owner-only before the server listens): one
 *       sent to whoever held the port of a killed agent, or read from an old backup, is refused by the next
 *       run.
 * </ol>
 * Clients too slow to send their request or take their answer are cut off by {@link Workers}, so a
 * few half-sent requests cannot hold the API's threads.
 */
final class AdminServer {
  static final String TOKEN_FILE = "admin.token";
  static final String PORT_FILE = "admin.port";
  static final int MAX_BODY = 4096;
  /** How long a client has to send its request, headers and body, and then to take its answer. */
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);
  /** The least time a request gets once a thread takes it up, however long it waited in the queue. */
  static final Duration QUEUED_GRACE = Duration.ofSeconds(1);

  /**
   * The two deadlines of {@link Workers} and the clock they are measured on: {@link #DEFAULT} in the agent; tests
   * give shorter ones so that they wait for a cut-off in a second, not five, and a clock of their own where what
   * is tested is a client or an operation that outlasts a deadline, so that nobody sleeps through it.
   *
   * @param request how long a client has to send its request, and then to take its answer
   * @param queuedGrace the least time a request gets once a thread takes it up
   * @param ticker nanoseconds, as {@link System#nanoTime()} gives them
   */
  record Timeouts(Duration request, Duration queuedGrace, LongSupplier ticker) {
    static final Timeouts DEFAULT = new Timeouts(REQUEST_TIMEOUT, QUEUED_GRACE);

    Timeouts {
      if (request.isNegative() || request.isZero() || queuedGrace.isNegative() || queuedGrace.isZero()) {
        throw new IllegalArgumentException("admin API timeouts: expected positive durations but found request "
            + request + " and queued grace " + queuedGrace);
      }
      Objects.requireNonNull(ticker, "ticker");
    }

    /** On the system's clock. */
    Timeouts(Duration request, Duration queuedGrace) {
      this(request, queuedGrace, System::nanoTime);
    }
  }

  /**
   * The threads. The agent does one thing at a time (its work lock), so more threads are waiters; these let
   * a status be asked while checks wait, and dilute stalled clients until they are cut off.
   */
  static final int THREADS = 8;
  private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  /**
   * Bodies are read strictly, like the fleet server's: a body that says more than one id is refused rather
   * than read as whichever id the parser kept ({@code {"id":"M2","id":"M1"}}, or a second object after the
   * first), and so is a field the API does not take, which an operator may have meant to narrow the change.
   */
  private static final ObjectReader BODY = JSON.reader()
      .with(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private static final SecureRandom RANDOM = new SecureRandom();

  private final HttpServer server;
  private final Workers workers;
  private final byte[] token;
  private final Agent agent;
  private final Path stateDir;

  private AdminServer(HttpServer server, Workers workers, byte[] token, Agent agent, Path stateDir) {
    this.server = server;
    this.workers = workers;
    this.token = token;
    this.agent = agent;
    this.stateDir = stateDir;
  }

  /**
   * Writes a new token and starts listening on 127.0.0.1 and {@code port} (0: a free port the system
   * chooses), then writes the port to {@code admin.port}.
   *
   * @throws IOException if the state directory cannot be written or the port cannot be listened on (the
   *     message names the port)
   */
  static AdminServer start(Agent agent, Path stateDir, int port, Timeouts timeouts) throws IOException {
    // In this order (see the class comment): no port file, a new token, listen, the port file.
    deletePortFile(stateDir);
    byte[] token = ("Bearer " + newToken(stateDir)).getBytes(StandardCharsets.US_ASCII);
    HttpServer server;
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
    } catch (IOException e) {
      throw new IOException(port == 0
          ? "admin API: cannot listen on 127.0.0.1 on a free port: " + e.getMessage()
          : "admin.port " + port + ": cannot listen on 127.0.0.1:" + port + ": " + e.getMessage() + "; expected a port"
              + " no other program holds: set admin.port: 0 (the default) to let the system choose a free one, which"
              + " the tourniquet command finds in " + stateDir.resolve(PORT_FILE), e);
    }
    Workers workers = new Workers(timeouts);
    AdminServer admin = new AdminServer(server, workers, token, agent, stateDir);
    server.createContext("/", admin::handle);
    server.setExecutor(workers);
    server.start();
    try {
      AtomicWrite.write(stateDir.resolve(PORT_FILE), (admin.port() + "\n").getBytes(StandardCharsets.US_ASCII));
    } catch (IOException | RuntimeException e) {
      admin.stop();
      throw e;
    }
    LOG.info("admin API listening on 127.0.0.1:{}", admin.port());
    return admin;
  }

  int port() {
    return server.getAddress().getPort();
  }

  /** Deletes {@code admin.port}, then stops listening and waits, at most 10 s, for the requests in progress. */
  void stop() {
    try {
      deletePortFile(stateDir);
    } catch (IOException e) {
      LOG.warn("admin API: cannot delete {} ({}); the next start deletes it", stateDir.resolve(PORT_FILE), e.toString());
    }
    server.stop(0);
    workers.shutdown();
  }

  /** Deletes {@code admin.port}, if there is one: what an agent does at start and stop, even without the API. */
  static void deletePortFile(Path stateDir) throws IOException {
    Files.deleteIfExists(stateDir.resolve(PORT_FILE));
  }

  /** Writes a new random token (32 bytes, base64url) owner-only and atomically, replacing an earlier run's. */
  private static String newToken(Path stateDir) throws IOException {
    byte[] random = new byte[32];
    RANDOM.nextBytes(random);
    String value = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    AtomicWrite.write(stateDir.resolve(TOKEN_FILE), (value + "\n").getBytes(StandardCharsets.US_ASCII));
    return value;
  }

  private void handle(HttpExchange exchange) throws IOException {
    // The exchange is closed after the catch: a try-with-resources would close it before, and the 500 would
    // never be sent.
    try {
      if (!exchange.getRemoteAddress().getAddress().isLoopbackAddress()) {
        send(exchange, 403, error("the admin API answers only on the loopback interface"));
        return;
      }
      if (!authorised(exchange.getRequestHeaders().getFirst("Authorization"))) {
        exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"tourniquet-agent\"");
        send(exchange, 401, error("expected the header Authorization: Bearer <token from admin.token> but "
            + (exchange.getRequestHeaders().containsKey("Authorization") ? "the token is wrong" : "found none")));
        return;
      }
      String path = exchange.getRequestURI().getPath();
      String method = exchange.getRequestMethod();
      String verb = switch (path) {
        case "/v1/status" -> "GET";
        case "/v1/check", "/v1/enable", "/v1/disable", "/v1/block", "/v1/unblock", "/v1/remove" -> "POST";
        default -> null;
      };
      if (verb == null) {
        send(exchange, 404, error("no such endpoint: " + path + "; expected /v1/status, /v1/check, /v1/enable,"
            + " /v1/disable, /v1/block, /v1/unblock or /v1/remove"));
        return;
      }
      if (!verb.equals(method)) {
        exchange.getResponseHeaders().set("Allow", verb);
        send(exchange, 405, error(path + ": expected " + verb + " but found " + method));
        return;
      }
      byte[] body = readBody(exchange);
      if (body == null) {
        send(exchange, 413, error("expected a body of at most " + MAX_BODY + " bytes"));
        return;
      }
      AgentStatus status;
      try {
        status = Workers.uninterruptibly(() -> switch (path) {
          case "/v1/status" -> agent.status();
          case "/v1/check" -> agent.check();
          case "/v1/enable" -> agent.enable();
          case "/v1/disable" -> agent.disable();
          case "/v1/block" -> agent.block(id(body));
          case "/v1/unblock" -> agent.unblock(id(body));
          default -> agent.remove(id(body));
        });
      } catch (IllegalArgumentException e) {
        send(exchange, 400, error(e.getMessage()));
        return;
      }
      send(exchange, 200, StatusJson.write(status));
    } catch (IOException | RuntimeException | Error e) {
      // An Error too (a class gone from a jar replaced under the agent): the client gets a 500 saying so,
      // not a closed connection.
      if (Workers.cutOff()) {
        // A client too slow (the watchdog logged it): no one to answer. Thrown to the HttpServer, which then
        // closes the connection and forgets it.
        throw e;
      }
      LOG.error("admin API: {} {} failed: {}", exchange.getRequestMethod(), exchange.getRequestURI().getPath(), e.toString(), e);
      try {
        send(exchange, 500, error("the agent failed: " + e.getMessage()));
      } catch (IOException | RuntimeException ignored) {
        // The response was already started; the client sees a broken answer.
      }
    } finally {
      exchange.close();
    }
  }

  private boolean authorised(String header) {
    if (header == null) {
      return false;
    }
    // Constant time: the comparison does not stop at the first differing byte.
    return MessageDigest.isEqual(header.getBytes(StandardCharsets.US_ASCII), token);
  }

  private static byte[] readBody(HttpExchange exchange) throws IOException {
    try (InputStream in = exchange.getRequestBody()) {
      byte[] bytes = in.readNBytes(MAX_BODY + 1);
      return bytes.length > MAX_BODY ? null : bytes;
    }
  }

  private static String id(byte[] body) {
    JsonNode node;
    try {
      node = BODY.readTree(body);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("expected a JSON body {\"id\": \"M1\"} but it does not parse: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new IllegalArgumentException("expected a JSON body {\"id\": \"M1\"} but it could not be read: " + e.getMessage());
    }
    if (node == null || !node.path("id").isTextual()) {
      throw new IllegalArgumentException("expected a JSON body {\"id\": \"M1\"} but found " + (node == null ? "nothing" : node));
    }
    for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!name.equals("id")) {
        throw new IllegalArgumentException("expected a JSON body {\"id\": \"M1\"} but found the unknown field "
            + JSON.valueToTree(name) + "; expected only id");
      }
    }
    return node.get("id").asText();
  }

  private static byte[] error(String message) {
    try {
      return JSON.writeValueAsBytes(JSON.createObjectNode().put("error", message));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void send(HttpExchange exchange, int code, byte[] body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    exchange.sendResponseHeaders(code, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  /**
   * The admin API's threads, which cut off a client too slow to send its request or to take its answer.
   *
   * <p>The JDK's HttpServer hands a connection to its executor once the first byte of a request arrives; the
   * executor's thread then reads the request line and headers, and the handler the body, with blocking reads
   * that have no timeout. A local user who sends half a request and waits holds a thread for as long as he
   * likes; with as many such connections as threads, no operator could block or remove a mitigation in an
   * emergency (slowloris). The JDK has no timeout per server: {@code sun.net.httpserver.maxReqTime} is a
   * system property read once per JVM, when its first HttpServer is made, so it would change every other
   * server in the JVM and silently not apply if another was made first.
   *
   * <p>So every exchange has a deadline here: {@link AdminServer#REQUEST_TIMEOUT} after the connection was handed over,
   * but at least {@link AdminServer#QUEUED_GRACE} after a thread takes it up (a request that waited in the queue behind
   * stalled ones has usually arrived whole and is read at once; a stalled one costs a thread only that long).
   * A watchdog interrupts the thread of an exchange past its deadline: the JDK reads and writes through a
   * blocking {@link java.nio.channels.SocketChannel}, an interruptible channel, so the blocked read ends and
   * the connection is closed. The agent's own work is never interrupted (an interrupt would close the files it
   * is writing): the handler runs it through {@link #uninterruptibly}, which lifts the deadline, and the
   * answer then has {@link AdminServer#REQUEST_TIMEOUT} to be taken. A connection that sends nothing holds no thread;
   * the JDK closes it after {@code sun.net.httpserver.idleInterval} (30 s by default), as it does an idle
   * kept-alive one.
   *
   * <p>What this bounds: a fixed number of stalled clients delays an answer by at most about
   * {@link AdminServer#REQUEST_TIMEOUT}, plus {@link AdminServer#QUEUED_GRACE} for every {@link AdminServer#THREADS} of them beyond the first
   * {@link AdminServer#THREADS}. A client that keeps opening new connections faster than they time out still delays it.
   * (Both deadlines are those of the {@link Timeouts} given, the constants named here in the agent.)
   */
  private static final class Workers implements Executor {
    private static final long TICK_MILLIS = 100;
    private static final ThreadLocal<Task> CURRENT = new ThreadLocal<>();

    private final Timeouts timeouts;
    private final ThreadPoolExecutor pool;
    private final ScheduledExecutorService watchdog;
    private final Set<Task> running = ConcurrentHashMap.newKeySet();

    Workers(Timeouts timeouts) {
      this.timeouts = timeouts;
      pool = new ThreadPoolExecutor(THREADS, THREADS, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
          daemon("tourniquet-admin"));
      pool.allowCoreThreadTimeOut(true); // an agent nobody talks to keeps no idle threads
      watchdog = Executors.newSingleThreadScheduledExecutor(daemon("tourniquet-admin-watchdog"));
      watchdog.scheduleWithFixedDelay(this::cutOffLate, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** Called by the HttpServer's dispatcher when a request starts to arrive; never blocks it. */
    @Override
    public void execute(Runnable exchange) {
      long handedOver = timeouts.ticker().getAsLong();
      pool.execute(() -> run(exchange, handedOver));
    }

    private void run(Runnable exchange, long handedOver) {
      long deadline = handedOver + timeouts.request().toNanos();
      long earliest = timeouts.ticker().getAsLong() + timeouts.queuedGrace().toNanos();
      Task task = new Task(Thread.currentThread(), deadline - earliest < 0 ? earliest : deadline, timeouts);
      CURRENT.set(task);
      running.add(task);
      try {
        exchange.run();
      } finally {
        running.remove(task);
        CURRENT.remove();
        task.finish();
      }
    }

    private void cutOffLate() {
      try {
        long now = timeouts.ticker().getAsLong();
        for (Task task : running) {
          if (task.cutOffIfLate(now)) {
            LOG.warn("admin API: closed a connection whose client took over {} s to send its request or to take its"
                + " answer", timeouts.request().toSeconds());
          }
        }
      } catch (RuntimeException e) {
        // A scheduled task that throws is never run again: log and keep watching.
        LOG.error("admin API: the watchdog of slow clients failed: {}", e.toString(), e);
      }
    }

    /**
     * Runs the agent's work for the exchange on this thread without a deadline, then gives the answer
     * {@link AdminServer#REQUEST_TIMEOUT} to be taken. Outside these threads it only runs {@code work}.
     *
     * @throws InterruptedIOException if the exchange was already cut off: the work is not done, since no one
     *     would learn that it was
     * @throws IOException if {@code work} throws it
     */
    static <T> T uninterruptibly(Work<T> work) throws IOException {
      Task task = CURRENT.get();
      if (task == null) {
        return work.run();
      }
      task.startWork();
      try {
        return work.run();
      } finally {
        task.endWork();
      }
    }

    /** Whether the exchange on this thread was cut off (its connection is closed; there is no one to answer). */
    static boolean cutOff() {
      Task task = CURRENT.get();
      return task != null && task.wasCutOff();
    }

    /** Stops taking exchanges and waits, at most 10 s, for those running (the server closed their connections). */
    void shutdown() {
      pool.shutdown();
      try {
        pool.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        watchdog.shutdownNow();
      }
    }

    /** The agent's work for an exchange. */
    @FunctionalInterface
    interface Work<T> {
      T run() throws IOException;
    }

    /** One exchange on one thread; the watchdog and that thread agree under its lock on when to interrupt. */
    private static final class Task {
      private final Thread thread;
      private final Timeouts timeouts;
      private long deadline; // on the ticker of the Timeouts, while not working
      private boolean working;
      private boolean cutOff;
      private boolean finished;

      Task(Thread thread, long deadline, Timeouts timeouts) {
        this.thread = thread;
        this.deadline = deadline;
        this.timeouts = timeouts;
      }

      synchronized boolean cutOffIfLate(long now) {
        if (finished || working || cutOff || now - deadline < 0) {
          return false;
        }
        cutOff = true;
        thread.interrupt();
        return true;
      }

      synchronized void startWork() throws InterruptedIOException {
        if (cutOff) {
          throw new InterruptedIOException(String.format(Locale.ROOT,
              "expected the request within %d s but the client was slower: its connection is closed",
              timeouts.request().toSeconds()));
        }
        working = true;
      }

      /** The work is done: the client has the request timeout from now to take the answer. */
      synchronized void endWork() {
        working = false;
        deadline = timeouts.ticker().getAsLong() + timeouts.request().toNanos();
      }

      synchronized boolean wasCutOff() {
        return cutOff;
      }

      /** On the exchange's own thread: no interrupt comes after this one, and none is left for the next exchange. */
      synchronized void finish() {
        finished = true;
        Thread.interrupted();
      }
    }

    private static ThreadFactory daemon(String name) {
      return r -> {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
      };
    }
  }
}
