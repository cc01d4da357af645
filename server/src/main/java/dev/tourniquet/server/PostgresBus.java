package dev.tourniquet.server;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Locale;
import java.util.function.Consumer;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bus over PostgreSQL LISTEN/NOTIFY, so that several server processes on one database serve the same
 * fleet: a notice published by any of them reaches the agents connected to every one.
 *
 * <p>The channel is named after the database schema ({@code tourniquet_<schema>}), because NOTIFY is
 * database-wide: two fleets in two schemas of one database must not hear each other. One thread holds a
 * dedicated connection in LISTEN and waits for notifications; if the connection breaks it reconnects with
 * a capped exponential backoff. Notices published while no listener is connected are lost; agents also
 * poll, so a lost hint only delays a change until their next check.
 */
final class PostgresBus implements Bus {
  private static final Logger LOG = LoggerFactory.getLogger(PostgresBus.class);

  private final Database db;
  private final String channel;
  private final Thread listener;
  private volatile Consumer<Notice> receiver = n -> {};
  private volatile boolean closed;
  private volatile Connection listening;

  PostgresBus(Database db) throws SQLException {
    this.db = db;
    try (Connection c = db.dedicatedConnection(); Statement s = c.createStatement();
        var rs = s.executeQuery("SELECT current_schema()")) {
      rs.next();
      this.channel = "tourniquet_" + rs.getString(1).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
    }
    connect();
    this.listener = new Thread(this::listen, "tourniquet-bus-listener");
    listener.setDaemon(true);
    listener.start();
  }

  private void connect() throws SQLException {
    Connection c = db.dedicatedConnection();
    try (Statement s = c.createStatement()) {
      s.execute("LISTEN " + channel);
    }
    listening = c;
  }

  @Override
  public void publish(Notice notice) {
    try {
      db.read(c -> {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_notify(?, ?)")) {
          ps.setString(1, channel);
          ps.setString(2, notice.encode());
          ps.execute();
        }
        return null;
      });
    } catch (SQLException | HttpException e) {
      LOG.warn("could not publish {} on PostgreSQL channel {}: {}; delivering it in this process only",
          notice.encode(), channel, e.getMessage());
      receiver.accept(notice);
    }
  }

  @Override
  public void subscribe(Consumer<Notice> receiver) {
    this.receiver = receiver;
  }

  private void listen() {
    Duration backoff = Duration.ofMillis(250);
    while (!closed) {
      try {
        Connection c = listening;
        if (c == null) {
          connect();
          c = listening;
          LOG.info("listening on PostgreSQL channel {} again", channel);
          backoff = Duration.ofMillis(250);
        }
        PGNotification[] notifications = c.unwrap(PGConnection.class).getNotifications(500);
        if (notifications != null) {
          for (PGNotification n : notifications) {
            Notice.decode(n.getParameter()).ifPresent(notice -> {
              try {
                receiver.accept(notice);
              } catch (RuntimeException e) {
                LOG.warn("notice {} failed: {}", n.getParameter(), e.toString());
              }
            });
          }
        }
      } catch (SQLException e) {
        if (closed) {
          return;
        }
        LOG.warn("PostgreSQL listener on {} failed: {}; reconnecting in {} ms", channel, e.getMessage(),
            backoff.toMillis());
        closeQuietly();
        try {
          Thread.sleep(backoff.toMillis());
        } catch (InterruptedException ie) {
          return;
        }
        backoff = backoff.multipliedBy(2).compareTo(Duration.ofSeconds(30)) > 0 ? Duration.ofSeconds(30)
            : backoff.multipliedBy(2);
      }
    }
  }

  private void closeQuietly() {
    Connection c = listening;
    listening = null;
    if (c != null) {
      try {
        c.close();
      } catch (SQLException ignored) {
        // already broken
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    closeQuietly();
    listener.interrupt();
    try {
      listener.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
