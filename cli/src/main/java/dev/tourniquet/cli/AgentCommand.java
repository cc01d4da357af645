package dev.tourniquet.cli;

import dev.tourniquet.agent.Agent;
import dev.tourniquet.agent.AgentConfig;
import dev.tourniquet.agent.ConfigException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tourniquet agent --config FILE}: runs the agent in the foreground until stopped (SIGTERM, Ctrl-C,
 * or the service manager), as the systemd unit and the Windows service in {@code dist/} do.
 */
@Command(name = "agent", mixinStandardHelpOptions = true,
    description = {"Run the agent: poll the signed feed, verify, plan, enforce, record and report, until stopped.",
        "Configuration keys: docs/operating.md."})
final class AgentCommand extends Verb {
  @Option(names = "--config", paramLabel = "FILE",
      description = "The configuration file, default /etc/tourniquet/agent.yaml (on Windows %%ProgramData%%\\Tourniquet\\agent.yaml).")
  Path config;

  @Option(names = "--check-config", description = "Only read and validate the configuration, then exit.")
  boolean checkOnly;

  @Override
  void run() throws Exception {
    if (config == null) {
      config = AdminTarget.defaultConfig();
    }
    AgentConfig cfg;
    try {
      cfg = AgentConfig.load(config);
    } catch (ConfigException e) {
      throw new Invalid(e.getMessage());
    } catch (java.nio.file.NoSuchFileException e) {
      throw new Failed(config + ": no such file");
    }
    Agent agent;
    try {
      agent = Agent.builder(cfg).build();
    } catch (ConfigException e) {
      throw new Invalid(e.getMessage());
    }
    if (checkOnly) {
      out().println(config + ": valid; " + cfg.targets().size() + " target(s), state in " + cfg.stateDir());
      return;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      try {
        agent.close();
      } catch (Exception e) {
        System.err.println("tourniquet: stopping the agent: " + e.getMessage());
      } finally {
        stopped.countDown();
      }
    }, "tourniquet-agent-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      agent.start();
    } catch (Exception e) {
      Runtime.getRuntime().removeShutdownHook(hook);
      agent.close();
      throw new Failed("the agent could not start: " + e.getMessage());
    }
    out().println("tourniquet agent running for " + cfg.serverName() + "; state in " + cfg.stateDir());
    out().flush();
    stopped.await();
  }
}
