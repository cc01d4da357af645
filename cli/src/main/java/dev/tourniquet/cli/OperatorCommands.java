package dev.tourniquet.cli;

import dev.tourniquet.agent.AdminClient;
import dev.tourniquet.agent.AgentStatus;
import dev.tourniquet.agent.MitigationStatus;
import dev.tourniquet.agent.StatusJson;
import dev.tourniquet.feed.mitigation.Mitigation;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The operator's verbs. Each talks to the running agent over its authenticated local admin API
 * (docs/operating.md): 0 when the agent did it, 1 when the agent cannot be reached or refused, 2 for a
 * malformed argument.
 */
final class OperatorCommands {
  private OperatorCommands() {}

  /** Runs a verb and prints what the agent now says about the mitigation concerned. */
  abstract static class AdminVerb extends Verb {
    @Mixin
    AdminTarget target;

    AgentStatus call(String verb, String id) throws Failed, Invalid {
      if (id != null) {
        // A malformed id is the command's fault (exit 2), said before the agent is asked.
        Optional<String> problem = Mitigation.idProblem(id);
        if (problem.isPresent()) {
          throw new Invalid(List.of("tourniquet: ID: " + problem.get()));
        }
      }
      AdminClient client = target.client();
      try {
        return id == null && verb.equals("status") ? client.status() : client.post(verb, id);
      } catch (IOException e) {
        throw new Failed(e.getMessage());
      }
    }

    /**
     * Says what was done (the agent recorded it even when the mitigation's status does not show it, e.g. a
     * block of one that does not apply to this server's version), then the mitigation's status after it.
     *
     * @param done what was done, with {@code %1$s} for the mitigation's id and {@code %2$s} for the server
     */
    void printRow(AgentStatus status, String id, String done) {
      out().println(String.format(java.util.Locale.ROOT, done, id, status.server()));
      for (MitigationStatus m : status.mitigations()) {
        if (m.id().equals(id)) {
          out().println(m.appliedId() + "  " + m.status().label() + "  " + m.reason());
          return;
        }
      }
      out().println(id + ": not in the feed and not applied on this server");
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = {"Show what the agent did with every mitigation: id.revision, kind, description, status and why.",
          "Statuses: Applied, Audit, Detected, Blocked, Failed, NotApplicable, Removed (see docs/operating.md).",
          "Also the last check, the feed's health and the next check."})
  static final class Status extends AdminVerb {
    @ArgGroup(exclusive = true, multiplicity = "0..1")
    Format format;

    static final class Format {
      @Option(names = "--json", description = "Print the status as JSON (format tourniquet-agent-status/1).")
      boolean json;

      @Option(names = "--csv", description = "Print one CSV row per mitigation (RFC 4180, with a header row).")
      boolean csv;
    }

    @Override
    void run() throws Exception {
      AgentStatus status = call("status", null);
      if (format != null && format.json) {
        out().println(new String(StatusJson.write(status), StandardCharsets.UTF_8).strip());
      } else if (format != null && format.csv) {
        StatusTable.printCsv(status, out());
      } else {
        StatusTable.printText(status, out());
      }
    }
  }

  @Command(name = "check", mixinStandardHelpOptions = true,
      description = "Make the agent check the feed and the policy now, and print the status after it.")
  static final class Check extends AdminVerb {
    @Override
    void run() throws Exception {
      StatusTable.printText(call("check", null), out());
    }
  }

  @Command(name = "block", mixinStandardHelpOptions = true,
      description = {"Block a mitigation on this server: it is never applied, and removed now if it is applied.",
          "Undo with 'tourniquet unblock ID'."})
  static final class Block extends AdminVerb {
    @Parameters(paramLabel = "ID", description = "The mitigation id, e.g. M1.")
    String id;

    @Override
    void run() throws Exception {
      printRow(call("block", id), id, "blocked %1$s on %2$s");
    }
  }

  @Command(name = "unblock", mixinStandardHelpOptions = true,
      description = {"Unblock a mitigation on this server; the agent checks at once.",
          "A revision that failed or was removed may then be applied again."})
  static final class Unblock extends AdminVerb {
    @Parameters(paramLabel = "ID", description = "The mitigation id, e.g. M1.")
    String id;

    @Override
    void run() throws Exception {
      printRow(call("unblock", id), id, "unblocked %1$s on %2$s");
    }
  }

  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = {"Roll a mitigation back now and keep it off until 'tourniquet unblock ID' or a new revision.",
          "Use it when a mitigation breaks something; fleet-wide, block it on the fleet server."})
  static final class Remove extends AdminVerb {
    @Parameters(paramLabel = "ID", description = "The mitigation id, e.g. M1.")
    String id;

    @Override
    void run() throws Exception {
      printRow(call("remove", id), id, "removed %1$s on %2$s; it stays off until 'tourniquet unblock %1$s' or a new revision");
    }
  }

  @Command(name = "enable", mixinStandardHelpOptions = true,
      description = "Enable mitigations on this server (the default): the agent applies what the feed and policy say.")
  static final class Enable extends AdminVerb {
    @Override
    void run() throws Exception {
      AgentStatus status = call("enable", null);
      out().println("mitigations " + (status.enabled() ? "enabled" : "still disabled") + " on " + status.server());
    }
  }

  @Command(name = "disable", mixinStandardHelpOptions = true,
      description = {"Disable mitigations on this server: the agent detects and reports, and applies nothing new.",
          "Mitigations already applied stay, as in Exchange; remove one with 'tourniquet remove ID' or"
              + " 'tourniquet block ID'."})
  static final class Disable extends AdminVerb {
    @Override
    void run() throws Exception {
      AgentStatus status = call("disable", null);
      out().println("mitigations " + (status.enabled() ? "still enabled" : "disabled") + " on " + status.server()
          + "; applied mitigations stay until removed or blocked");
    }
  }
}
