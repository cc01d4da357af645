package dev.tourniquet.agent;

import java.time.Duration;

/**
 * When to check next, as pure functions of the interval, the number of consecutive failures and a random
 * number in [0, 1) supplied by the caller.
 *
 * <ul>
 *   <li>After a successful check: the interval ±10% (jitter spreads a fleet's polls).
 *   <li>After the n-th consecutive failure: exponential backoff with full jitter (a uniform delay between 0
 *       and min(interval, 1 min × 2<sup>n</sup>)), but never sooner than one minute.
 * </ul>
 */
final class Schedule {
  /** The shortest delay between two checks after a failure. */
  static final Duration MIN_RETRY = Duration.ofMinutes(1);

  private Schedule() {}

  /**
   * Returns the delay after a successful check.
   *
   * @param interval the configured interval
   * @param random a number in [0, 1)
   * @return a delay in [0.9 × interval, 1.1 × interval)
   */
  static Duration afterSuccess(Duration interval, double random) {
    long millis = interval.toMillis();
    return Duration.ofMillis(Math.round(millis * 0.9 + millis * 0.2 * clamp(random)));
  }

  /**
   * Returns the delay after a failed check.
   *
   * @param interval the configured interval, which caps the backoff (at least one minute)
   * @param failures consecutive failures so far, at least 1
   * @param random a number in [0, 1)
   * @return a delay in [1 minute, max(1 minute, min(interval, 1 minute × 2^failures))]
   */
  static Duration afterFailure(Duration interval, int failures, double random) {
    long cap = Math.max(MIN_RETRY.toMillis(), interval.toMillis());
    int exponent = Math.min(Math.max(failures, 1), 30);
    long ceiling = Math.min(cap, MIN_RETRY.toMillis() << exponent);
    long delay = (long) (ceiling * clamp(random));
    return Duration.ofMillis(Math.max(MIN_RETRY.toMillis(), delay));
  }

  private static double clamp(double random) {
    if (!(random >= 0) || random >= 1) {
      throw new IllegalArgumentException("expected a random number in [0, 1) but found " + random);
    }
    return random;
  }
}
