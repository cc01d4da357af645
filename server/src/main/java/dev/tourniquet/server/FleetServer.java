package dev.tourniquet.server;

import java.io.Closeable;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Tourniquet fleet server: hosts feeds as static files, pushes hints to agents over server-sent
 * events, keeps the organisation's policy and rollout rings, enrols agents, receives their reports, and
 * serves the admin API and the dashboard. State lives in embedded H2 in the data directory by default,
 * or in PostgreSQL, where several server processes serve one fleet.
 *
 * <pre>{@code
 * try (FleetServer server = FleetServer.start(FleetServer.Settings.builder(dataDir)
 *     .feed("default", publishedDir).build())) {
 *   System.out.println(server.uri());
 * }
 * }</pre>
 *
 * <p>On first start (no user in the database) the server creates the user {@code admin} and writes its
 * token to {@code <dataDir>/admin.token}, readable by the owner only; the log says where, never the
 * token itself.
 */
public final class FleetServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FleetServer.class);

  private final Settings settings;
  private final Database db;
  private final Bus bus;
  private final Server jetty;
  private final EventStreams streams;
  private final ScheduledExecutorService scheduler;
  private final Closeable feedWatch;
  private final ExecutorService pushWorker;
  private final URI uri;
  private final Fleet fleet;
  private final FeedFileCache feedCache;

  private FleetServer(Settings settings, Database db, Bus bus, Server jetty, EventStreams streams,
      ScheduledExecutorService scheduler, Closeable feedWatch, ExecutorService pushWorker, URI uri, Fleet fleet,
      FeedFileCache feedCache) {
    this.feedWatch = feedWatch;
    this.fleet = fleet;
    this.feedCache = feedCache;
    this.settings = settings;
    this.db = db;
    this.bus = bus;
    this.jetty = jetty;
    this.streams = streams;
    this.scheduler = scheduler;
    this.pushWorker = pushWorker;
    this.uri = uri;
  }

  /**
   * Starts a server.
   *
   * @param settings what to serve, where, and on which database
   * @return the running server
   * @throws IOException if the data directory, a feed directory, the keystore or the port cannot be used
   * @throws IllegalArgumentException if a setting is invalid (a feed directory that is a repository, an
   *     unsupported database URL)
   * @throws IllegalStateException if the database cannot be reached or migrated
   */
  public static FleetServer start(Settings settings) throws IOException {
    Files.createDirectories(settings.dataDir);
    FeedFileCache feedCache = new FeedFileCache(settings.feedCacheEntries, settings.feedCacheBytes);
    Map<String, HostedFeed> feeds = HostedFeed.of(settings.feeds, feedCache);
    String jdbcUrl = settings.jdbcUrl.orElse("jdbc:h2:file:" + settings.dataDir.toAbsolutePath().resolve("fleet"));
    Database db;
    try {
      db = Database.open(jdbcUrl);
    } catch (RuntimeException e) {
      throw new IllegalStateException("database " + Database.redact(jdbcUrl) + ": " + e.getMessage(), e);
    }
    Bus bus = null;
    ScheduledExecutorService scheduler = null;
    Closeable feedWatch = null;
    ExecutorService pushWorker = null;
    Server jetty = null;
    try {
      bus = db.postgres() ? new PostgresBus(db) : new Bus.Local();
      bootstrapAdmin(db, settings);
      for (List<String> names : db.read(Agents::namesDifferingOnlyInCase)) {
        LOG.warn("servers {} differ only in case (enrolled before server names were compared ignoring case): an"
            + " operator will take them for one server, and each is found only by its exact name; remove all but one"
            + " (DELETE /api/v1/admin/servers/NAME)", Agents.and(names));
      }
      Fleet fleet = new Fleet(db, settings.clock, bus, feeds, settings.staleAfter);
      pushWorker = Executors.newSingleThreadExecutor(daemon("tourniquet-push"));
      EventStreams streams = new EventStreams(settings.maxStreamsPerAgent, settings.maxStreams, pushWorker);
      bus.subscribe(notice -> {
        if (notice.kind() == Bus.Notice.Kind.FEED) {
          streams.feedChanged(notice.subject(), notice.detail());
        } else {
          streams.policyMayHaveChanged(notice.subject(), fleet::policyFingerprint);
        }
      });
      FeedWatcher watcher = new FeedWatcher(fleet, bus);
      watcher.initialScan();

      QueuedThreadPool threads = new QueuedThreadPool(200, 4);
      threads.setName("tourniquet-http");
      threads.setDaemon(true);
      jetty = new Server(threads);
      HttpConfiguration http = new HttpConfiguration();
      http.setSendServerVersion(false);
      http.setSendDateHeader(true);
      ServerConnector connector;
      if (settings.tlsKeystore.isPresent()) {
        SslContextFactory.Server tls = new SslContextFactory.Server();
        tls.setKeyStorePath(settings.tlsKeystore.get().toAbsolutePath().toString());
        tls.setKeyStoreType("PKCS12");
        tls.setKeyStorePassword(new String(settings.tlsPassword));
        SecureRequestCustomizer secure = new SecureRequestCustomizer();
        secure.setSniHostCheck(false);
        http.addCustomizer(secure);
        connector = new ServerConnector(jetty, tls, new HttpConnectionFactory(http));
      } else {
        connector = new ServerConnector(jetty, new HttpConnectionFactory(http));
      }
      connector.setHost(settings.host);
      connector.setPort(settings.port);
      connector.setIdleTimeout(Math.max(60_000, settings.keepAlive.toMillis() * 4));
      jetty.addConnector(connector);
      Dashboard dashboard = new Dashboard(fleet, settings.tlsKeystore.isPresent() || settings.behindHttpsProxy,
          settings.sessionTtl, settings.sessionIdle, settings.dashboardRefresh);
      jetty.setHandler(new FleetHandler(fleet, streams, dashboard));
      jetty.setErrorHandler(new JsonErrorHandler());
      jetty.setStopTimeout(500);
      jetty.start();

      scheduler = Executors.newSingleThreadScheduledExecutor(daemon("tourniquet-scheduler"));
      long keepAlive = settings.keepAlive.toMillis();
      scheduler.scheduleWithFixedDelay(streams::keepAlive, keepAlive, keepAlive, TimeUnit.MILLISECONDS);
      long poll = settings.feedPollInterval.toMillis();
      scheduler.scheduleWithFixedDelay(watcher::poll, poll, poll, TimeUnit.MILLISECONDS);
      feedWatch = watcher.watchDirectories(scheduler);
      long rollout = settings.rolloutCheckInterval.toMillis();
      scheduler.scheduleWithFixedDelay(() -> {
        try {
          fleet.autoRelease();
        } catch (SQLException | HttpException | RuntimeException e) {
          LOG.warn("automatic rollout release failed: {}", e.getMessage());
        }
      }, rollout, rollout, TimeUnit.MILLISECONDS);

      String scheme = settings.tlsKeystore.isPresent() ? "https" : "http";
      String host = settings.host.contains(":") ? "[" + settings.host + "]" : settings.host;
      URI uri = URI.create(scheme + "://" + host + ":" + connector.getLocalPort() + "/");
      LOG.info("fleet server listening on {} (database {}, feeds {})", uri, db.describe(), feeds.keySet());
      if (!settings.tlsKeystore.isPresent() && !isLoopback(settings.host)) {
        LOG.warn("serving plain HTTP on {}: agent credentials and admin tokens cross the network in clear text;"
            + " use --tls-keystore", settings.host);
      }
      return new FleetServer(settings, db, bus, jetty, streams, scheduler, feedWatch, pushWorker, uri, fleet, feedCache);
    } catch (Exception e) {
      closeQuietly(feedWatch);
      if (scheduler != null) {
        scheduler.shutdownNow();
      }
      if (jetty != null) {
        try {
          jetty.stop();
        } catch (Exception ignored) {
          // startup already failed
        }
      }
      if (pushWorker != null) {
        pushWorker.shutdownNow();
      }
      if (bus != null) {
        bus.close();
      }
      db.close();
      if (e instanceof IOException io) {
        throw io;
      }
      if (e instanceof RuntimeException re) {
        throw re;
      }
      throw new IOException("cannot start the fleet server: " + e.getMessage(), e);
    }
  }

  private static boolean isLoopback(String host) {
    return host.equals("127.0.0.1") || host.equals("::1") || host.equalsIgnoreCase("localhost");
  }

  /** Creates the first admin and its token file when the database has no user. */
  private static void bootstrapAdmin(Database db, Settings settings) throws IOException, SQLException, HttpException {
    Path file = settings.dataDir.resolve("admin.token");
    Path temp = settings.dataDir.resolve("admin.token.tmp");
    boolean created;
    String token = Secrets.newSecret(Secrets.USER);
    Files.deleteIfExists(temp);
    try {
      Files.createFile(temp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException e) {
      Files.createFile(temp);
    }
    try {
      Files.write(temp, (token + "\n").getBytes(StandardCharsets.UTF_8), StandardOpenOption.WRITE,
          StandardOpenOption.SYNC);
      created = db.transaction(c -> {
        if (Users.any(c)) {
          return false;
        }
        java.time.Instant now = settings.clock.instant();
        Database.update(c, "INSERT INTO admin_users (name, role, token_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
            "admin", Role.ADMIN.label(), Secrets.hash(token), now, "system");
        AuditLog.append(c, now, "system", "user.create", "user admin", "role admin; first start, token written to "
            + file.toAbsolutePath());
        return true;
      });
    } catch (SQLException e) {
      Files.deleteIfExists(temp);
      if (Database.isUniqueViolation(e)) {
        return; // another server process on the same database created the first admin
      }
      throw e;
    }
    if (created) {
      Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      LOG.info("first start: created user admin; its token is in {} (readable by the owner only)",
          file.toAbsolutePath());
    } else {
      Files.deleteIfExists(temp);
    }
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /**
   * Returns the base URI, e.g. {@code http://127.0.0.1:8420/}.
   *
   * @return the URI the server listens on
   */
  public URI uri() {
    return uri;
  }

  /**
   * Returns the file the first admin token was written to (it may have been removed by the operator).
   *
   * @return {@code <dataDir>/admin.token}
   */
  public Path adminTokenFile() {
    return settings.dataDir.resolve("admin.token");
  }

  /** Runs the automatic rollout release now, as the schedule does (for tests with a moved clock). */
  void releaseDueRollouts() throws SQLException, HttpException {
    fleet.autoRelease();
  }

  /** The number of open event streams. */
  int eventStreams() {
    return streams.count();
  }

  /** The fleet's database, for a test that must hold a transaction open beside the server's own. */
  Database database() {
    return db;
  }

  /** The cache of the hosted feeds' files. */
  FeedFileCache feedCache() {
    return feedCache;
  }

  /** Stops serving, ends every event stream, and closes the database. */
  @Override
  public void close() {
    closeQuietly(feedWatch);
    scheduler.shutdownNow();
    streams.closeAll();
    try {
      jetty.stop();
    } catch (Exception e) {
      LOG.warn("stopping the HTTP server: {}", e.toString());
    }
    pushWorker.shutdownNow();
    bus.close();
    db.close();
  }

  private static void closeQuietly(Closeable c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException e) {
        LOG.warn("closing {}: {}", c, e.toString());
      }
    }
  }

  /** What a {@link FleetServer} serves, where, and on which database. Build with {@link #builder(Path)}. */
  public static final class Settings {
    private final Path dataDir;
    private final String host;
    private final int port;
    private final Map<String, Path> feeds;
    private final Optional<String> jdbcUrl;
    private final Optional<Path> tlsKeystore;
    private final char[] tlsPassword;
    private final boolean behindHttpsProxy;
    private final Clock clock;
    private final Duration keepAlive;
    private final Duration feedPollInterval;
    private final Duration rolloutCheckInterval;
    private final Duration staleAfter;
    private final Duration sessionTtl;
    private final Duration sessionIdle;
    private final Duration dashboardRefresh;
    private final int maxStreamsPerAgent;
    private final int maxStreams;
    private final int feedCacheEntries;
    private final long feedCacheBytes;

    private Settings(Builder b) {
      this.dataDir = b.dataDir;
      this.host = b.host;
      this.port = b.port;
      this.feeds = Map.copyOf(b.feeds);
      this.jdbcUrl = b.jdbcUrl;
      this.tlsKeystore = b.tlsKeystore;
      this.tlsPassword = b.tlsPassword.clone();
      this.behindHttpsProxy = b.behindHttpsProxy;
      this.clock = b.clock;
      this.keepAlive = b.keepAlive;
      this.feedPollInterval = b.feedPollInterval;
      this.rolloutCheckInterval = b.rolloutCheckInterval;
      this.staleAfter = b.staleAfter;
      this.sessionTtl = b.sessionTtl;
      this.sessionIdle = b.sessionIdle;
      this.dashboardRefresh = b.dashboardRefresh;
      this.maxStreamsPerAgent = b.maxStreamsPerAgent;
      this.maxStreams = b.maxStreams;
      this.feedCacheEntries = b.feedCacheEntries;
      this.feedCacheBytes = b.feedCacheBytes;
    }

    /**
     * Starts settings with defaults: 127.0.0.1 port 8420, no feed, H2 in the data directory, plain HTTP.
     *
     * @param dataDir where the server keeps its H2 database and the first admin token
     * @return a builder
     */
    public static Builder builder(Path dataDir) {
      return new Builder(dataDir);
    }

    /** Builds {@link Settings}. */
    public static final class Builder {
      private final Path dataDir;
      private String host = "127.0.0.1";
      private int port = 8420;
      private final Map<String, Path> feeds = new LinkedHashMap<>();
      private Optional<String> jdbcUrl = Optional.empty();
      private Optional<Path> tlsKeystore = Optional.empty();
      private char[] tlsPassword = new char[0];
      private boolean behindHttpsProxy;
      private Clock clock = Clock.systemUTC();
      private Duration keepAlive = Duration.ofSeconds(15);
      private Duration feedPollInterval = Duration.ofMillis(500);
      private Duration rolloutCheckInterval = Duration.ofSeconds(30);
      private Duration staleAfter = Duration.ofHours(3);
      private Duration sessionTtl = Duration.ofHours(8);
      private Duration sessionIdle = Duration.ofMinutes(30);
      private Duration dashboardRefresh = Duration.ofSeconds(15);
      private int maxStreamsPerAgent = 2;
      private int maxStreams = 10_000;
      private int feedCacheEntries = FeedFileCache.DEFAULT_ENTRIES;
      private long feedCacheBytes = FeedFileCache.DEFAULT_BYTES;

      private Builder(Path dataDir) {
        this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
      }

      /**
       * Sets the address to listen on.
       *
       * @param host an IP address or host name; 127.0.0.1 by default
       * @param port the port, 0 for any free port
       * @return this builder
       * @throws IllegalArgumentException if the port is out of range
       */
      public Builder listen(String host, int port) {
        if (port < 0 || port > 65535) {
          throw new IllegalArgumentException("port: expected 0 to 65535 but found " + port);
        }
        this.host = Objects.requireNonNull(host, "host");
        this.port = port;
        return this;
      }

      /**
       * Hosts a feed at {@code /feeds/NAME/}.
       *
       * @param name letters, digits, '.', '_' or '-'
       * @param publishedDir the repository's {@code published} directory
       * @return this builder
       * @throws IllegalArgumentException if the name is invalid or already used
       */
      public Builder feed(String name, Path publishedDir) {
        if (!HostedFeed.NAME.matcher(name).matches()) {
          throw new IllegalArgumentException("feed name: expected letters, digits, '.', '_' or '-' (at most 64) but"
              + " found \"" + name + "\"");
        }
        if (feeds.putIfAbsent(name, Objects.requireNonNull(publishedDir, "publishedDir")) != null) {
          throw new IllegalArgumentException("feed " + name + " is given twice");
        }
        return this;
      }

      /**
       * Uses a database other than the embedded H2 in the data directory.
       *
       * @param url {@code jdbc:postgresql://host/db?user=…} or {@code jdbc:h2:…}
       * @return this builder
       */
      public Builder database(String url) {
        this.jdbcUrl = Optional.of(url);
        return this;
      }

      /**
       * Serves HTTPS with the key and certificate chain of a PKCS#12 keystore.
       *
       * @param keystore the PKCS#12 file
       * @param password its password
       * @return this builder
       */
      public Builder tls(Path keystore, char[] password) {
        this.tlsKeystore = Optional.of(keystore);
        this.tlsPassword = password.clone();
        return this;
      }

      /**
       * Says that users reach the server only through a reverse proxy that terminates HTTPS, so the
       * dashboard's session cookie is marked {@code Secure} although the server itself speaks plain HTTP: a
       * browser then never sends it over a plain connection, which someone on the network could read.
       *
       * @return this builder
       */
      public Builder behindHttpsProxy() {
        this.behindHttpsProxy = true;
        return this;
      }

      /**
       * Sets the clock (tests move it to exercise rollout delays and stale servers).
       *
       * @param clock the clock
       * @return this builder
       */
      public Builder clock(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        return this;
      }

      /**
       * Sets the timings: event-stream keep-alive (15 s), feed timestamp polling (500 ms), rollout
       * automatic-release check (30 s), and after how long without contact a server is shown as not seen
       * recently (3 h).
       *
       * @param keepAlive keep-alive comment interval
       * @param feedPoll how often hosted feeds' timestamps are checked
       * @param rolloutCheck how often automatic rollout release is evaluated
       * @param staleAfter when a server counts as not seen recently
       * @return this builder
       */
      public Builder timings(Duration keepAlive, Duration feedPoll, Duration rolloutCheck, Duration staleAfter) {
        this.keepAlive = positive("keepAlive", keepAlive);
        this.feedPollInterval = positive("feedPoll", feedPoll);
        this.rolloutCheckInterval = positive("rolloutCheck", rolloutCheck);
        this.staleAfter = positive("staleAfter", staleAfter);
        return this;
      }

      /**
       * Bounds the number of event streams.
       *
       * @param perAgent streams one agent may hold at once (2)
       * @param total streams the server holds at once (10,000)
       * @return this builder
       */
      public Builder streamLimits(int perAgent, int total) {
        if (perAgent < 1 || total < perAgent) {
          throw new IllegalArgumentException("stream limits: expected 1 <= perAgent <= total but found " + perAgent
              + " and " + total);
        }
        this.maxStreamsPerAgent = perAgent;
        this.maxStreams = total;
        return this;
      }

      /**
       * Sets how long a dashboard session lasts: it ends {@code lifetime} after logging in (8 hours) however
       * much it is used, and sooner once it has not been used for {@code idle} (30 minutes). A page's
       * automatic refresh is not use. The last use is written at most once a minute, so an unused session
       * ends between {@code idle} minus a minute and {@code idle} after its last use.
       *
       * @param lifetime whole seconds from PT2M to P30D
       * @param idle whole seconds from PT2M to {@code lifetime}
       * @return this builder
       * @throws IllegalArgumentException if either is out of range
       */
      public Builder sessions(Duration lifetime, Duration idle) {
        Duration min = Duration.ofMinutes(2);
        if (lifetime.getNano() != 0 || lifetime.compareTo(min) < 0 || lifetime.compareTo(Duration.ofDays(30)) > 0) {
          throw new IllegalArgumentException("session lifetime: expected whole seconds from PT2M to P30D but found "
              + lifetime);
        }
        if (idle.getNano() != 0 || idle.compareTo(min) < 0 || idle.compareTo(lifetime) > 0) {
          throw new IllegalArgumentException("session idle timeout: expected whole seconds from PT2M to the lifetime ("
              + lifetime + ") but found " + idle);
        }
        this.sessionTtl = lifetime;
        this.sessionIdle = idle;
        return this;
      }

      /** How often an open dashboard page refreshes itself (15 s); tests make it short. */
      Builder dashboardRefresh(Duration every) {
        this.dashboardRefresh = positive("dashboardRefresh", every);
        return this;
      }

      /** Bounds the cache of feed files (1,024 files, 64 MiB of content); tests make it small. */
      Builder feedCache(int entries, long bytes) {
        this.feedCacheEntries = entries;
        this.feedCacheBytes = bytes;
        return this;
      }

      /**
       * Builds the settings.
       *
       * @return the settings
       */
      public Settings build() {
        return new Settings(this);
      }

      private static Duration positive(String name, Duration d) {
        if (d.isNegative() || d.isZero()) {
          throw new IllegalArgumentException(name + ": expected a positive duration but found " + d);
        }
        return d;
      }
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT,
          "Settings[data=%s, listen=%s:%d, feeds=%s, db=%s, tls=%s, behindHttpsProxy=%s]", dataDir, host, port,
          new HashMap<>(feeds), jdbcUrl.map(Database::redact).orElse("H2"), tlsKeystore.isPresent(), behindHttpsProxy);
    }
  }
}
