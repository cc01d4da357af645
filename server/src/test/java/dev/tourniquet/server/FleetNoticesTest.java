package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which changes announce a fleet-wide policy notice. Each one makes every server process recompute the
 * policy of every connected agent, so a change that cannot alter any agent's policy must not send one:
 * with 1,000 agents connected, that is 1,000 policy reads while they all check the feed just pushed.
 */
class FleetNoticesTest {
  static final Users.Principal ADMIN = new Users.Principal("admin", Role.ADMIN);

  @TempDir
  Path dir;
  final RecordingBus bus = new RecordingBus();
  final MutableClock clock = new MutableClock(Instant.parse("2026-11-29T10:00:00Z"));
  Database db;
  Fleet fleet;
  HostedFeed feed;

  @BeforeEach
  void open() throws Exception {
    db = Database.open("jdbc:h2:file:" + dir.resolve("fleet").toAbsolutePath());
    Path feedDir = Files.createDirectories(dir.resolve("feed"));
    feed = new HostedFeed("default", feedDir, new FeedFileCache(16, 1 << 20));
    fleet = new Fleet(db, clock, bus, Map.of("default", feed), Duration.ofHours(2));
  }

  @AfterEach
  void close() {
    db.close();
  }

  @Test
  void revisionFoundWhileRolloutIsOffChangesNoPolicyAndIsNotAnnounced() throws Exception {
    boolean found = fleet.discover(feed, List.of(new HostedFeed.Listed("M1", 1)));

    assertThat(found).as("the revision is recorded as new").isTrue();
    assertThat(policyNotices()).isEmpty();
  }

  @Test
  void revisionFoundWhileRolloutIsOnIsAnnouncedToEveryAgent() throws Exception {
    fleet.setRollout(ADMIN, true, Optional.empty());
    bus.clear();

    fleet.discover(feed, List.of(new HostedFeed.Listed("M1", 1)));
    fleet.discover(feed, List.of(new HostedFeed.Listed("M1", 1)));

    assertThat(policyNotices()).as("once: the second discovery found nothing new")
        .containsExactly(Bus.Notice.policy(Optional.empty()));
  }

  @Test
  void failureReportedWhileNothingIsHeldIsNotAnnounced() throws Exception {
    Agents.Agent agent = enrol("web-01");
    fleet.discover(feed, List.of(new HostedFeed.Listed("M1", 1)));

    fleet.report(agent, Optional.of(report("Failed")));
    fleet.report(agent, Optional.of(report("Applied")));

    assertThat(policyNotices()).as("rollout off: no server's policy holds anything back").isEmpty();
  }

  @Test
  void failureReportedWhileARevisionWaitsInCanaryIsAnnouncedAndSoIsItsRecovery() throws Exception {
    Agents.Agent agent = enrol("web-01");
    fleet.setRollout(ADMIN, true, Optional.empty());
    fleet.discover(feed, List.of(new HostedFeed.Listed("M1", 1)));
    bus.clear();

    fleet.report(agent, Optional.of(report("Failed")));
    fleet.report(agent, Optional.of(report("Applied")));
    fleet.report(agent, Optional.of(report("Applied")));

    assertThat(policyNotices()).as("the halt and its end change the held reason; a report with no failure"
        + " before or after changes nothing").hasSize(2);
  }

  private Agents.Agent enrol(String server) throws Exception {
    String token = fleet.issueEnrolmentToken(ADMIN, Duration.ofHours(1), "");
    Agents.Enrolled e = fleet.enrol(token, server, Map.of());
    return fleet.agentByCredential(e.credential()).orElseThrow();
  }

  private static Agents.Report report(String status) {
    return new Agents.Report("0.1.0", "app 1.0", Optional.empty(), Optional.empty(), "ok",
        List.of(new Agents.MitigationReport("M1", 1, "servlet", status, status.equals("Failed") ? "boom" : "",
            Map.of())));
  }

  private List<Bus.Notice> policyNotices() {
    return bus.published(Bus.Notice.Kind.POLICY);
  }
}
