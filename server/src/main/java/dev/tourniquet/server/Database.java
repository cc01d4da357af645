package dev.tourniquet.server;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.flywaydb.core.Flyway;

/**
 * The fleet's database: a connection pool over embedded H2 (the default, in the data directory) or
 * PostgreSQL (several server processes share one), with the schema migrated by Flyway at start.
 *
 * <p>All SQL in this package is portable between the two: no upsert syntax (an update, then an insert
 * that loses a race with a unique violation and is retried as an update), identity columns, and
 * {@code TIMESTAMP WITH TIME ZONE} read and written as {@link OffsetDateTime}.
 */
final class Database implements AutoCloseable {
  /** SQLState for a unique or primary key violation, the same in H2 and PostgreSQL. */
  static final String UNIQUE_VIOLATION = "23505";

  private final String jdbcUrl;
  private final HikariDataSource pool;
  private final boolean postgres;

  private Database(String jdbcUrl, HikariDataSource pool, boolean postgres) {
    this.jdbcUrl = jdbcUrl;
    this.pool = pool;
    this.postgres = postgres;
  }

  /**
   * Opens the pool and migrates the schema.
   *
   * @param jdbcUrl {@code jdbc:h2:…} or {@code jdbc:postgresql:…}
   */
  static Database open(String jdbcUrl) {
    boolean postgres;
    if (jdbcUrl.startsWith("jdbc:postgresql:")) {
      postgres = true;
    } else if (jdbcUrl.startsWith("jdbc:h2:")) {
      postgres = false;
    } else {
      throw new IllegalArgumentException("database URL: expected jdbc:h2:… or jdbc:postgresql:… but found "
          + redact(jdbcUrl));
    }
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setPoolName("tourniquet-db");
    config.setMaximumPoolSize(10);
    config.setMinimumIdle(1);
    config.setConnectionTimeout(10_000);
    config.setInitializationFailTimeout(10_000);
    HikariDataSource pool = new HikariDataSource(config);
    try {
      Flyway.configure(Database.class.getClassLoader())
          .dataSource(pool)
          .locations("classpath:db/fleet")
          .table("tourniquet_schema_history")
          .load()
          .migrate();
    } catch (RuntimeException e) {
      pool.close();
      throw e;
    }
    return new Database(jdbcUrl, pool, postgres);
  }

  /** The URL with any password parameter removed, for messages and logs. */
  static String redact(String jdbcUrl) {
    return jdbcUrl.replaceAll("(?i)(password=)[^&;]*", "$1***");
  }

  boolean postgres() {
    return postgres;
  }

  String describe() {
    return redact(jdbcUrl);
  }

  /** A connection outside the pool, for PostgreSQL's LISTEN: it stays open as long as the listener. */
  Connection dedicatedConnection() throws SQLException {
    return DriverManager.getConnection(jdbcUrl);
  }

  /** Work on one connection inside one transaction. */
  @FunctionalInterface
  interface Work<T> {
    T run(Connection connection) throws SQLException, HttpException;
  }

  /** Runs work in a transaction: committed if it returns, rolled back if it throws. */
  <T> T transaction(Work<T> work) throws SQLException, HttpException {
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      try {
        T result = work.run(c);
        c.commit();
        return result;
      } catch (SQLException | HttpException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    }
  }

  /** Runs read-only work with auto-commit. */
  <T> T read(Work<T> work) throws SQLException, HttpException {
    try (Connection c = pool.getConnection()) {
      return work.run(c);
    }
  }

  @Override
  public void close() {
    pool.close();
  }

  // Small JDBC helpers, shared by the stores of this package.

  /** Maps a row. */
  @FunctionalInterface
  interface Row<T> {
    T map(ResultSet rs) throws SQLException;
  }

  static PreparedStatement prepare(Connection c, String sql, Object... args) throws SQLException {
    PreparedStatement ps = c.prepareStatement(sql);
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      if (a instanceof Instant instant) {
        ps.setObject(i + 1, OffsetDateTime.ofInstant(instant, ZoneOffset.UTC), Types.TIMESTAMP_WITH_TIMEZONE);
      } else if (a instanceof NullOf n) {
        ps.setNull(i + 1, n.sqlType());
      } else {
        ps.setObject(i + 1, a);
      }
    }
    return ps;
  }

  /** A typed SQL NULL argument. */
  record NullOf(int sqlType) {
    static final NullOf TIMESTAMP = new NullOf(Types.TIMESTAMP_WITH_TIMEZONE);
    static final NullOf VARCHAR = new NullOf(Types.VARCHAR);
    static final NullOf BIGINT = new NullOf(Types.BIGINT);
    static final NullOf BOOLEAN = new NullOf(Types.BOOLEAN);
  }

  static Object nullable(Instant value) {
    return value == null ? NullOf.TIMESTAMP : value;
  }

  static Object nullable(String value) {
    return value == null ? NullOf.VARCHAR : value;
  }

  static int update(Connection c, String sql, Object... args) throws SQLException {
    try (PreparedStatement ps = prepare(c, sql, args)) {
      return ps.executeUpdate();
    }
  }

  static <T> List<T> query(Connection c, String sql, Row<T> row, Object... args) throws SQLException {
    try (PreparedStatement ps = prepare(c, sql, args); ResultSet rs = ps.executeQuery()) {
      List<T> out = new ArrayList<>();
      while (rs.next()) {
        out.add(row.map(rs));
      }
      return out;
    }
  }

  static <T> Optional<T> queryOne(Connection c, String sql, Row<T> row, Object... args) throws SQLException {
    List<T> all = query(c, sql, row, args);
    if (all.size() > 1) {
      throw new SQLException(String.format(Locale.ROOT, "expected at most one row but found %d: %s", all.size(), sql));
    }
    return all.isEmpty() ? Optional.empty() : Optional.of(all.get(0));
  }

  static Instant instant(ResultSet rs, String column) throws SQLException {
    Object value = rs.getObject(column);
    if (value == null) {
      return null;
    }
    if (value instanceof OffsetDateTime odt) {
      return odt.toInstant();
    }
    if (value instanceof Timestamp ts) {
      return ts.toInstant();
    }
    return rs.getObject(column, OffsetDateTime.class).toInstant();
  }

  static boolean isUniqueViolation(SQLException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException s && UNIQUE_VIOLATION.equals(s.getSQLState())) {
        return true;
      }
    }
    return false;
  }
}
