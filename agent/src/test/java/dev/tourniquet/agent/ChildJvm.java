package dev.tourniquet.agent;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A test's child JVM on the test class path, for what only another process can show: being killed with
 * SIGKILL ({@link Process#destroyForcibly()}). Its standard output is read line by line; its standard error
 * goes to a file that a failed wait quotes.
 */
public final class ChildJvm implements AutoCloseable {
  private static final String END = "<end of output>";

  private final Process process;
  private final Path stderr;
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

  private ChildJvm(Process process, Path stderr) {
    this.process = process;
    this.stderr = stderr;
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = in.readLine(); line != null; line = in.readLine()) {
          lines.add(line);
        }
      } catch (IOException e) {
        // The child was killed; the queue has what it wrote.
      } finally {
        lines.add(END);
      }
    }, "child output " + process.pid());
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Starts {@code main} with {@code args} in a new JVM.
   *
   * @param stderr where the child's standard error goes
   */
  public static ChildJvm start(Path stderr, Class<?> main, String... args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    command.add("-cp");
    command.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
    command.add(main.getName());
    command.addAll(List.of(args));
    return new ChildJvm(new ProcessBuilder(command).redirectError(stderr.toFile()).start(), stderr);
  }

  /** The child process. */
  public Process process() {
    return process;
  }

  /**
   * Returns the first line of the child's output that starts with {@code prefix}, waiting at most
   * {@code wait}.
   *
   * @throws AssertionError if the child's output ends, or {@code wait} passes, before such a line
   */
  public String awaitLine(String prefix, Duration wait) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + wait.toNanos();
    List<String> seen = new ArrayList<>();
    while (true) {
      String line = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (line == null || line.equals(END)) {
        throw new AssertionError("expected a line starting with " + prefix + " from the child but found " + seen
            + (line == null ? " within " + wait : " before it ended") + "; stderr: " + Files.readString(stderr));
      }
      seen.add(line);
      if (line.startsWith(prefix)) {
        return line;
      }
    }
  }

  /**
   * Kills the child with SIGKILL on Unix (no shutdown hook, no {@code finally} runs in it) and waits for it
   * to end.
   *
   * @throws AssertionError if it has not ended within {@code wait}
   */
  public void kill(Duration wait) throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(wait.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("the child " + process.pid() + " did not die within " + wait + " of SIGKILL");
    }
  }

  /** Kills the child if it still runs. */
  @Override
  public void close() {
    process.destroyForcibly();
  }
}
