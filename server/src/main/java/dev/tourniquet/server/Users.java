package dev.tourniquet.server;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Administrators of the fleet server, their bearer tokens (stored hashed) and dashboard sessions. A
 * dashboard session is created by logging in with a token; its cookie holds a separate random secret, and
 * the session carries the CSRF token that every dashboard action must echo.
 *
 * <p>A session ends at its absolute expiry or once it has not been used for the idle timeout, whichever
 * comes first. Its last use is stamped only when the stamp is {@link #STAMP_EVERY} old, so that a page
 * and its style sheet and script do not each write the database: an unused session therefore ends between
 * the idle timeout less a minute and the idle timeout after its last use.
 */
final class Users {
  /** An authenticated administrator. */
  record Principal(String name, Role role) {}

  /** A user as listed (never with a token). */
  record User(String name, Role role, Instant createdAt, String createdBy) {}

  /** A dashboard session, with when it was last stamped as used. */
  record Session(Principal principal, String csrfToken, Instant lastUsed) {
    /** Whether a use at {@code now} is to be written: only when the stamp is {@link #STAMP_EVERY} old. */
    boolean stampDue(Instant now) {
      return !lastUsed.plus(STAMP_EVERY).isAfter(now);
    }
  }

  /** How old the last-use stamp of a session must be before a use writes it again. */
  static final Duration STAMP_EVERY = Duration.ofMinutes(1);

  private Users() {}

  static Optional<Principal> byToken(Connection c, String token) throws SQLException {
    if (!Secrets.looksLike(Secrets.USER, token)) {
      return Optional.empty();
    }
    return Database.queryOne(c, "SELECT name, role FROM admin_users WHERE token_hash = ?",
        rs -> new Principal(rs.getString("name"), Role.valueOf(rs.getString("role").toUpperCase(java.util.Locale.ROOT))),
        Secrets.hash(token));
  }

  static boolean any(Connection c) throws SQLException {
    return !Database.query(c, "SELECT name FROM admin_users", rs -> rs.getString(1)).isEmpty();
  }

  static List<User> list(Connection c) throws SQLException {
    return Database.query(c, "SELECT name, role, created_at, created_by FROM admin_users ORDER BY name",
        rs -> new User(rs.getString("name"), Role.valueOf(rs.getString("role").toUpperCase(java.util.Locale.ROOT)),
            Database.instant(rs, "created_at"), rs.getString("created_by")));
  }

  /** Creates a user and returns its token, shown once. */
  static String create(Connection c, String name, Role role, String createdBy, Instant now)
      throws SQLException, HttpException {
    if (!Database.query(c, "SELECT name FROM admin_users WHERE name = ?", rs -> rs.getString(1), name).isEmpty()) {
      throw HttpException.conflict("user %s already exists; delete it first or issue it a new token", name);
    }
    String token = Secrets.newSecret(Secrets.USER);
    Database.update(c, "INSERT INTO admin_users (name, role, token_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
        name, role.label(), Secrets.hash(token), now, createdBy);
    return token;
  }

  /** Replaces a user's token (the old one stops working at once, with its sessions) and returns the new one. */
  static String newToken(Connection c, String name) throws SQLException, HttpException {
    String token = Secrets.newSecret(Secrets.USER);
    if (Database.update(c, "UPDATE admin_users SET token_hash = ? WHERE name = ?", Secrets.hash(token), name) == 0) {
      throw HttpException.notFound("no user named %s", name);
    }
    Database.update(c, "DELETE FROM dashboard_sessions WHERE user_name = ?", name);
    return token;
  }

  static void delete(Connection c, String name) throws SQLException, HttpException {
    if (Database.update(c, "DELETE FROM admin_users WHERE name = ?", name) == 0) {
      throw HttpException.notFound("no user named %s", name);
    }
  }

  /**
   * The admins, their rows locked until the transaction ends: two admins deleting each other at once are
   * then taken one after the other, and the second finds itself the last (a count alone let both go).
   */
  static List<String> lockAdmins(Connection c) throws SQLException {
    return Database.query(c, "SELECT name FROM admin_users WHERE role = 'admin' FOR UPDATE", rs -> rs.getString(1));
  }

  /** Opens a session, used now, and removes the sessions that have ended; returns the cookie secret. */
  static String openSession(Connection c, Principal principal, Instant now, Duration ttl, Duration idle)
      throws SQLException {
    String id = Secrets.newSecret(Secrets.SESSION);
    Database.update(c, "DELETE FROM dashboard_sessions WHERE expires_at < ? OR last_used_at < ?", now, now.minus(idle));
    Database.update(c, "INSERT INTO dashboard_sessions (id_hash, user_name, csrf_token, expires_at, last_used_at)"
        + " VALUES (?, ?, ?, ?, ?)", Secrets.hash(id), principal.name(), Secrets.newSecret(Secrets.CSRF), now.plus(ttl), now);
    return id;
  }

  /** The session of a cookie if it has neither expired nor been idle for {@code idle}; changes nothing. */
  static Optional<Session> session(Connection c, String cookie, Instant now, Duration idle) throws SQLException {
    if (!Secrets.looksLike(Secrets.SESSION, cookie)) {
      return Optional.empty();
    }
    return Database.queryOne(c, "SELECT u.name, u.role, s.csrf_token, s.last_used_at FROM dashboard_sessions s"
            + " JOIN admin_users u ON u.name = s.user_name WHERE s.id_hash = ? AND s.expires_at > ? AND s.last_used_at > ?",
        rs -> new Session(new Principal(rs.getString("name"),
            Role.valueOf(rs.getString("role").toUpperCase(java.util.Locale.ROOT))), rs.getString("csrf_token"),
            Database.instant(rs, "last_used_at")),
        Secrets.hash(cookie), now, now.minus(idle));
  }

  /**
   * Stamps a session as used at {@code now} unless a stamp less than {@link #STAMP_EVERY} old is there (a
   * concurrent request may have just written one): a stamp never goes back.
   */
  static void stampUse(Connection c, String cookie, Instant now) throws SQLException {
    if (Secrets.looksLike(Secrets.SESSION, cookie)) {
      Database.update(c, "UPDATE dashboard_sessions SET last_used_at = ? WHERE id_hash = ? AND last_used_at <= ?", now,
          Secrets.hash(cookie), now.minus(STAMP_EVERY));
    }
  }

  static void closeSession(Connection c, String cookie) throws SQLException {
    if (Secrets.looksLike(Secrets.SESSION, cookie)) {
      Database.update(c, "DELETE FROM dashboard_sessions WHERE id_hash = ?", Secrets.hash(cookie));
    }
  }
}
