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
