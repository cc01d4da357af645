package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/** Organisation and server policy, rollout rings, and push events, against a real server. */
abstract class PolicyContract extends ContractBase {
  static final Duration WAIT = Duration.ofSeconds(10);

  /** Polls an agent's policy until it satisfies the condition, or fails at the deadline. */
  JsonNode awaitPolicy(String credential, Predicate<JsonNode> condition) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    JsonNode last;
    do {
      last = fleet.policy(credential);
      if (condition.test(last)) {
        return last;
      }
      Thread.onSpinWait();
    } while (System.nanoTime() < deadline);
    throw new AssertionError("policy never satisfied the condition within " + WAIT + "; last: " + last);
  }

  /** Polls the rollout list until the revision is there. */
  JsonNode awaitRollout(String id, int revision) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      for (JsonNode r : fleet.adminGet("/api/v1/admin/rollouts")) {
        if (r.get("id").asText().equals(id) && r.get("revision").asInt() == revision) {
          return r;
        }
      }
    }
    throw new AssertionError("rollout of " + id + "." + revision + " never appeared within " + WAIT);
  }

  @Test
  void orgBlockReachesEveryServerAndServerBlockOnlyItsOwn() throws Exception {
    String web1 = fleet.enrol("web-01", "{}");
    String web2 = fleet.enrol("web-02", "{}");

    fleet.adminPost("/api/v1/admin/org/block", "{\"id\":\"M1\"}");
    fleet.adminPost("/api/v1/admin/servers/web-02/block", "{\"id\":\"M2\"}");

    assertThat(fleet.policy(web1).get("blocked").toString()).isEqualTo("[\"M1\"]");
    assertThat(fleet.policy(web2).get("blocked").toString()).isEqualTo("[\"M1\",\"M2\"]");
    assertThat(fleet.adminGet("/api/v1/admin/policy").get("blocked").toString()).isEqualTo("[\"M1\"]");

    fleet.adminPost("/api/v1/admin/org/unblock", "{\"id\":\"M1\"}");
    assertThat(fleet.policy(web1).get("blocked")).isEmpty();
    assertThat(fleet.policy(web2).get("blocked").toString()).isEqualTo("[\"M2\"]");
  }

  @Test
  void serverModeOverridesTheOrganisationsMode() throws Exception {
    String web1 = fleet.enrol("web-01", "{}");
    String web2 = fleet.enrol("web-02", "{}");

    fleet.adminPost("/api/v1/admin/org/mode", "{\"id\":\"M1\",\"mode\":\"audit\"}");
    fleet.adminPost("/api/v1/admin/servers/web-02/mode", "{\"id\":\"M1\",\"mode\":\"enforce\"}");

    assertThat(fleet.policy(web1).get("modes").toString()).isEqualTo("{\"M1\":\"audit\"}");
    assertThat(fleet.policy(web2).get("modes").toString()).isEqualTo("{\"M1\":\"enforce\"}");

    fleet.adminPost("/api/v1/admin/org/mode", "{\"id\":\"M1\",\"mode\":null}");
    assertThat(fleet.policy(web1).get("modes")).isEmpty();
  }

  @Test
  void disablingTheOrganisationOrOneServerShowsInTheirPolicies() throws Exception {
    String web1 = fleet.enrol("web-01", "{}");
    String web2 = fleet.enrol("web-02", "{}");

    fleet.adminPost("/api/v1/admin/servers/web-02/disable", "");
    assertThat(fleet.policy(web1).get("serverMitigationsEnabled").asBoolean()).isTrue();
    assertThat(fleet.policy(web2).get("serverMitigationsEnabled").asBoolean()).isFalse();

    fleet.adminPost("/api/v1/admin/org/disable", "{}");
    assertThat(fleet.policy(web1).get("orgMitigationsEnabled").asBoolean()).isFalse();

    fleet.adminPost("/api/v1/admin/org/enable", "");
    assertThat(fleet.policy(web1).get("orgMitigationsEnabled").asBoolean()).isTrue();
  }

  @Test
  void newRevisionReachesTheCanaryRingFirstAndTheRestAfterApproval() throws Exception {
    String canary = fleet.enrol("web-01", "{\"ring\":\"canary\"}");
    String other = fleet.enrol("web-02", "{\"ring\":\"broad\"}");
    fleet.adminPost("/api/v1/admin/org/rollout", "{\"enabled\":true}");

    fleet.feed.publish(Map.of("M3", 1));
    JsonNode rollout = awaitRollout("M3", 1);

    assertThat(rollout.get("state").asText()).isEqualTo("canary");
    assertThat(fleet.policy(canary).get("held")).isEmpty();
    assertThat(fleet.policy(other).get("held").get("M3").asText())
        .isEqualTo("rollout of M3.1: ring canary first, waiting for approval");

    fleet.adminPost("/api/v1/admin/rollouts/M3/approve", "{\"revision\":1}");

    assertThat(fleet.policy(other).get("held")).isEmpty();
    JsonNode audit = fleet.adminGet("/api/v1/admin/audit?limit=5");
    assertThat(audit.get(0).get("action").asText()).isEqualTo("rollout.approve");
    assertThat(audit.get(0).get("actor").asText()).isEqualTo("admin");
    assertThat(audit.get(0).get("target").asText()).isEqualTo("M3.1");
  }

  @Test
  void canaryRevisionIsReleasedAutomaticallyAfterTheDelayWithNoFailure() throws Exception {
    fleet.enrol("web-01", "{\"ring\":\"canary\"}");
    String other = fleet.enrol("web-02", "{}");
    fleet.adminPost("/api/v1/admin/org/rollout", "{\"enabled\":true,\"autoReleaseAfter\":\"PT4H\"}");
    fleet.feed.publish(Map.of("M3", 1));
    awaitRollout("M3", 1);
    assertThat(fleet.policy(other).get("held").get("M3").asText()).contains("automatic release at");

    fleet.server.releaseDueRollouts();
    assertThat(fleet.policy(other).get("held").has("M3")).as("not yet due").isTrue();

    fleet.clock.advance(Duration.ofHours(4));
    fleet.server.releaseDueRollouts();

    assertThat(fleet.policy(other).get("held")).isEmpty();
    JsonNode r = awaitRollout("M3", 1);
    assertThat(r.get("state").asText()).isEqualTo("released");
    assertThat(r.get("releasedBy").asText()).startsWith("system");
  }

  @Test
  void automaticReleaseDelayTooLongToComputeStoredByAnOlderServerHoldsForApprovalOnly() throws Exception {
    String other = fleet.enrol("web-02", "{}");
    // The API caps the delay at a year now; an older server let any positive duration through.
    fleet.server.database().transaction(c -> {
      Policies.setRollout(c, true, java.util.Optional.of(Duration.ofDays(1_000_000_000_000L)));
      return null;
    });
    fleet.feed.publish(Map.of("M3", 1));
    awaitRollout("M3", 1);

    fleet.server.releaseDueRollouts();

    assertThat(fleet.policy(other).get("held").get("M3").asText())
        .isEqualTo("rollout of M3.1: ring canary first, waiting for approval");
    assertThat(awaitRollout("M3", 1).get("state").asText()).isEqualTo("canary");
  }

  @Test
  void canaryFailureHaltsTheAutomaticRelease() throws Exception {
    String canary = fleet.enrol("web-01", "{\"ring\":\"canary\"}");
    String other = fleet.enrol("web-02", "{}");
    fleet.adminPost("/api/v1/admin/org/rollout", "{\"enabled\":true,\"autoReleaseAfter\":\"PT1H\"}");
    fleet.feed.publish(Map.of("M3", 1));
    awaitRollout("M3", 1);

    fleet.post("/api/v1/agent/report", canary, "{\"server\":\"web-01\",\"agentVersion\":\"0.1.0\",\"feedHealth\":\"ok\","
        + "\"dataCollection\":true,\"mitigations\":[{\"id\":\"M3\",\"revision\":1,\"kind\":\"request-rules\","
        + "\"status\":\"Failed\",\"reason\":\"health probe: expected 200 but found 502\"}]}");
    fleet.clock.advance(Duration.ofHours(2));
    fleet.server.releaseDueRollouts();

    assertThat(fleet.policy(other).get("held").get("M3").asText())
        .isEqualTo("rollout of M3.1: ring canary first, halted: web-01 reports it Failed; waiting for approval");
    JsonNode r = awaitRollout("M3", 1);
    assertThat(r.get("state").asText()).isEqualTo("canary");
    assertThat(r.get("failures").toString()).isEqualTo("[\"web-01\"]");
    assertThat(r.get("progress").get("canary").get("Failed").asInt()).isEqualTo(1);
  }

  @Test
  void revisionFoundWhileRolloutIsOffIsReleasedAtOnce() throws Exception {
    String other = fleet.enrol("web-02", "{}");
    fleet.feed.publish(Map.of("M3", 1));
    JsonNode r = awaitRollout("M3", 1);
    assertThat(r.get("state").asText()).isEqualTo("released");
    assertThat(fleet.policy(other).get("held")).isEmpty();
  }

  // Push.

  @Test
  void newFeedTimestampIsPushedToConnectedAgents() throws Exception {
    String credential = fleet.enrol("web-01", "{}");
    try (EventStreamClient events = fleet.events(credential)) {
      assertThat(events.status).isEqualTo(200);
      assertThat(events.nextAny(WAIT).type()).isEqualTo(":");

      fleet.feed.refreshTimestamp();

      EventStreamClient.Event e = events.next(WAIT);
      assertThat(e.type()).isEqualTo("feed");
      assertThat(e.data()).isEqualTo("{\"feed\":\"default\"}");
    }
  }

  @Test
  void policyChangeIsPushedOnlyToTheAgentsItConcerns() throws Exception {
    String web1 = fleet.enrol("web-01", "{}");
    fleet.enrol("web-02", "{}");
    try (EventStreamClient events = fleet.events(web1)) {
      assertThat(events.nextAny(WAIT).type()).isEqualTo(":");

      // A change to web-02 alone, then one to everyone: web-01's first event must be the second.
      fleet.adminPost("/api/v1/admin/servers/web-02/block", "{\"id\":\"M2\"}");
      fleet.adminPost("/api/v1/admin/org/block", "{\"id\":\"M1\"}");

      assertThat(events.next(WAIT).type()).isEqualTo("policy");
      assertThat(fleet.policy(web1).get("blocked").toString()).isEqualTo("[\"M1\"]");

      // A change that leaves web-01's effective policy as it is sends nothing: the next event is the
      // feed hint that follows it.
      fleet.adminPost("/api/v1/admin/org/block", "{\"id\":\"M1\"}");
      fleet.adminPost("/api/v1/admin/servers/web-02/mode", "{\"id\":\"M1\",\"mode\":\"audit\"}");
      fleet.feed.refreshTimestamp();
      assertThat(events.next(WAIT).type()).isEqualTo("feed");
    }
  }

  @Test
  void aThirdStreamOfOneAgentClosesItsOldest() throws Exception {
    String credential = fleet.enrol("web-01", "{}");
    String other = fleet.enrol("web-02", "{}");
    try (EventStreamClient one = fleet.events(credential);
        EventStreamClient two = fleet.events(credential);
        EventStreamClient otherAgent = fleet.events(other)) {
      assertThat(one.nextAny(WAIT).type()).isEqualTo(":");
      assertThat(two.nextAny(WAIT).type()).isEqualTo(":");

      try (EventStreamClient three = fleet.events(credential)) {
        assertThat(three.status).isEqualTo(200);
        assertThat(one.next(WAIT).type()).isEqualTo("closed");
        assertThat(fleet.server.eventStreams()).isEqualTo(3);

        fleet.adminPost("/api/v1/admin/org/block", "{\"id\":\"M1\"}");
        assertThat(two.next(WAIT).type()).isEqualTo("policy");
        assertThat(three.next(WAIT).type()).isEqualTo("policy");
        assertThat(otherAgent.next(WAIT).type()).isEqualTo("policy");
      }
    }
  }

  @Test
  void removingAServerEndsItsEventStream() throws Exception {
    String credential = fleet.enrol("web-01", "{}");
    try (EventStreamClient events = fleet.events(credential)) {
      assertThat(events.nextAny(WAIT).type()).isEqualTo(":");
      fleet.delete("/api/v1/admin/servers/web-01", fleet.adminToken);
      assertThat(events.next(WAIT).type()).isEqualTo("closed");
    }
  }
}
