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
