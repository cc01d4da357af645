package dev.tourniquet.cli;

import dev.tourniquet.cli.quickstart.QuickstartCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code tourniquet} command. Every verb for publishers, operators and the agent and server
 * processes hangs off this one entry point.
 *
 * <p>Exit codes are a contract: 0 success, 1 an operational failure (a file that cannot be read), 2 input
 * that is invalid (rules that do not validate, a malformed argument).
 */
@Command(
    name = "tourniquet",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Emergency mitigations for on-premises servers: signed, verified, applied in seconds, removed after patching.",
    subcommands = {QuickstartCommand.class, RulesCommand.class, KeysCommand.class, FeedCommand.class,
        AgentCommand.class, OperatorCommands.Status.class, OperatorCommands.Check.class, OperatorCommands.Block.class,
        OperatorCommands.Unblock.class, OperatorCommands.Remove.class, OperatorCommands.Enable.class,
        OperatorCommands.Disable.class, ServerCommand.class, CommandLine.HelpCommand.class})
public final class Main {
  /** Exit code for input that does not validate. */
  public static final int INVALID = 2;

  private Main() {}

  /**
   * Runs the command line.
   *
   * @param args the arguments
   */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Runs the command line without exiting, for tests and embedding.
   *
   * @param args the arguments
   * @return the exit code
   */
  public static int run(String... args) {
    return run(new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true), args);
  }

  /**
   * Runs the command line with the given output streams.
   *
   * @param out where results go
   * @param err where diagnostics go
   * @param args the arguments
   * @return the exit code
   */
  public static int run(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    cli.setParameterExceptionHandler((ex, a) -> {
      ex.getCommandLine().getErr().println("tourniquet: " + ex.getMessage());
      ex.getCommandLine().usage(ex.getCommandLine().getErr());
      return INVALID;
    });
    cli.setExecutionExceptionHandler((ex, c, parsed) -> {
      c.getErr().println("tourniquet: " + describe(ex));
      return 1;
    });
    int code = cli.execute(args);
    out.flush();
    err.flush();
    return code;
  }

  /** A failure in words, without a stack trace: what failed and on which file. */
  static String describe(Exception ex) {
    if (ex instanceof java.nio.file.NoSuchFileException e) {
      // The reason, when the thrower gave one, says which setting named the file.
      return "no such file: " + e.getFile() + (e.getReason() == null ? "" : " (" + e.getReason() + ")");
    }
    if (ex instanceof java.nio.file.AccessDeniedException e) {
      return "permission denied: " + e.getFile();
    }
    if (ex instanceof java.io.IOException) {
      return "I/O error: " + ex.getMessage();
    }
    return ex.getClass().getSimpleName() + ": " + ex.getMessage();
  }

  /** The version from the jar's manifest, or "development" when run from classes. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"tourniquet " + (v == null ? "development" : v)};
    }
  }
}
