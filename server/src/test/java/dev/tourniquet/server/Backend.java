package dev.tourniquet.server;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;

/**
 * Where a test's fleet keeps its state: embedded H2 in the data directory, or a fresh schema of the
 * PostgreSQL database {@code test} on 127.0.0.1:5432 (trust authentication), dropped afterwards.
 */
interface Backend extends AutoCloseable {
  /** The URL to give the server, or empty for the embedded default. */
  Optional<String> jdbcUrl();

  @Override
  void close();

  static Backend h2() {
    return new Backend() {
      @Override
      public Optional<String> jdbcUrl() {
        return Optional.empty();
      }

      @Override
      public void close() {}
    };
  }

  /** A new schema named after a random id, for one test. */
  static Backend postgres() {
    String user = System.getProperty("tourniquet.test.pguser", "postgres");
    String base = "jdbc:postgresql://127.0.0.1:5432/test?user=" + user;
    String schema = "tq_" + Secrets.newId().substring(0, 12);
    try (Connection c = DriverManager.getConnection(base); Statement s = c.createStatement()) {
      s.execute("CREATE SCHEMA " + schema);
    } catch (SQLException e) {
      throw new IllegalStateException("PostgreSQL on 127.0.0.1:5432, database test, user " + user
          + ": expected to create a schema but: " + e.getMessage(), e);
    }
    return new Backend() {
      @Override
      public Optional<String> jdbcUrl() {
        return Optional.of(base + "&currentSchema=" + schema);
      }

      @Override
      public void close() {
        try (Connection c = DriverManager.getConnection(base); Statement s = c.createStatement()) {
          s.execute("DROP SCHEMA " + schema + " CASCADE");
        } catch (SQLException e) {
          throw new IllegalStateException("cannot drop schema " + schema + ": " + e.getMessage(), e);
        }
      }
    };
  }
}
