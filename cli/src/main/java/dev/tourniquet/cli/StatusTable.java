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
    out.println("Feed:        " + status.feedHealth() + (status.feedVersion() > 0 ? " (targets version " + status.feedVersion() + ")" : ""));
    out.println("Policy:      " + status.policyHealth());
    out.println();
    List<List<String>> rows = rows(status);
    if (rows.isEmpty()) {
      out.println("No mitigation in the feed concerns this server.");
      return;
    }
    // Fixed-width columns except the last two, which are free text.
    List<String> header = List.of("MITIGATION", "KIND", "STATUS", "DESCRIPTION", "REASON");
    int[] width = {header.get(0).length(), header.get(1).length(), header.get(2).length(), header.get(3).length()};
    for (List<String> r : rows) {
      width[0] = Math.max(width[0], r.get(1).length());
      width[1] = Math.max(width[1], r.get(2).length());
      width[2] = Math.max(width[2], r.get(4).length());
      width[3] = Math.min(48, Math.max(width[3], r.get(3).length()));
    }
    out.println(line(width, header.get(0), header.get(1), header.get(2), header.get(3), header.get(4)));
    for (List<String> r : rows) {
      String description = r.get(3).length() > width[3] ? r.get(3).substring(0, width[3] - 1) + "…" : r.get(3);
      out.println(line(width, r.get(1), r.get(2), r.get(4), description, r.get(5)));
    }
  }

  private static String line(int[] width, String a, String b, String c, String d, String e) {
    return pad(a, width[0]) + "  " + pad(b, width[1]) + "  " + pad(c, width[2]) + "  " + pad(d, width[3]) + "  " + e;
  }

  private static String pad(String s, int width) {
    return s.length() >= width ? s : s + " ".repeat(width - s.length());
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
