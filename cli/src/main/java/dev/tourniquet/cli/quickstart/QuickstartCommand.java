package dev.tourniquet.cli.quickstart;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tourniquet quickstart}: the whole loop on this machine in under two minutes, narrated. It starts
 * a fleet server with a signed demo feed, a demo web app behind the servlet filter and an agent that
 * protects it; publishes Microsoft's mitigation M1 and shows it applied, reported and cutting the
 * ProxyNotShell request off; then "installs the fixed version" and shows the agent removing it by itself.
 * Everything keeps running until Ctrl-C (or SIGTERM), which stops the agent, the app and the server in that
 * order and exits 0.
 *
 * <p>Exit codes: 0 after Ctrl-C or SIGTERM; 1 when the demo cannot run (its data directory is taken, a step
 * does not happen in time); 2 for an invalid option.
 */
@Command(name = "quickstart", mixinStandardHelpOptions = true,
    description = {"See the whole loop on this machine in under two minutes: a mitigation published, applied,"
        + " reported and removed.",
        "",
        "Starts, on embedded defaults and 127.0.0.1 only, a fleet server with a signed demo feed, a demo web app behind"
        + " the servlet filter, and an agent protecting it. Publishes Microsoft's mitigation M1 (ProxyNotShell) and"
        + " shows it applied, reported on the dashboard and blocking the attack; then installs the fixed version and"
        + " shows the agent removing it by itself. Keeps running until Ctrl-C, which stops everything."})
