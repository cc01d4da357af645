package dev.tourniquet.agent.enforce.service;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Runs commands as real processes. Output goes to two private temporary files rather than pipes, so a
 * command that writes a lot to both streams can never block on a full pipe while we wait for it, and no
 * reader thread is needed; each stream is read back up to {@link #MAX_OUTPUT} bytes.
 */
final class ProcessCommandRunner implements CommandRunner {
  /** The most output kept from each stream; service managers answer in a few hundred bytes. */
  static final int MAX_OUTPUT = 1 << 20;

  /** How long a killed command gets to disappear before we give up waiting for it. */
  private static final Duration KILL_WAIT = Duration.ofSeconds(5);

  @Override
  public Result run(List<String> argv, Duration timeout) throws IOException {
    List<String> command = List.copyOf(argv);
    if (command.isEmpty()) {
      throw new IllegalArgumentException("argv: expected a program and its arguments but found none");
    }
    Path out = Files.createTempFile("tourniquet-cmd-", ".out");
    Path err = Files.createTempFile("tourniquet-cmd-", ".err");
    try {
      ProcessBuilder builder = new ProcessBuilder(command)
          .redirectOutput(out.toFile())
          .redirectError(err.toFile());
      Process process = builder.start();
      process.getOutputStream().close();
      boolean finished;
      try {
        finished = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        kill(process);
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while running " + String.join(" ", command), e);
      }
      if (!finished) {
        kill(process);
        throw new IOException(String.format(Locale.ROOT, "%s did not finish within %s and was killed",
            String.join(" ", command), timeout));
      }
      return new Result(process.exitValue(), read(out), read(err));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  private static void kill(Process process) {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    try {
      process.waitFor(KILL_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static String read(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return new String(in.readNBytes(MAX_OUTPUT), StandardCharsets.UTF_8);
    }
  }
}
