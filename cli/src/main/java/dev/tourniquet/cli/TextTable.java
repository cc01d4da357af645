package dev.tourniquet.cli;

import java.io.PrintWriter;
import java.util.List;

/**
 * A table for people: each column as wide as its widest cell (or its cap, the rest cut with an ellipsis),
 * two spaces apart; the last column is free text. Long values (timestamps, server names, actors) no longer
 * push the columns after them out of line.
 */
final class TextTable {
  private TextTable() {}

  /**
   * @param caps the largest width of each column but the last, 0 for none; missing entries mean none
   */
  static void print(PrintWriter out, List<String> header, List<List<String>> rows, int... caps) {
    rows = rows.stream().map(row -> row.stream().map(TextTable::printable).toList()).toList();
    int columns = header.size();
    int[] width = new int[columns - 1];
    for (int c = 0; c < columns - 1; c++) {
      width[c] = header.get(c).length();
      for (List<String> row : rows) {
        width[c] = Math.max(width[c], row.get(c).length());
      }
      if (c < caps.length && caps[c] > 0) {
        width[c] = Math.min(width[c], Math.max(caps[c], header.get(c).length()));
      }
    }
    out.println(line(header, width));
    for (List<String> row : rows) {
      out.println(line(row, width));
    }
  }

  /**
   * A cell as it may reach a terminal: control characters (C0, DEL, C1) and invisible format characters
   * (direction overrides and isolates, zero-width marks) become U+FFFD. Cells hold what agents reported
   * (reasons, labels, product versions), and such characters could move the cursor, clear the screen, or
   * make one server's name read as another's; a tab or line break would also break the table.
   */
  static String printable(String cell) {
    StringBuilder out = null;
    for (int i = 0; i < cell.length(); ) {
      int cp = cell.codePointAt(i);
      int type = Character.getType(cp);
      if (type == Character.CONTROL || type == Character.FORMAT) {
        if (out == null) {
          out = new StringBuilder(cell.length()).append(cell, 0, i);
        }
        out.append('\ufffd');
      } else if (out != null) {
        out.appendCodePoint(cp);
      }
      i += Character.charCount(cp);
    }
    return out == null ? cell : out.toString();
  }

  private static String line(List<String> cells, int[] width) {
    StringBuilder line = new StringBuilder();
    for (int c = 0; c < width.length; c++) {
      String cell = cells.get(c);
      if (cell.length() > width[c]) {
        cell = cell.substring(0, width[c] - 1) + "…";
      }
      line.append(cell).append(" ".repeat(width[c] - cell.length())).append("  ");
    }
    return line.append(cells.get(width.length)).toString().stripTrailing();
  }
}
