package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Version;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Learns the installed product version as the configuration says, at every check. */
final class VersionProbe {
  private static final int MAX_BYTES = 4096;
  private static final long COMMAND_TIMEOUT_SECONDS = 30;

  private VersionProbe() {}

  static HostFacts facts(String product, AgentConfig.VersionSource source) {
    return facts(product, source, Duration.ofSeconds(COMMAND_TIMEOUT_SECONDS));
  }

  /** @param timeout how long a version command may run (30 s outside tests) */
  static HostFacts facts(String product, AgentConfig.VersionSource source, Duration timeout) {
    try {
      return HostFacts.of(product, version(source, timeout));
    } catch (IOException | IllegalArgumentException e) {
      return new HostFacts(product, Optional.empty(), e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new HostFacts(product, Optional.empty(), "interrupted while running the version command");
    }
  }

  private static Version version(AgentConfig.VersionSource source, Duration timeout)
      throws IOException, InterruptedException {
    if (source instanceof AgentConfig.VersionSource.Fixed f) {
      return f.version();
    }
    if (source instanceof AgentConfig.VersionSource.FromFile f) {
      try (InputStream in = Files.newInputStream(f.file())) {
        return parse(in.readNBytes(MAX_BYTES), "versionFile " + f.file());
      }
    }
    AgentConfig.VersionSource.FromCommand c = (AgentConfig.VersionSource.FromCommand) source;
    // The output goes to a file, not a pipe: reading a pipe waits for every writer to close it, so a command
    // that hangs, or leaves a child holding its output, would hold the check (and the agent's lock, and every
    // admin call) past any timeout. A file is read once the command has ended, or not at all.
    Path output = Files.createTempFile("tourniquet-version-", ".out");
    try {
      Process p = new ProcessBuilder(c.command()).redirectErrorStream(true).redirectOutput(output.toFile()).start();
      try {
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new IOException("versionCommand " + c.command() + " did not finish within " + timeout.toSeconds()
              + " s; it was stopped");
        }
        if (p.exitValue() != 0) {
          throw new IOException("versionCommand " + c.command() + " exited with " + p.exitValue());
        }
      } finally {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
      try (InputStream in = Files.newInputStream(output)) {
        return parse(in.readNBytes(MAX_BYTES), "versionCommand " + c.command());
      }
    } finally {
      Files.deleteIfExists(output);
    }
  }

  private static Version parse(byte[] bytes, String where) {
    String text = new String(bytes, StandardCharsets.UTF_8).strip();
    int nl = text.indexOf('\n');
    String line = (nl < 0 ? text : text.substring(0, nl)).strip();
    try {
      return Version.parse(line);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + ": " + e.getMessage());
    }
  }
}
