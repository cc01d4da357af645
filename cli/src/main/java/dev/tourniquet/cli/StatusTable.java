package dev.tourniquet.cli;

import dev.tourniquet.agent.AgentStatus;
import dev.tourniquet.agent.MitigationStatus;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** Prints an agent's status as a table for people or as CSV (RFC 4180) for spreadsheets. */
final class StatusTable {
  /** The CSV columns; {@code live} (last, added after the others) is true, false, or empty if nothing is applied. */
  static final List<String> COLUMNS = List.of("server", "mitigation", "kind", "description", "status", "reason", "live");

  private StatusTable() {}

  static List<List<String>> rows(AgentStatus status) {
    List<List<String>> rows = new ArrayList<>();
    for (MitigationStatus m : status.mitigations()) {
      rows.add(List.of(status.server(), m.appliedId(), m.kinds(), m.description(), m.status().label(), m.reason(),
          m.live().map(String::valueOf).orElse("")));
    }
    return rows;
  }

  static void printText(AgentStatus status, PrintWriter out) {
    out.println("Server:      " + status.server() + "  (" + status.product() + " "
        + status.version().orElse("version unknown") + ")");
    out.println("Mitigations: " + (status.enabled() ? "enabled" : "disabled (detect only)") + " on this server");
    out.println("Last check:  " + status.lastCheck().map(Object::toString).orElse("never"));
    out.println("Next check:  " + status.nextCheck());
    // A healthy feed ("ok", "ok; invalid documents skipped: …") gets its version here; a problem already
    // names the version it keeps ("keeping the last verified feed (targets version 2): …").
    boolean healthy = status.feedHealth().startsWith("ok");
    out.println("Feed:        " + status.feedHealth()
        + (status.feedVersion() > 0 && healthy ? " (targets version " + status.feedVersion() + ")" : ""));
    out.println("Policy:      " + status.policyHealth());
    out.println();
    List<List<String>> rows = rows(status);
    if (rows.isEmpty()) {
      out.println("No mitigation in the feed concerns this server.");
      return;
    }
    List<List<String>> cells = new ArrayList<>();
    for (List<String> r : rows) {
      cells.add(List.of(r.get(1), r.get(2), r.get(4), r.get(3), r.get(5)));
    }
    TextTable.print(out, List.of("MITIGATION", "KIND", "STATUS", "DESCRIPTION", "REASON"), cells, 0, 0, 0, 48);
  }

  static void printCsv(AgentStatus status, PrintWriter out) {
    out.print(csvLine(COLUMNS));
    for (List<String> r : rows(status)) {
      out.print(csvLine(r));
    }
  }

  static String csvLine(List<String> fields) {
    StringBuilder line = new StringBuilder();
    for (int i = 0; i < fields.size(); i++) {
      if (i > 0) {
        line.append(',');
      }
      String f = fields.get(i);
      if (f.contains(",") || f.contains("\"") || f.contains("\n") || f.contains("\r")) {
        line.append('"').append(f.replace("\"", "\"\"")).append('"');
      } else {
        line.append(f);
      }
    }
    return line.append("\r\n").toString();
  }
}
