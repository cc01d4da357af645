package dev.tourniquet.server;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The set-up of the upgrade tests: a database as a server of an older schema version left it, holding the rows
 * of that time, on which {@link #fleet} then starts, and so upgrades it, with what the server logs from its start
 * on in {@link #log}.
 */
abstract class UpgradeContract {
  @TempDir
  Path dir;
  Fixture fleet;
  final ListAppender<ILoggingEvent> log = new ListAppender<>();

  abstract Backend backend();

  /** The schema version the older server left, e.g. {@code "4"}. */
  abstract String olderVersion();

  /** Inserts the rows the older server left. */
  abstract void rowsBefore(Connection c) throws SQLException;

  @BeforeEach
  void upgradeTheOlderDatabase() throws Exception {
    Backend backend = backend();
    try {
      String url = Fixture.databaseAt(olderVersion(), dir, backend);
      try (Connection c = DriverManager.getConnection(url)) {
        rowsBefore(c);
      }
      log.start();
      ((Logger) LoggerFactory.getLogger(FleetServer.class)).addAppender(log);
      fleet = new Fixture(dir, backend);
    } catch (Exception | Error e) {
      backend.close();
      throw e;
    }
  }

  @AfterEach
  void stop() {
    ((Logger) LoggerFactory.getLogger(FleetServer.class)).detachAppender(log);
    if (fleet != null) {
      fleet.close();
    }
  }
}
