package dev.tourniquet.agent.enforce.service;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * What the three managers share: running a command with a timeout and turning a failure into a message
 * that names the command and quotes its answer, and waiting for a service to settle into a state with a
 * deadline (a stop or start may answer before the service has finished stopping or starting).
 */
final class Commands {
  /** The most of a command's output quoted in an error message. */
  private static final int MAX_QUOTED = 600;

  private final CommandRunner runner;
  private final Duration timeout;
  private final Duration settle;
  private final Duration poll;

  /**
   * @param runner runs the commands
   * @param timeout how long one command may run
   * @param settle how long a service may take to reach the expected state after a step
   * @param poll the pause between two queries while waiting
   */
  Commands(CommandRunner runner, Duration timeout, Duration settle, Duration poll) {
    this.runner = Objects.requireNonNull(runner, "runner");
    this.timeout = positive(timeout, "timeout");
    this.settle = Objects.requireNonNull(settle, "settle");
    this.poll = Objects.requireNonNull(poll, "poll");
    if (settle.isNegative() || poll.isNegative()) {
      throw new IllegalArgumentException("settle and poll: expected durations of zero or more but found "
          + settle + " and " + poll);
    }
  }

  private static Duration positive(Duration d, String name) {
    Objects.requireNonNull(d, name);
    if (d.isZero() || d.isNegative()) {
      throw new IllegalArgumentException(name + ": expected a positive duration but found " + d);
    }
    return d;
  }

  Duration timeout() {
    return timeout;
  }

  /** Runs a command; any exit code is returned, only a failure to run at all throws. */
  CommandRunner.Result run(List<String> argv) throws ServiceManagerException {
    try {
      return runner.run(argv, timeout);
    } catch (IOException e) {
      throw new ServiceManagerException("could not run `" + String.join(" ", argv) + "`: " + e.getMessage(), e);
    }
  }

  /** Runs a command that must exit with 0 or one of {@code accepted}. */
  CommandRunner.Result runExpecting(List<String> argv, int... accepted) throws ServiceManagerException {
    CommandRunner.Result result = run(argv);
    if (result.exitCode() == 0) {
      return result;
    }
    for (int code : accepted) {
      if (result.exitCode() == code) {
        return result;
      }
    }
    throw failed(argv, result, "exit code 0");
  }

  /** An exception for a command whose answer was not the expected one. */
  static ServiceManagerException failed(List<String> argv, CommandRunner.Result result, String expected) {
    return new ServiceManagerException(String.format(Locale.ROOT, "`%s` exited with %d: %s (expected %s)",
        String.join(" ", argv), result.exitCode(), quote(result.output()), expected));
  }

  /** Quotes a command's output for a message: at most {@link #MAX_QUOTED} characters, lines joined. */
  static String quote(String output) {
    String oneLine = output.strip().replaceAll("\\s*\\R\\s*", " | ");
    if (oneLine.isEmpty()) {
      return "no output";
    }
    return oneLine.length() <= MAX_QUOTED ? oneLine : oneLine.substring(0, MAX_QUOTED) + "…";
  }

  /** A query of one service's state, as each manager implements it. */
  interface Query {
    Optional<ServiceState> get() throws ServiceManagerException;
  }

  /**
   * Queries until the state satisfies {@code expected}, at most until the settle deadline; the first query
   * happens at once. A service that disappears while we wait is a failure.
   *
   * @param known a state just queried, tested before querying again; null to query first
   * @param what what the wait is for, e.g. {@code "msexchangeum to stop"}
   * @param want the expected state in words, for the message
   */
  ServiceState await(ServiceState known, Query query, Predicate<ServiceState> expected, String what, String want)
      throws ServiceManagerException {
    long deadline = System.nanoTime() + settle.toNanos();
    Optional<ServiceState> first = Optional.ofNullable(known);
    while (true) {
      Optional<ServiceState> state = first.isPresent() ? first : query.get();
      first = Optional.empty();
      if (state.isEmpty()) {
        throw new ServiceManagerException("waiting for " + what + ": expected " + want
            + " but the service no longer exists");
      }
      if (expected.test(state.get())) {
        return state.get();
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new ServiceManagerException(String.format(Locale.ROOT, "waiting for %s: expected %s within %s but"
            + " found %s", what, want, settle, state.get()));
      }
      pause();
    }
  }

  private void pause() throws ServiceManagerException {
    if (poll.isZero()) {
      return;
    }
    try {
      Thread.sleep(poll.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ServiceManagerException("interrupted while waiting for a service to settle", e);
    }
  }
}
