package dev.tourniquet.servlet;

import dev.tourniquet.rules.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Watches the enforcement file and keeps the current {@link Snapshot}.
 *
 * <p>A daemon thread polls every {@code pollInterval} (250 ms by default): it compares the file's
 * identity, modification time and size with the last ones seen and, only when they differ, reads the file
 * and compares its SHA-256 with the content last seen. New content is parsed and compiled off the request
 * path, then published with one {@link AtomicReference#set}; a request reads the reference once when it
 * starts, so it finishes with the snapshot it started with however many swaps happen meanwhile.
 *
 * <p>Protection is never dropped by accident: content that does not parse or compile, an unreadable file
 * or a deleted file leaves the previous snapshot in force, and the reason is logged once and kept in
 * {@link #lastError()} until a good version loads. To stop enforcing, the agent writes a file with no
 * mitigations. The same thread writes the hit counters to {@code <file>.hits.json} when they changed.
 *
 * <p>Each new content that is loaded or rejected is acknowledged in {@code <file>.loaded.json} (written
 * atomically): its SHA-256, {@code loaded} or {@code rejected}, and the error; a missing file is
 * acknowledged as {@code missing}, so that the agent knows a filter is running. The agent waits for the
 * acknowledgement to verify that what it wrote is live. When the filter is destroyed, the acknowledgement
 * says {@code stopped}. Every acknowledgement names the process that wrote it ({@link ProcessIdentity}), so that
 * the agent can tell an application killed without a {@code stopped} from one that runs.
 */
final class EnforcementWatcher implements AutoCloseable {
  static final Logger LOG = Logger.getLogger("dev.tourniquet.servlet");

  private record Stamp(Object fileKey, FileTime modified, long size) {}

  private static final Stamp MISSING = new Stamp("missing", FileTime.fromMillis(0), -1);

  private final Path file;
  private final Path hitsFile;
  private final Path loadedFile;
  private final Duration pollInterval;
  private final Duration hitsInterval;
  private final Clock clock;
  private final HitCounter hits;
  private final AtomicReference<Snapshot> current = new AtomicReference<>(Snapshot.EMPTY);
  private volatile String lastError;
  private volatile long loads;
  private Stamp stamp;
  private byte[] digest;
  /** The acknowledgement this watcher wrote last, as written; null until it writes one. */
  private byte[] acknowledged;
  private long hitsWritten = 0;
  private long lastHitsWrite;
  private ScheduledExecutorService executor;
  private volatile boolean closed;

  EnforcementWatcher(Path file, Duration pollInterval, Duration hitsInterval, Clock clock, HitCounter hits) {
    this.file = file.toAbsolutePath();
    this.hitsFile = this.file.resolveSibling(this.file.getFileName() + ".hits.json");
    this.loadedFile = this.file.resolveSibling(this.file.getFileName() + ".loaded.json");
    this.pollInterval = Objects.requireNonNull(pollInterval, "pollInterval");
    this.hitsInterval = Objects.requireNonNull(hitsInterval, "hitsInterval");
    this.clock = clock;
    this.hits = hits;
  }

  /** Loads the file once, synchronously, then starts the polling thread. */
  synchronized void start() {
    if (executor != null) {
      return;
    }
    poll();
    lastHitsWrite = clock.millis();
    ScheduledThreadPoolExecutor ex = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "tourniquet-watch " + file.getFileName());
      t.setDaemon(true);
      return t;
    });
    ex.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    ex.scheduleWithFixedDelay(this::tick, pollInterval.toMillis(), pollInterval.toMillis(), TimeUnit.MILLISECONDS);
    executor = ex;
  }

  private void tick() {
    try {
      poll();
      if (clock.millis() - lastHitsWrite >= hitsInterval.toMillis()) {
        writeHits();
      }
    } catch (RuntimeException | Error e) {
      // A failure here must not cancel the schedule, or reloads would silently stop.
      LOG.log(Level.SEVERE, "tourniquet: unexpected failure while watching " + file, e);
    }
  }

  boolean closed() {
    return closed;
  }

  Snapshot current() {
    return current.get();
  }

  String lastError() {
    return lastError;
  }

  long loads() {
    return loads;
  }

  Path file() {
    return file;
  }

  Path hitsFile() {
    return hitsFile;
  }

  /** Checks the file once and loads it if its content changed. */
  synchronized void poll() {
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(file, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      if (!MISSING.equals(stamp)) {
        stamp = MISSING;
        digest = null;
        reject("the file does not exist");
        acknowledge(null, "missing", lastError);
      }
      return;
    } catch (IOException e) {
      reject("cannot read its attributes: " + e);
      stamp = null;
      return;
    }
    Stamp seen = new Stamp(attributes.fileKey(), attributes.lastModifiedTime(), attributes.size());
    if (seen.equals(stamp)) {
      return;
    }
    stamp = seen;
    byte[] bytes;
    try {
      bytes = EnforcementFile.readCapped(file);
    } catch (IOException e) {
      stamp = null;
      reject("cannot read it: " + e);
      return;
    } catch (EnforcementFileException e) {
      digest = null;
      reject(String.join("; ", e.problems()));
      acknowledgeOversized();
      return;
    }
    byte[] hash = sha256(bytes);
    if (Arrays.equals(hash, digest)) {
      return;
    }
    digest = hash;
    try {
      String text = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes)).toString();
      EnforcementFile parsed = EnforcementFile.parse(text, file.toString());
      Snapshot snapshot = Snapshot.compile(parsed, file.toString());
      current.set(snapshot);
      loads++;
      lastError = null;
      LOG.info(() -> String.format(Locale.ROOT, "tourniquet: loaded %s (generated %s): %s", file, parsed.generated(),
          describe(snapshot)));
      acknowledge(hash, "loaded", null);
    } catch (CharacterCodingException e) {
      reject("expected UTF-8 but found malformed bytes");
      acknowledge(hash, "rejected", lastError);
    } catch (EnforcementFileException e) {
      reject(String.join("; ", e.problems()));
      acknowledge(hash, "rejected", lastError);
    }
  }

  /**
   * Writes, atomically, {@code <file>.loaded.json}: which content (SHA-256 of the file's bytes) was loaded
   * or rejected, and why, so that the agent can verify that its change is live.
   */
  private void acknowledge(byte[] hash, String outcome, String error) {
    Map<String, Object> ack = new LinkedHashMap<>();
    ack.put("format", "tourniquet-loaded/1");
    ack.put("sha256", hash == null ? null : HexFormat.of().formatHex(hash));
    ack.put("outcome", outcome);
    ack.put("error", error);
    ack.put("time", clock.instant().toString());
    ack.put("process", ProcessIdentity.current().toJson());
    try {
      byte[] bytes = Json.write(ack).getBytes(StandardCharsets.UTF_8);
      AtomicFiles.write(loadedFile, bytes);
      acknowledged = bytes;
    } catch (IOException | RuntimeException e) {
      LOG.warning(() -> "tourniquet: cannot write the load acknowledgement " + loadedFile + ": " + e);
    }
  }

  /**
   * Acknowledges a file over the size cap as rejected, with the digest of all its bytes (read in blocks, never
   * held), so that whoever wrote it learns at once that it is not enforced rather than after a timeout. A
   * file that cannot be read whole now is not acknowledged: its content is not known.
   */
  private void acknowledgeOversized() {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
      byte[] block = new byte[64 * 1024];
      for (int n; (n = in.read(block)) > 0; ) {
        sha256.update(block, 0, n);
      }
      acknowledge(sha256.digest(), "rejected", lastError);
    } catch (IOException e) {
      LOG.fine(() -> "tourniquet: " + file + " could not be read whole to acknowledge its rejection: " + e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  private void reject(String reason) {
    if (reason.equals(lastError)) {
      // Logged already: an unreadable file is retried on every poll, but reported once.
      return;
    }
    Snapshot kept = current.get();
    String keeping = kept.file() == null ? "enforcing nothing until a valid file appears"
        : "still enforcing the version generated " + kept.generated() + " (" + describe(kept) + ")";
    lastError = reason;
    LOG.warning(() -> "tourniquet: not loading " + file + ": " + reason + "; " + keeping);
  }

  static String describe(Snapshot s) {
    List<String> ids = mitigations(s);
    return ids.isEmpty() ? "no mitigations" : String.join(", ", ids);
  }

  static List<String> mitigations(Snapshot s) {
    return s.mitigations().stream()
        .map(c -> c.mitigation().appliedId() + " " + c.mitigation().mode().jsonName())
        .toList();
  }

  /** Writes the hit counters if they changed since the last write. */
  synchronized void writeHits() {
    lastHitsWrite = clock.millis();
    long changes = hits.changes();
    if (changes == hitsWritten) {
      return;
    }
    try {
      AtomicFiles.write(hitsFile, hits.toJson(clock.instant()).getBytes(StandardCharsets.UTF_8));
      hitsWritten = changes;
    } catch (IOException e) {
      LOG.warning(() -> "tourniquet: cannot write the hit counters to " + hitsFile + ": " + e);
    }
  }

  private static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  /**
   * Says in the acknowledgement that this filter stopped (outcome {@code stopped}, with the SHA-256 of the
   * content it enforced last), so that the agent does not report a stopped application's file as live.
   * Only if the acknowledgement is still the one this watcher wrote: another instance of the filter on the
   * same file (an application redeployed side by side) may have acknowledged since, and is running.
   */
  private synchronized void acknowledgeStopped() {
    if (acknowledged == null) {
      return;
    }
    try {
      if (!Arrays.equals(Files.readAllBytes(loadedFile), acknowledged)) {
        return;
      }
    } catch (IOException e) {
      return; // gone or unreadable: nothing of ours to correct
    }
    acknowledge(digest, "stopped", null);
  }

  /**
   * Stops the thread, waiting a bounded time for a poll in progress, writes the counters once more and
   * acknowledges the stop.
   */
  @Override
  public void close() {
    closed = true;
    ScheduledExecutorService ex;
    synchronized (this) {
      ex = executor;
      executor = null;
    }
    if (ex != null) {
      ex.shutdownNow();
      try {
        ex.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    writeHits();
    acknowledgeStopped();
  }
}
