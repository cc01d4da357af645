package dev.tourniquet.server;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;

/**
 * The append-only record of every change to the fleet: who (a user, {@code agent:<server>} or
 * {@code system}), what (an action and its target), when, and the details. Entries are written in the
 * same transaction as the change they describe, so there is never a change without its entry.
 */
final class AuditLog {
  /** One entry. */
  record Entry(long id, Instant at, String actor, String action, String target, String detail) {}

  /**
   * Entries newest first, and the id to page back from when older ones exist: keyset paging on the id, so a
   * page is found by the primary key however deep, and entries written meanwhile move no entry to another
   * page (an offset would show some twice or skip them).
   */
  record Page(List<Entry> entries, java.util.Optional<Long> olderBefore) {}

  private AuditLog() {}

  static void append(Connection c, Instant at, String actor, String action, String target, String detail)
      throws SQLException {
    Database.update(c, "INSERT INTO audit_log (occurred_at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        at, clip(actor, 300), clip(action, 64), clip(target, 300), clip(detail, 4000));
  }

  /** The newest entries first, at most {@code limit}, older than {@code beforeId} when it is positive. */
  static List<Entry> newest(Connection c, int limit, long beforeId) throws SQLException {
    if (limit < 1) {
      throw new IllegalArgumentException("audit log: expected a limit of at least 1 but found " + limit);
    }
    String sql = "SELECT id, occurred_at, actor, action, target, detail FROM audit_log"
        + (beforeId > 0 ? " WHERE id < ?" : "") + " ORDER BY id DESC";
    Database.Row<Entry> row = rs -> new Entry(rs.getLong("id"), Database.instant(rs, "occurred_at"),
        rs.getString("actor"), rs.getString("action"), rs.getString("target"), rs.getString("detail"));
    try (var ps = beforeId > 0 ? Database.prepare(c, sql, beforeId) : Database.prepare(c, sql)) {
      ps.setMaxRows(limit);
      try (var rs = ps.executeQuery()) {
        List<Entry> out = new java.util.ArrayList<>();
        while (rs.next()) {
          out.add(row.map(rs));
        }
        return out;
      }
    }
  }

  /** At most {@code limit} entries older than {@code beforeId} (when positive), and whether there are more. */
  static Page page(Connection c, int limit, long beforeId) throws SQLException {
    if (limit >= Integer.MAX_VALUE) {
      throw new IllegalArgumentException("audit log: expected a limit below " + Integer.MAX_VALUE + " but found " + limit);
    }
    List<Entry> entries = newest(c, limit + 1, beforeId);
    if (entries.size() <= limit) {
      return new Page(entries, java.util.Optional.empty());
    }
    List<Entry> shown = List.copyOf(entries.subList(0, limit));
    return new Page(shown, java.util.Optional.of(shown.get(limit - 1).id()));
  }

  private static String clip(String s, int max) {
    return s.length() <= max ? s : s.substring(0, max - 3) + "...";
  }
}