public final class QuickstartCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = "--data", paramLabel = "DIR", defaultValue = ".tourniquet-quickstart",
      description = "Where the demo keeps its files and log, made anew at every run (default ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--pace", paramLabel = "SECONDS", defaultValue = "15",
      description = "Pause between the steps so you can look (default ${DEFAULT-VALUE}); Enter goes on at once.")
  int pace;

  @Option(names = "--check-interval", paramLabel = "SECONDS", defaultValue = "10",
      description = "How often the demo agent checks (default ${DEFAULT-VALUE}; a real agent's default is 1 hour).")
  int checkInterval;

  @Option(names = "--server-port", paramLabel = "PORT", defaultValue = "8420",
      description = "The fleet server's port (default ${DEFAULT-VALUE}); if it is taken, any free port.")
  int serverPort;

  @Option(names = "--app-port", paramLabel = "PORT", defaultValue = "8080",
      description = "The demo app's port (default ${DEFAULT-VALUE}); if it is taken, any free port.")
  int appPort;

  private final Semaphore enter = new Semaphore(0);

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String invalid = invalidOption();
    if (invalid != null) {
      err.println("tourniquet quickstart: " + invalid);
      return 2;
    }
    Path dir = data.toAbsolutePath().normalize();
    DataDirectory claimed;
    try {
      claimed = DataDirectory.claim(dir);
    } catch (QuickstartException | IOException e) {
      err.println("tourniquet quickstart: " + message(e));
      return 1;
    }
    logTo(dir);

    Narration say = new Narration(out);
    Demo demo = new Demo(dir, say, Duration.ofSeconds(checkInterval));
    CountDownLatch forever = new CountDownLatch(1);
    AtomicBoolean stopping = new AtomicBoolean();
    Thread stopper = new Thread(() -> {
      stopping.set(true);
      demo.close();
      closeQuietly(claimed);
      say.close(System.lineSeparator() + "Stopped the agent, the demo app and the fleet server. Files and log are in "
          + Demo.shown(dir) + ".");
      // Ctrl-C and SIGTERM are how this command is meant to end: exit 0, with no other hook's output.
      Runtime.getRuntime().halt(0);
    }, "tourniquet-quickstart-stop");
    Runtime.getRuntime().addShutdownHook(stopper);
    listenForEnter();
    try {
      script(demo, say, dir);
    } catch (QuickstartException | IOException | RuntimeException e) {
      if (!stopping.get() && removeHook(stopper)) {
        say.mute();
        err.println("tourniquet quickstart: " + message(e));
        err.flush();
        demo.close();
        closeQuietly(claimed);
        return 1;
      }
      // Ctrl-C broke the step by stopping the parts under it: the stopper ends the process.
    }
    awaitUninterruptibly(forever); // until Ctrl-C or SIGTERM: the stopper halts the JVM
    return 0;
  }

  /** Removes the stopper, unless the JVM is already shutting down (then the stopper is running). */
  private static boolean removeHook(Thread stopper) {
    try {
      return Runtime.getRuntime().removeShutdownHook(stopper);
    } catch (IllegalStateException shuttingDown) {
      return false;
    }
  }

  private static void awaitUninterruptibly(CountDownLatch latch) {
    while (true) {
      try {
        latch.await();
        return;
      } catch (InterruptedException e) {
        // Only the stopper ends this wait, by halting the JVM.
      }
    }
  }

  private void script(Demo demo, Narration say, Path dir) throws QuickstartException, IOException {
    say.line("Tourniquet quickstart: a fleet server, a signed demo feed, a demo web app and an agent, all on 127.0.0.1.");
    say.line("Files and log in " + Demo.shown(dir) + " (made anew at every run). Ctrl-C stops everything.");
    say.line("");
    demo.start(serverPort, appPort);
    say.line("");
    say.line("[1/3] Everything is running.");
    say.line("  Dashboard  " + demo.dashboard());
    say.line("             log in with the admin token: cat " + Demo.shown(demo.adminToken()));
    say.line("  Demo app   " + demo.appUri().resolve("/owa/"));
    say.line("  Try ProxyNotShell (CVE-2022-41040) against it, as attackers send it:");
    say.line("    curl -sS -o /dev/null -w '%{http_code}\\n' '" + demo.curlUrl() + "'");
    HttpProbe.Outcome now = demo.tryTheCurl();
    if (now.status() != 200) {
      throw new QuickstartException("expected HTTP 200 for the ProxyNotShell request before any mitigation but found "
          + now.description());
    }
    say.line("  Now: " + now.description() + ": the request reaches the application.");
    pause(say, "the publisher releases Microsoft's mitigation M1");

    say.line("[2/3] The publisher signs M1 and publishes it.");
    demo.protect();
    pause(say, "the fixed version gets installed");

    say.line("[3/3] The fixed version is installed.");
    demo.patch();
    say.line("");
    say.line(String.format(java.util.Locale.ROOT, "Done in %.0f s: published, pushed, applied, reported, blocking, and"
        + " removed after the update.", say.elapsed()));
    say.line("");
    say.line("Everything keeps running so you can explore:");
    say.line("  dashboard     " + demo.dashboard() + "  (token: cat " + Demo.shown(demo.adminToken()) + ")");
    say.line("  agent status  ./tourniquet status --state-dir " + Demo.shown(demo.agentStateDir()));
    say.line("  fleet status  ./tourniquet server status --server " + demo.serverUri() + " --token-file "
        + Demo.shown(demo.adminToken()));
    say.line("  agent config  " + Demo.shown(dir.resolve("agent/agent.yaml")) + " (joins the fleet, protects the app)");
    say.line("  files         " + Demo.shown(dir.resolve("app/enforcement.json")) + " (what the filter enforces), "
        + Demo.shown(demo.agentStateDir().resolve("audit.jsonl")) + " (every decision)");
    say.line("Press Ctrl-C to stop.");
  }

  /** Waits {@code --pace} seconds, or until Enter. */
  private void pause(Narration say, String next) {
    say.line("");
    if (pace > 0) {
      say.line("Next in " + pace + " s: " + next + ". (Enter: go on now)");
      enter.drainPermits();
      try {
        enter.tryAcquire(pace, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      say.line("");
    }
  }

  /** Each line typed on standard input releases a pause; without a console the thread just ends. */
  private void listenForEnter() {
    Thread t = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, Charset.defaultCharset()))) {
        while (in.readLine() != null) {
          enter.release();
        }
      } catch (IOException e) {
        // No usable standard input: the pauses simply run their time.
      }
    }, "tourniquet-quickstart-enter");
    t.setDaemon(true);
    t.start();
  }

  private String invalidOption() {
    if (pace < 0 || pace > 600) {
      return "--pace: expected 0 to 600 seconds but found " + pace;
    }
    if (checkInterval < 1 || checkInterval > 3600) {
      return "--check-interval: expected 1 to 3600 seconds but found " + checkInterval;
    }
    for (int port : new int[] {serverPort, appPort}) {
      if (port < 0 || port > 65535) {
        return "--server-port/--app-port: expected 0 to 65535 but found " + port;
      }
    }
    return null;
  }

  /**
   * Sends the parts' logs to a file, so that the narration is all the terminal shows; a configuration given
   * with {@code -Dlogback.configurationFile} is left alone. Runs before any part has logged.
   */
  private static void logTo(Path dir) {
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("tourniquet.quickstart.log", dir.resolve("quickstart.log").toString());
      System.setProperty("logback.configurationFile", "dev/tourniquet/cli/quickstart/logback.xml");
    }
    // The servlet filter logs through java.util.logging, as it does in any container: to the app's own log.
    if (System.getProperty("java.util.logging.config.file") == null) {
      java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
      for (java.util.logging.Handler h : root.getHandlers()) {
        root.removeHandler(h);
      }
      try {
        java.util.logging.FileHandler file = new java.util.logging.FileHandler(dir.resolve("app.log").toString());
        file.setFormatter(new java.util.logging.SimpleFormatter());
        root.addHandler(file);
      } catch (IOException e) {
        // Without its log file the app's messages are dropped; the narration says what matters.
      }
    }
  }

  private static String message(Exception e) {
    if (e instanceof QuickstartException) {
      return e.getMessage();
    }
    if (e instanceof java.nio.file.FileSystemException f) {
      return f.getFile() + ": " + (f.getReason() == null ? e.getClass().getSimpleName() : f.getReason());
    }
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }

  private static void closeQuietly(DataDirectory d) {
    try {
      d.close();
    } catch (IOException e) {
      // The lock goes with the process anyway.
    }
  }
}
