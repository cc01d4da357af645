package dev.tourniquet.cli;

import dev.tourniquet.agent.AgentConfig;
import dev.tourniquet.agent.ConfigException;
import dev.tourniquet.agent.fleet.RunningAgent;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tourniquet agent --config FILE}: runs the agent in the foreground until stopped (SIGTERM, Ctrl-C,
 * or the service manager), as the systemd unit and the Windows service in {@code dist/} do.
 */
@Command(name = "agent", mixinStandardHelpOptions = true,
    description = {"Run the agent: poll the signed feed, verify, plan, enforce, record and report, until stopped.",
        "With a fleet: section it enrols once with the one-time token file (the credential is then kept in the"
            + " state directory), takes its policy from the fleet server, reports to it, and checks at once on its"
            + " push hints.",
        "Configuration keys: docs/operating.md."})
final class AgentCommand extends Verb {
  @Option(names = "--config", paramLabel = "FILE",
      description = "The configuration file, default /etc/tourniquet/agent.yaml (on Windows %%ProgramData%%\\Tourniquet\\agent.yaml).")
  Path config;

  @Option(names = "--check-config", description = "Only read and validate the configuration (targets, and the fleet"
      + " credential or enrolment token file; no network), then exit.")
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
    if (checkOnly) {
      List<String> notes;
      try {
        notes = RunningAgent.check(cfg);
      } catch (ConfigException e) {
        throw new Invalid(e.getMessage());
      }
      out().println(config + ": valid; " + cfg.targets().size() + " target(s), state in " + cfg.stateDir());
      notes.forEach(out()::println);
      return;
    }
    // The hook is in place before the start, so that a SIGTERM during enrolment or recovery still waits for
    // the start to end and then stops the agent cleanly.
    AtomicReference<RunningAgent> running = new AtomicReference<>();
    CountDownLatch startEnded = new CountDownLatch(1);
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      try {
        startEnded.await();
        RunningAgent r = running.get();
        if (r != null) {
          r.close();
        }
      } catch (Exception e) {
        System.err.println("tourniquet: stopping the agent: " + e.getMessage());
      } finally {
        stopped.countDown();
      }
    }, "tourniquet-agent-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      running.set(RunningAgent.start(cfg));
    } catch (ConfigException e) {
      throw new Invalid(e.getMessage());
    } catch (Exception e) {
      throw new Failed("the agent could not start: " + e.getMessage());
    } finally {
      startEnded.countDown();
      if (running.get() == null) {
        removeHook(hook);
      }
    }
    out().println("tourniquet agent running for " + cfg.serverName() + "; state in " + cfg.stateDir());
    out().flush();
    stopped.await();
  }

  private static void removeHook(Thread hook) {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is already shutting down: the hook runs and finds nothing to stop
    }
  }
}
