package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The check schedule as pure functions: interval jitter and backoff bounds. */
class ScheduleTest {
  private static final Duration HOUR = Duration.ofHours(1);

  @ParameterizedTest
  @CsvSource({"0.0, 3240000", "0.25, 3420000", "0.5, 3600000", "0.75, 3780000", "0.999999, 3959999"})
  void afterSuccessTheDelayIsTheIntervalWithinTenPercent(double random, long millis) {
    Duration d = Schedule.afterSuccess(HOUR, random);

    assertThat(d.toMillis()).isEqualTo(millis);
    assertThat(d).isBetween(Duration.ofMinutes(54), Duration.ofMinutes(66));
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 3, 5, 8, 20, 1000})
  void afterAFailureTheDelayIsAtLeastAMinuteAndAtMostTheCappedExponential(int failures) {
    long ceiling = Math.min(HOUR.toMillis(), Duration.ofMinutes(1).toMillis() << Math.min(failures, 30));
    for (double random : new double[] {0.0, 0.001, 0.25, 0.5, 0.75, 0.999999}) {
      Duration d = Schedule.afterFailure(HOUR, failures, random);

      assertThat(d).isGreaterThanOrEqualTo(Duration.ofMinutes(1));
      assertThat(d.toMillis()).isLessThanOrEqualTo(Math.max(ceiling, 60_000));
    }
  }

  @ParameterizedTest
  @CsvSource({"1, 120000", "2, 240000", "3, 480000", "6, 3600000", "30, 3600000"})
  void fullJitterSpansUpToTheExponentialCeilingCappedByTheInterval(int failures, long ceilingMillis) {
    assertThat(Schedule.afterFailure(HOUR, failures, 0.999999).toMillis()).isBetween(ceilingMillis - 10, ceilingMillis);
    assertThat(Schedule.afterFailure(HOUR, failures, 0.0)).isEqualTo(Duration.ofMinutes(1));
  }

  @ParameterizedTest
  @ValueSource(doubles = {-0.1, 1.0, Double.NaN})
  void aRandomNumberOutsideTheUnitIntervalIsRefused(double random) {
    assertThatThrownBy(() -> Schedule.afterSuccess(HOUR, random))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected a random number in [0, 1)");
  }
}
