package dev.tourniquet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The help a newcomer reads first: every command's one-line summary. */
class HelpTest {
  /**
   * A list of commands shows the first line of each one's description and nothing more, so that line must
   * be a whole sentence: "Unblock a mitigation on this server, and allow a revision that failed or was
   * removed to be" was all that {@code tourniquet --help} said of unblock.
   */
  @Test
  void everyCommandsSummaryInAListOfCommandsIsAWholeSentence() {
    List<String> cut = new ArrayList<>();
    summaries(new CommandLine(Main.class), "tourniquet", cut);

    assertThat(cut).as("commands whose summary stops mid-sentence").isEmpty();
  }

  @Test
  void topLevelHelpListsUnblockWithItsWholeSummary() {
    FeedCommandTest.Result help = FeedCommandTest.run("--help");

    assertThat(help.code()).isZero();
    assertThat(help.out()).contains("unblock     Unblock a mitigation on this server; the agent checks at once.\n");
  }

  private static void summaries(CommandLine command, String path, List<String> cut) {
    for (Map.Entry<String, CommandLine> sub : command.getSubcommands().entrySet()) {
      CommandLine.Model.UsageMessageSpec usage = sub.getValue().getCommandSpec().usageMessage();
      String[] lines = usage.header().length > 0 ? usage.header() : usage.description();
      String name = path + " " + sub.getKey();
      if (lines.length == 0 || !lines[0].strip().endsWith(".")) {
        cut.add(name + ": " + (lines.length == 0 ? "no description" : lines[0]));
      }
      summaries(sub.getValue(), name, cut);
    }
  }
}
