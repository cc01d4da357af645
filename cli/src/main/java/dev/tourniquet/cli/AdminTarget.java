package dev.tourniquet.cli;

import dev.tourniquet.agent.AdminClient;
import dev.tourniquet.agent.AgentConfig;
import dev.tourniquet.agent.ConfigException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

/**
 * Which running agent an operator command talks to: found through its configuration file or directly
 * through its state directory, where the agent keeps the admin API's port and token.
 */
final class AdminTarget {
  /**
   * Returns the configuration file of a packaged install: {@code /etc/tourniquet/agent.yaml}, or
   * {@code %ProgramData%\Tourniquet\agent.yaml} on Windows (see dist/).
   */
  static Path defaultConfig() {
    if (System.getProperty("os.name", "").startsWith("Windows")) {
      String programData = System.getenv("ProgramData");
      return Path.of(programData == null ? "C:\\ProgramData" : programData, "Tourniquet", "agent.yaml");
    }
    return Path.of("/etc/tourniquet/agent.yaml");
  }

  @ArgGroup(exclusive = true, multiplicity = "0..1")
  Where where;

  @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "120",
      description = "How long to wait for the agent's answer (a check fetches the feed), default ${DEFAULT-VALUE}.")
  long timeoutSeconds;

  static final class Where {
    @Option(names = "--config", paramLabel = "FILE",
        description = "The agent's configuration file (default /etc/tourniquet/agent.yaml, on Windows"
            + " %%ProgramData%%\\Tourniquet\\agent.yaml); its stateDir is used.")
    Path config;

    @Option(names = "--state-dir", paramLabel = "DIR", description = "The agent's state directory.")
    Path stateDir;
  }

  /** Returns the state directory named on the command line or by the configuration. */
  Path stateDir() throws Verb.Failed, Verb.Invalid {
    if (where != null && where.stateDir != null) {
      return where.stateDir;
    }
    Path config = where != null && where.config != null ? where.config : defaultConfig();
    try {
      return AgentConfig.load(config).stateDir();
    } catch (ConfigException e) {
      throw new Verb.Invalid(e.getMessage());
    } catch (java.nio.file.NoSuchFileException e) {
      throw new Verb.Failed(config + ": no such file; name the agent with --config FILE or --state-dir DIR");
    } catch (IOException e) {
      throw new Verb.Failed(config + ": cannot read the configuration: " + e.getMessage());
    }
  }

  AdminClient client() throws Verb.Failed, Verb.Invalid {
    if (timeoutSeconds < 1) {
      throw new Verb.Invalid("--timeout: expected at least 1 second but found " + timeoutSeconds);
    }
    try {
      return AdminClient.forStateDirectory(stateDir(), Duration.ofSeconds(timeoutSeconds));
    } catch (IOException e) {
      throw new Verb.Failed(e.getMessage());
    }
  }
}
