package dev.tourniquet.agent.fleet;

import java.time.Duration;
import java.util.function.DoubleSupplier;

/**
 * Exponential backoff with full jitter (a delay drawn uniformly between zero and the exponential bound),
 * so that agents that lost the same server do not all come back at the same moment.
 */
final class Backoff {
  private final Duration base;
  private final Duration cap;
  private final DoubleSupplier random;
  private int failures;

  Backoff(Duration base, Duration cap, DoubleSupplier random) {
    this.base = base;
    this.cap = cap;
    this.random = random;
  }

  /** The delay before the next attempt after one more failure. */
  Duration next() {
    long bound = bound(failures++);
    return Duration.ofMillis((long) (random.getAsDouble() * bound));
  }

  /** The upper bound of the delay after {@code failures} failures: base × 2^failures, at most the cap. */
  long bound(int failures) {
    long capMillis = cap.toMillis();
    long b = base.toMillis();
    for (int i = 0; i < failures && b < capMillis; i++) {
      b *= 2;
    }
    return Math.min(b, capMillis);
  }

  void reset() {
    failures = 0;
  }
}
