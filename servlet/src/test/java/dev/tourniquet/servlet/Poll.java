package dev.tourniquet.servlet;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.locks.LockSupport;

/** Bounded polling: check a condition until it holds or a deadline passes, never a fixed sleep. */
final class Poll {
  private Poll() {}

  /**
   * Returns how long the condition took to hold.
   *
   * @throws AssertionError if it did not hold within the timeout
   */
  static Duration until(Duration timeout, String what, Callable<Boolean> condition) throws Exception {
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    while (true) {
      if (condition.call()) {
        return Duration.ofNanos(System.nanoTime() - start);
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("expected " + what + " within " + timeout.toMillis() + " ms but it did not happen");
      }
      LockSupport.parkNanos(5_000_000);
    }
  }
}
