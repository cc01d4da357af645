package dev.tourniquet.agent.enforce.service;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * A {@link CommandRunner} that plays a script: each command must be the next expected argv, exactly, and
 * gets the recorded answer (a sample from {@code src/test/resources/service/}). Every command issued is
 * kept, so a test can also assert the whole sequence; a command beyond the script fails the test.
 */
final class ScriptedRunner implements CommandRunner {
  private record Step(List<String> argv, Result result, boolean repeat) {}

  private final Deque<Step> script = new ArrayDeque<>();
  private final List<List<String>> issued = new ArrayList<>();

  /** Expects a command next and answers it with exit code, stdout sample and stderr sample (null: none). */
  ScriptedRunner expect(List<String> argv, int exitCode, String stdoutSample, String stderrSample) {
    script.add(new Step(List.copyOf(argv), new Result(exitCode, sample(stdoutSample), sample(stderrSample)), false));
    return this;
  }

  /**
   * Expects a command once or more and answers every one the same way, until a different command comes
   * (which then must be the script's next step): a service that never settles.
   */
  ScriptedRunner expectRepeatedly(List<String> argv, String stdoutSample) {
    script.add(new Step(List.copyOf(argv), new Result(0, sample(stdoutSample), ""), true));
    return this;
  }

  /** Expects a command that succeeds with a stdout sample. */
  ScriptedRunner expect(List<String> argv, String stdoutSample) {
    return expect(argv, 0, stdoutSample, null);
  }

  @Override
  public Result run(List<String> argv, Duration timeout) {
    issued.add(List.copyOf(argv));
    Step head = script.peek();
    if (head != null && head.repeat()) {
      if (head.argv().equals(argv)) {
        return head.result();
      }
      script.poll();
    }
    Step next = script.poll();
    if (next == null) {
      throw new AssertionError("unexpected command beyond the script: " + String.join(" ", argv)
          + "\nissued so far: " + issued);
    }
    assertThat(argv).as("command #%d", issued.size()).containsExactlyElementsOf(next.argv());
    return next.result();
  }

  /** Returns every command issued, in order. */
  List<List<String>> issued() {
    return List.copyOf(issued);
  }

  /** Forgets the commands issued so far (the script must be played out). */
  ScriptedRunner reset() {
    assertPlayedOut();
    issued.clear();
    return this;
  }

  void assertPlayedOut() {
    assertThat(script).as("commands the script expected but that were never issued").isEmpty();
  }

  /** Reads a sample from the test resources, e.g. {@code windows/qc-auto.out}; null gives "". */
  static String sample(String name) {
    if (name == null) {
      return "";
    }
    try (InputStream in = ScriptedRunner.class.getResourceAsStream("/service/" + name)) {
      if (in == null) {
        throw new IllegalArgumentException("no test sample /service/" + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
