package dev.tourniquet.server;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agents' server-sent-event streams ({@code GET /api/v1/agent/events}): a {@code feed} event when a
 * hosted feed's timestamp changes, a {@code policy} event when the agent's effective policy changes, and
 * a comment line as keep-alive. Events are hints without content: the agent fetches and verifies as on a
 * scheduled check.
 *
 * <p>Writes are asynchronous (Jetty's {@link Response#write}), one at a time per stream through a small
 * queue, so a stream holds no thread. A stream whose client is gone fails on its next write (at the
 * latest the keep-alive) and is dropped; one whose queue backs up (a client that stopped reading) is
 * closed. The number of streams is bounded per agent (a new stream beyond the bound closes the agent's
 * oldest, since an agent that reconnects after a network failure is usually the one whose old stream is
 * dead) and overall (beyond that bound a new stream is refused with 429).
 */
final class EventStreams {
  private static final Logger LOG = LoggerFactory.getLogger(EventStreams.class);
  /** A client this far behind is closed; it reconnects and is then up to date. */
  private static final int MAX_QUEUED = 32;

  private final int maxPerAgent;
  private final int maxTotal;
  private final ExecutorService worker;
  private final Map<String, List<Stream>> byAgent = new HashMap<>();
  private int total;
  /** Whether a recomputation of every stream's policy is queued and has not started yet. */
  private final AtomicBoolean allQueued = new AtomicBoolean();

  EventStreams(int maxPerAgent, int maxTotal, ExecutorService worker) {
    this.maxPerAgent = maxPerAgent;
    this.maxTotal = maxTotal;
    this.worker = worker;
  }

  /** Opens a stream for an authenticated agent, or refuses with 429 when a bound is reached. */
  Stream open(String agentId, String server, String policyFingerprint, Request request, Response response,
      Callback callback) throws HttpException {
    Stream stream;
    Stream evicted = null;
    synchronized (this) {
      List<Stream> mine = byAgent.getOrDefault(agentId, List.of());
      if (mine.size() >= maxPerAgent) {
        // The newest connection is the live one: an agent that reconnects after a network failure must not
        // wait until the server notices that its old connection is dead (the next keep-alive writes).
        evicted = mine.get(0);
        mine.remove(0);
        total--;
      }
      if (total >= maxTotal) {
        throw new HttpException(429, "this server holds " + total + " event streams, its limit; retry later or"
            + " poll");
      }
      stream = new Stream(agentId, policyFingerprint, response, callback);
      byAgent.computeIfAbsent(agentId, k -> new ArrayList<>()).add(stream);
      total++;
    }
    if (evicted != null) {
      LOG.info("server {} opened more than {} event streams; closing its oldest", server, maxPerAgent);
      evicted.finish();
    }
    request.addFailureListener(stream::fail);
    response.setStatus(200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    response.getHeaders().put("X-Accel-Buffering", "no");
    stream.send(": connected to the Tourniquet fleet server\n\n");
    return stream;
  }

  synchronized int count() {
    return total;
  }

  synchronized int count(String agentId) {
    return byAgent.getOrDefault(agentId, List.of()).size();
  }

  private synchronized List<Stream> all() {
    List<Stream> out = new ArrayList<>();
    byAgent.values().forEach(out::addAll);
    return out;
  }

  private synchronized List<Stream> of(String agentId) {
    return new ArrayList<>(byAgent.getOrDefault(agentId, List.of()));
  }

  private synchronized void remove(Stream s) {
    List<Stream> mine = byAgent.get(s.agentId);
    if (mine != null && mine.remove(s)) {
      total--;
      if (mine.isEmpty()) {
        byAgent.remove(s.agentId);
      }
    }
  }

  /** A hosted feed's timestamp changed: tell every stream once per new timestamp. */
  void feedChanged(String feed, String hash) {
    byte[] event = ("event: feed\ndata: " + new String(JsonBodies.write(Map.of("feed", feed)), StandardCharsets.UTF_8)
        + "\n\n").getBytes(StandardCharsets.UTF_8);
    for (Stream s : all()) {
      if (!hash.equals(s.feedHashes.put(feed, hash))) {
        s.send(event);
      }
    }
  }

  /**
   * The effective policy of one agent or all ({@code *}) may have changed: recompute it for each affected
   * stream on the worker thread and send {@code event: policy} where it did. The function returns the
   * agent's policy fingerprint, or empty if the agent no longer exists (its streams are then closed).
   */
  void policyMayHaveChanged(String agentIdOrAll, Function<String, Optional<String>> fingerprint) {
    boolean everyone = "*".equals(agentIdOrAll);
    // A fleet-wide notice costs a policy read per connected agent. They come in bursts (a failing
    // mitigation makes every failing agent's report one), so one queued recomputation serves every notice
    // that arrives before it starts: it reads the database after all of their changes were committed.
    // Without this, N failing agents queue N x N reads ahead of the operator's block of the mitigation.
    if (everyone && !allQueued.compareAndSet(false, true)) {
      return;
    }
    worker.execute(() -> {
      if (everyone) {
        allQueued.set(false); // a change from now on may be missed by this run: it queues the next one
      }
      List<Stream> streams = everyone ? all() : of(agentIdOrAll);
      Map<String, Optional<String>> computed = new HashMap<>();
      for (Stream s : streams) {
        Optional<String> now;
        try {
          now = computed.computeIfAbsent(s.agentId, fingerprint);
        } catch (RuntimeException e) {
          LOG.warn("could not compute the policy of agent {}: {}", s.agentId, e.toString());
          continue;
        }
        if (now.isEmpty()) {
          s.finish();
        } else if (!now.get().equals(s.policyFingerprint)) {
          s.policyFingerprint = now.get();
          s.send("event: policy\ndata: {}\n\n");
        }
      }
    });
  }

  void keepAlive() {
    for (Stream s : all()) {
      s.send(": keep-alive\n\n");
    }
  }

  /** Ends every stream (server stopping). */
  void closeAll() {
    for (Stream s : all()) {
      s.finish();
    }
  }

  /** One open stream. */
  final class Stream {
    private final String agentId;
    private final Response response;
    private final Callback callback;
    private final ArrayDeque<ByteBuffer> queue = new ArrayDeque<>();
    private final Map<String, String> feedHashes = new ConcurrentHashMap<>();
    private volatile String policyFingerprint;
    private boolean writing;
    private boolean done;
    private boolean finishing;

    Stream(String agentId, String policyFingerprint, Response response, Callback callback) {
      this.agentId = agentId;
      this.policyFingerprint = policyFingerprint;
      this.response = response;
      this.callback = callback;
    }

    void send(String text) {
      send(text.getBytes(StandardCharsets.UTF_8));
    }

    void send(byte[] bytes) {
      synchronized (this) {
        if (done || finishing) {
          return;
        }
        if (queue.size() >= MAX_QUEUED) {
          fail(new IllegalStateException("client is not reading; " + MAX_QUEUED + " events queued"));
          return;
        }
        queue.add(ByteBuffer.wrap(bytes));
        if (writing) {
          return;
        }
        writing = true;
      }
      writeNext();
    }

    private void writeNext() {
      ByteBuffer next;
      boolean last;
      synchronized (this) {
        next = queue.poll();
        if (next == null) {
          writing = false;
          if (!finishing || done) {
            return;
          }
          done = true;
          last = true;
        } else {
          last = false;
        }
      }
      if (last) {
        remove(this);
        response.write(true, ByteBuffer.allocate(0), callback);
        return;
      }
      response.write(false, next, Callback.from(this::writeNext, this::fail));
    }

    /** Ends the stream normally once queued events are written. */
    void finish() {
      synchronized (this) {
        if (done || finishing) {
          return;
        }
        finishing = true;
        if (writing) {
          return;
        }
        writing = true;
      }
      writeNext();
    }

    void fail(Throwable cause) {
      synchronized (this) {
        if (done) {
          return;
        }
        done = true;
        queue.clear();
      }
      remove(this);
      LOG.debug("event stream of agent {} closed: {}", agentId, cause.toString());
      callback.failed(cause);
    }
  }
}
