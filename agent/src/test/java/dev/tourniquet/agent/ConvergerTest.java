package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.EnforcementException;
import dev.tourniquet.agent.enforce.Enforcer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the loop treats an enforcer that throws or refuses, with a scripted enforcer that keeps the SPI's
 * promises (a failed converge leaves the target as it was) and records every set it was asked for.
 */
class ConvergerTest {
  @TempDir
  Path dir;

  /** Fails on any set containing {@code failing}, refuses {@code refused}; records what it runs. */
  static final class ScriptedEnforcer implements Enforcer {
    final Set<String> failing;
    final Set<String> refused;
    /** Sets on which converge throws what an enforcer must not: a RuntimeException (a bug, a custom target's). */
    java.util.function.Predicate<List<String>> buggy = ids -> false;
    final List<List<String>> calls = new ArrayList<>();
    List<String> running = List.of();

    ScriptedEnforcer(Set<String> failing, Set<String> refused) {
      this.failing = failing;
      this.refused = refused;
    }

    @Override
    public String target() {
      return "scripted";
    }

    @Override
    public boolean handles(String kind) {
      return kind.equals("request-rules");
    }

    @Override
    public Optional<String> refusal(ActiveMitigation m) {
      return refused.contains(m.id()) ? Optional.of(m.id() + ": this target cannot enforce its rules exactly") : Optional.empty();
    }

    @Override
    public void converge(List<ActiveMitigation> active) throws EnforcementException {
      List<String> ids = active.stream().map(a -> a.mitigation().appliedId()).toList();
      calls.add(ids);
      if (buggy.test(ids)) {
        throw new IllegalStateException("renderer bug on " + ids);
      }
      for (ActiveMitigation a : active) {
        if (failing.contains(a.id())) {
          throw new EnforcementException("reload failed: " + a.id() + " broke the configuration; restored");
        }
      }
      running = ids;
    }
  }

  private Agent agent(AgentFixture fx, ScriptedEnforcer enforcer) throws Exception {
    java.nio.file.Files.writeString(fx.configFile, java.nio.file.Files.readString(fx.configFile)
        .replaceAll("(?m)^  - \\{name: app.*$", "  - {name: scripted, type: scripted}"));
    Map<String, TargetFactory> factories = TargetFactories.builtIn();
    factories.put("scripted", (config, stateDir, clock) -> enforcer);
    return fx.open(Agent.builder(fx.load()).targetFactories(factories));
  }

  @Test
  void throwingEnforcerFailsThatMitigationOnlyAndTheLoopGoesOn() throws Exception {
    AgentFixture fx = new AgentFixture(dir);
    fx.feed.put(Mitigations.m1(1)).put(Mitigations.proxyLogon("M2", 1)).put(Mitigations.proxyLogon("M3", 1)).publish();
    ScriptedEnforcer enforcer = new ScriptedEnforcer(Set.of("M2"), Set.of());
    try (Agent agent = agent(fx, enforcer)) {
      AgentStatus status = agent.check();

      assertThat(AgentFixture.statusById(status)).containsEntry("M1", "Applied").containsEntry("M2", "Failed")
          .containsEntry("M3", "Applied");
      assertThat(AgentFixture.row(status, "M2").reason())
          .isEqualTo("failed: scripted: reload failed: M2 broke the configuration; restored");
      assertThat(enforcer.running).containsExactly("M1.1", "M3.1");
      // recovery on the empty state, then one mitigation at a time on top of what is running
      assertThat(enforcer.calls).containsExactly(List.of(), List.of("M1.1"), List.of("M1.1", "M2.1"), List.of("M1.1", "M3.1"));
    }
  }

  @Test
  void enforcerThatThrowsARuntimeExceptionFailsThatMitigationOnlyAndTheOthersAreStillApplied() throws Exception {
    AgentFixture fx = new AgentFixture(dir);
    fx.feed.put(Mitigations.m1(1)).put(Mitigations.proxyLogon("M2", 1)).put(Mitigations.proxyLogon("M3", 1)).publish();
    ScriptedEnforcer enforcer = new ScriptedEnforcer(Set.of(), Set.of());
    enforcer.buggy = ids -> ids.contains("M2.1");
    try (Agent agent = agent(fx, enforcer)) {
      AgentStatus status = agent.check();

      assertThat(AgentFixture.statusById(status)).containsEntry("M1", "Applied").containsEntry("M2", "Failed")
          .containsEntry("M3", "Applied");
      assertThat(AgentFixture.row(status, "M2").reason()).contains("failed unexpectedly: java.lang.IllegalStateException: renderer bug on [M1.1, M2.1]; rolled back");
      assertThat(enforcer.running).containsExactly("M1.1", "M3.1");
      assertThat(fx.audit("M2.1", "failed")).containsExactly("apply scripted");

      agent.check();

      assertThat(enforcer.calls).as("the failed revision is not retried").filteredOn(c -> c.contains("M2.1")).hasSize(1);
    }
  }

  @Test
  void enforcerThatThrowsARuntimeExceptionWhileRemovingKeepsThatOneRecordedAndTheCheckGoesOn() throws Exception {
    AgentFixture fx = new AgentFixture(dir);
    fx.feed.put(Mitigations.m1(1)).put(Mitigations.proxyLogon("M3", 1)).publish();
    ScriptedEnforcer enforcer = new ScriptedEnforcer(Set.of(), Set.of());
    try (Agent agent = agent(fx, enforcer)) {
      agent.check();
      enforcer.buggy = ids -> ids.equals(List.of("M3.1")); // the set without M1
      fx.feed.withdraw("M1").put(Mitigations.proxyLogon("M4", 1)).publish();
      fx.clock.advance(java.time.Duration.ofMinutes(5));

      AgentStatus status = agent.check();

      assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.FAILED);
      assertThat(AgentFixture.row(status, "M1").reason()).startsWith("removing failed (withdrawn from the feed): scripted:"
          + " failed unexpectedly: java.lang.IllegalStateException");
      assertThat(AgentFixture.row(status, "M4").status()).isEqualTo(Status.APPLIED);
      assertThat(enforcer.running).containsExactly("M1.1", "M3.1", "M4.1");
      assertThat(fx.audit("M1.1", "failed")).containsExactly("remove scripted");
    }
  }

  @Test
  void refusalMarksItNotApplicableWithoutTouchingTheTarget() throws Exception {
    AgentFixture fx = new AgentFixture(dir);
    fx.feed.put(Mitigations.m1(1)).publish();
    ScriptedEnforcer enforcer = new ScriptedEnforcer(Set.of(), Set.of("M1"));
    try (Agent agent = agent(fx, enforcer)) {
      AgentStatus status = agent.check();

      assertThat(AgentFixture.row(status, "M1").status()).isEqualTo(Status.NOT_APPLICABLE);
      assertThat(AgentFixture.row(status, "M1").reason())
          .isEqualTo("not applicable: scripted: M1: this target cannot enforce its rules exactly");
      assertThat(enforcer.calls).containsExactly(List.of()); // only the recovery at open
      assertThat(fx.audit("M1.1", "refused")).containsExactly("apply scripted");
    }
  }
}
