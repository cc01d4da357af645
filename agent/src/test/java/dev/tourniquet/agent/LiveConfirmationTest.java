package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.servlet.http.HttpServlet;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.Server;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Whether a mitigation on a servlet target is live, as the status shows it: not confirmed while no filter
 * has loaded the current enforcement file, confirmed as soon as the application's filter does (no new
 * change needed), and Failed when a filter rejects it.
 *
 * <p>The real filter (embedded Jetty) never rejects a file the agent writes: the agent compiles the file
 * with the same code before writing it. A rejection comes from a filter of another version, so the tests of
 * rejections use a {@link StandInFilter} that acknowledges the file as {@code docs/servlet.md} specifies.
 */
class LiveConfirmationTest {
  @TempDir
  Path dir;

  AgentFixture fx;
  Agent agent;
  Server app;
  StandInFilter standIn;

  @BeforeEach
  void setUp() throws Exception {
    fx = new AgentFixture(dir);
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      if (agent != null) {
        agent.close();
      }
      if (standIn != null) {
        standIn.close();
      }
    } finally {
      if (app != null) {
        app.stop();
      }
    }
  }

  @Test
  void aMitigationAppliedWhileTheApplicationIsDownIsNotConfirmedUntilItsFilterLoadsTheFile() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    agent = fx.open();

    MitigationStatus applied = AgentFixture.row(agent.check(), "M1");

    assertThat(applied.status()).isEqualTo(Status.APPLIED);
    assertThat(applied.live()).contains(false);
    assertThat(applied.reason()).isEqualTo("applies to version " + Mitigations.VULNERABLE
        + "; not confirmed live: no servlet filter has loaded " + fx.enforcementFile + " yet (there is no app.json.loaded.json):"
        + " is the application running, with the Tourniquet filter reading this file? The file stays in place and takes"
        + " effect when the filter starts");

    app = startApp();

    MitigationStatus confirmed = AgentFixture.row(agent.status(), "M1");
    assertThat(confirmed.status()).isEqualTo(Status.APPLIED);
    assertThat(confirmed.live()).contains(true);
    assertThat(confirmed.reason()).isEqualTo("applies to version " + Mitigations.VULNERABLE);
    MitigationStatus checked = AgentFixture.row(agent.check(), "M1");
    assertThat(checked.live()).contains(true);
    assertThat(checked.reason()).isEqualTo("applied");
    assertThat(fx.audit("M1.1", "intent")).hasSize(1);
  }

  @Test
  void aMitigationThatIsNotAppliedHasNoLiveness() throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    agent = fx.open();
    agent.check();

    MitigationStatus blocked = AgentFixture.row(agent.block("M1"), "M1");

    assertThat(blocked.status()).isEqualTo(Status.BLOCKED);
    assertThat(blocked.live()).isEmpty();
    assertThat(blocked.reason()).isEqualTo("blocked by admin");
  }

  @Test
  void aFilterThatRejectsTheNewFileGetsThePreviousOneBackAndTheMitigationFailsWithItsError() throws Exception {
    Pattern hasM2 = Pattern.compile("\"id\"\\s*:\\s*\"M2\"");
    standIn = StandInFilter.start(fx.enforcementFile,
        content -> hasM2.matcher(content).find() ? Optional.of("mitigations[1] (M2): unsupported action") : Optional.empty());
    standIn.awaitAcknowledgement();
    fx.feed.put(Mitigations.m1(1)).publish();
    agent = fx.open();
    assertThat(AgentFixture.row(agent.check(), "M1").live()).contains(true);
    fx.feed.put(Mitigations.proxyLogon("M2", 1)).publish();

    AgentStatus status = agent.check();

    MitigationStatus m2 = AgentFixture.row(status, "M2");
    assertThat(m2.status()).isEqualTo(Status.FAILED);
    assertThat(m2.reason()).isEqualTo("failed: app: " + fx.enforcementFile + ": the servlet filter rejected the new file:"
        + " mitigations[1] (M2): unsupported action; restored the previous file");
    assertThat(m2.live()).isEmpty();
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit("M2.1", "failed")).containsExactly("apply app");
    MitigationStatus m1 = AgentFixture.row(status, "M1");
    assertThat(m1.status()).isEqualTo(Status.APPLIED);
    assertThat(m1.live()).as("the filter loaded the restored file: " + m1.reason()).contains(true);
  }

  @Test
  void aFileRejectedAfterTheAgentStoppedWaitingFailsItsMitigationsKeepsTheFileAndClearsWhenAFilterLoadsIt()
      throws Exception {
    fx.feed.put(Mitigations.m1(1)).publish();
    agent = fx.open();
    agent.check();
    standIn = StandInFilter.start(fx.enforcementFile, content -> Optional.of("expected format tourniquet-enforcement/1"));
    standIn.awaitAcknowledgement();

    MitigationStatus rejected = AgentFixture.row(agent.status(), "M1");

    assertThat(rejected.status()).isEqualTo(Status.FAILED);
    assertThat(rejected.live()).contains(false);
    assertThat(rejected.reason()).isEqualTo("applies to version " + Mitigations.VULNERABLE + "; not enforced on app:"
        + " the servlet filter rejected " + fx.enforcementFile + ": expected format tourniquet-enforcement/1; it keeps"
        + " enforcing what it loaded before, if anything, and the file stays in place: read the application's log, and"
        + " check that its Tourniquet filter is as recent as the agent");
    assertThat(AgentFixture.row(agent.check(), "M1").status()).isEqualTo(Status.FAILED);
    assertThat(fx.enforced()).containsExactly("M1.1");
    assertThat(fx.audit("M1.1", "intent")).hasSize(1);

    standIn.close();
    app = startApp();

    MitigationStatus fixed = AgentFixture.row(agent.status(), "M1");
    assertThat(fixed.status()).isEqualTo(Status.APPLIED);
    assertThat(fixed.live()).contains(true);
  }

  /** The protected application: the real filter on the target's file, which it loads as it starts. */
  private Server startApp() throws Exception {
    return AgentFixture.startApp(fx.enforcementFile, new HttpServlet() {});
  }

  /**
   * Plays a servlet filter of another version: every 20 ms it reads the enforcement file and, when its
   * content changed, acknowledges it in {@code <file>.loaded.json} as loaded, or as rejected with the error
   * {@code rejects} gives (a missing file as {@code missing}), written atomically like the real filter.
   */
  static final class StandInFilter implements AutoCloseable {
    private final Path file;
    private final Path ack;
    private final Function<String, Optional<String>> rejects;
    private final Thread thread;
    private volatile boolean closed;

    private StandInFilter(Path file, Function<String, Optional<String>> rejects) {
      this.file = file;
      this.ack = file.resolveSibling(file.getFileName() + ".loaded.json");
      this.rejects = rejects;
      this.thread = new Thread(this::run, "stand-in filter");
    }

    static StandInFilter start(Path file, Function<String, Optional<String>> rejects) {
      StandInFilter filter = new StandInFilter(file, rejects);
      filter.thread.setDaemon(true);
      filter.thread.start();
      return filter;
    }

    private void run() {
      String seen = "";
      while (!closed) {
        try {
          byte[] bytes = Files.readAllBytes(file);
          String sha256 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
          if (!sha256.equals(seen)) {
            Optional<String> error = rejects.apply(new String(bytes, StandardCharsets.UTF_8));
            acknowledge(sha256, error.isPresent() ? "rejected" : "loaded", error.orElse(null));
            seen = sha256;
          }
        } catch (NoSuchFileException e) {
          if (!seen.equals("missing")) {
            acknowledge(null, "missing", "the file does not exist");
            seen = "missing";
          }
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        LockSupport.parkNanos(20_000_000);
      }
    }

    private void acknowledge(String sha256, String outcome, String error) {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("format", "tourniquet-loaded/1");
      body.put("sha256", sha256);
      body.put("outcome", outcome);
      body.put("error", error);
      body.put("time", Instant.now().toString());
      try {
        Path tmp = ack.resolveSibling(ack.getFileName() + ".tmp");
        Files.createDirectories(ack.getParent());
        Files.write(tmp, new ObjectMapper().writeValueAsBytes(body));
        Files.move(tmp, ack, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }

    /** Waits, at most 10 s, until the file as it is now (or its absence) has been acknowledged. */
    void awaitAcknowledgement() throws Exception {
      String sha256 = Files.exists(file)
          ? HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file))) : "";
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (!Files.exists(ack) || !new ObjectMapper().readTree(ack.toFile()).path("sha256").asText("").equals(sha256)) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("expected the stand-in filter to acknowledge " + file + " within 10 s");
        }
        LockSupport.parkNanos(20_000_000);
      }
    }

    @Override
    public void close() throws InterruptedException {
      closed = true;
      thread.join(10_000);
    }
  }
}
