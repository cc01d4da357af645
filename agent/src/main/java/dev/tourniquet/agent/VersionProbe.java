package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Version;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Learns the installed product version as the configuration says, at every check. */
final class VersionProbe {
  private static final int MAX_BYTES = 4096;
  private static final long COMMAND_TIMEOUT_SECONDS = 30;

  private VersionProbe() {}

  static HostFacts facts(String product, AgentConfig.VersionSource source) {
    try {
      return HostFacts.of(product, version(source));
    } catch (IOException | IllegalArgumentException e) {
      return new HostFacts(product, Optional.empty(), e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new HostFacts(product, Optional.empty(), "interrupted while running the version command");
    }
  }

  private static Version version(AgentConfig.VersionSource source) throws IOException, InterruptedException {
    if (source instanceof AgentConfig.VersionSource.Fixed f) {
      return f.version();
    }
    if (source instanceof AgentConfig.VersionSource.FromFile f) {
      try (InputStream in = Files.newInputStream(f.file())) {
        return parse(in.readNBytes(MAX_BYTES), "versionFile " + f.file());
      }
    }
    AgentConfig.VersionSource.FromCommand c = (AgentConfig.VersionSource.FromCommand) source;
    Process p = new ProcessBuilder(c.command()).redirectErrorStream(true).start();
    try (InputStream in = p.getInputStream()) {
      byte[] out = in.readNBytes(MAX_BYTES);
      if (!p.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        throw new IOException("versionCommand " + c.command() + " did not finish within " + COMMAND_TIMEOUT_SECONDS + " s");
      }
      if (p.exitValue() != 0) {
        throw new IOException("versionCommand " + c.command() + " exited with " + p.exitValue());
      }
      return parse(out, "versionCommand " + c.command());
    } finally {
      p.destroyForcibly();
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
