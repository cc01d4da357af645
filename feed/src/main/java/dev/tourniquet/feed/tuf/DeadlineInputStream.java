package dev.tourniquet.feed.tuf;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A download that must end by a deadline (TUF's slow retrieval attack: a server, a mirror or a man in the
 * middle that sends a byte now and then holds a client's check for ever, since an HTTP client's timeout
 * covers the headers, not the body). When the time is up the stream is closed, which also ends a read
 * blocked on it, and every read from then on throws.
 */
final class DeadlineInputStream extends FilterInputStream {
  /** One daemon thread for every download's deadline; a cancelled deadline leaves its queue at once. */
  private static final ScheduledThreadPoolExecutor TIMER = timer();

  private final Duration within;
  private final String what;
  private final ScheduledFuture<?> deadline;
  private volatile boolean expired;

  DeadlineInputStream(InputStream in, Duration within, String what) {
    super(in);
    this.within = within;
    this.what = what;
    this.deadline = TIMER.schedule(this::expire, within.toNanos(), TimeUnit.NANOSECONDS);
  }

  private static ScheduledThreadPoolExecutor timer() {
    ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "tourniquet-download-deadline");
      t.setDaemon(true);
      return t;
    });
    timer.setRemoveOnCancelPolicy(true);
    return timer;
  }

  private void expire() {
    expired = true;
    try {
      in.close();
    } catch (IOException | RuntimeException e) {
      // The reader's next read fails anyway.
    }
  }

  private void check() throws IOException {
    if (expired) {
      throw new IOException(what + ": the download did not end within " + within.toSeconds()
          + " s (a server that sends slowly is treated as unreachable)");
    }
  }

  @Override
  public int read() throws IOException {
    check();
    int b;
    try {
      b = in.read();
    } catch (IOException e) {
      check();
      throw e;
    }
    check();
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    check();
    int n;
    try {
      n = in.read(b, off, len);
    } catch (IOException e) {
      check();
      throw e;
    }
    // Closed at the deadline, the stream may look ended: that is not the end of the file.
    check();
    return n;
  }

  @Override
  public void close() throws IOException {
    deadline.cancel(false);
    in.close();
  }
}
