package dev.tourniquet.agent.enforce.service;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Runs one command as an argument vector, never through a shell: a service name is always one argv
 * element, whatever it contains. The service managers issue every command through this interface, so tests
 * substitute a recorder that checks the exact argv and plays back real output.
 */
interface CommandRunner {

  /**
   * Runs a command to completion, with nothing on its standard input.
   *
   * @param argv the program and its arguments, each one element
   * @param timeout how long the command may run before it (and its descendants) are killed
   * @return the exit code and the captured output
   * @throws IOException if the command could not start, its output could not be read, or it ran past the
   *     timeout (the message says which)
   */
  Result run(List<String> argv, Duration timeout) throws IOException;

  /**
   * What a command answered.
   *
   * @param exitCode the process exit code
   * @param stdout everything it wrote to standard output (capped)
   * @param stderr everything it wrote to standard error (capped)
   */
  record Result(int exitCode, String stdout, String stderr) {
    public Result {
      Objects.requireNonNull(stdout, "stdout");
      Objects.requireNonNull(stderr, "stderr");
    }

    /** Returns standard output and standard error together, trimmed, for error messages. */
    String output() {
      String out = stdout.strip();
      String err = stderr.strip();
      if (out.isEmpty()) {
        return err;
      }
      return err.isEmpty() ? out : out + "\n" + err;
    }
  }
}
