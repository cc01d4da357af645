package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * A clock for the admin API's deadlines ({@link AdminServer.Timeouts#ticker}) that moves only when a test moves
 * it, and that counts who read it: a test that moves it past a deadline waits until the watchdog has looked at
 * the new time, instead of sleeping until the real clock gets there.
 */
final class ManualTicker implements LongSupplier {
  /** The name the watchdog thread of the admin API's workers has. */
  private static final String WATCHDOG = "tourniquet-admin-watchdog";

  private long now = 1_000_000_000L;
  private long watchdogReads;
  private long workerReads;

  @Override
  public synchronized long getAsLong() {
    String thread = Thread.currentThread().getName();
    if (thread.equals(WATCHDOG)) {
      watchdogReads++;
    } else if (thread.startsWith("tourniquet-admin")) {
      workerReads++;
    }
    notifyAll();
    return now;
  }

  /** Moves the clock on, then waits until the watchdog has read it twice: once may have begun before the move. */
  synchronized void advanceAndAwaitTheWatchdog(Duration by) throws InterruptedException {
    now += by.toNanos();
    long until = watchdogReads + 2;
    await(() -> watchdogReads >= until, "the watchdog to look at the clock twice after it moved");
  }

  /** How often the workers read the clock so far: a worker that takes up an exchange reads it for its deadline. */
  synchronized long workerReads() {
    return workerReads;
  }

  /** Waits until a worker has read the clock after {@code before} reads: it took up the next exchange. */
  synchronized void awaitAnExchangeTakenUp(long before) throws InterruptedException {
    await(() -> workerReads > before, "a worker to take up the exchange");
  }

  private void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (!condition.getAsBoolean()) {
      long left = deadline - System.nanoTime();
      assertThat(left).as("time left for " + what).isPositive();
      wait(Math.max(1, left / 1_000_000));
    }
  }
}
