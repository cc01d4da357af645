package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.MitigationWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading the applied documents back from the state. */
class StateStoreTest {
  @TempDir
  Path dir;

  private static AgentState withDocuments(Map<String, byte[]> documents) {
    return new AgentState(LocalPolicy.DEFAULT, Map.of(), documents, List.of(), List.of(), Map.of());
  }

  @Test
  void theHighestRevisionAppliedOutlivesItsRemovalAndTheRestart() throws Exception {
    StateStore store = new StateStore(dir);
    byte[] m1 = MitigationWriter.write(Mitigations.m1(3));
    AgentState applied = AgentState.EMPTY.withTarget("app", Map.of("M1", new AgentState.AppliedRef(3, false)),
        Map.of("M1.3", m1));

    AgentState removed = applied.withTarget("app", Map.of(), Map.of());
    store.save(removed);

    assertThat(removed.documents()).isEmpty();
    assertThat(removed.highestApplied()).isEqualTo(Map.of("M1", 3));
    assertThat(new StateStore(dir).load().highestApplied()).isEqualTo(Map.of("M1", 3));
  }

  @Test
  void aStateWrittenBeforeTheHighestRevisionWasKeptStartsItFromWhatIsApplied() throws Exception {
    java.nio.file.Files.writeString(dir.resolve("state.json"), "{\"format\": \"" + StateStore.STATE_FORMAT + "\","
        + " \"targets\": {\"app\": {\"M1\": {\"revision\": 2, \"audit\": false}}}}");

    assertThat(new StateStore(dir).load().highestApplied()).isEqualTo(Map.of("M1", 2));
  }

  @Test
  void documentWithTheSameBytesIsNotParsedAgainWhileAChangedOneIs() throws Exception {
    StateStore store = new StateStore(dir);
    byte[] m1 = MitigationWriter.write(Mitigations.m1(1));
    byte[] other = MitigationWriter.write(Mitigations.proxyLogon("TQ-2021-0001", 1));
    Map<String, Mitigation> first = store.parseDocuments(withDocuments(Map.of("M1.1", m1, "TQ-2021-0001.1", other)))
        .readable();

    Map<String, Mitigation> second = store.parseDocuments(withDocuments(Map.of("M1.1", m1.clone(),
        "TQ-2021-0001.1", MitigationWriter.write(Mitigations.proxyLogon("TQ-2021-0001", 2))))).readable();

    assertThat(second.get("M1.1")).isSameAs(first.get("M1.1"));
    assertThat(second.get("TQ-2021-0001.1")).isNotSameAs(first.get("TQ-2021-0001.1"));
    assertThat(second.get("TQ-2021-0001.1").revision()).isEqualTo(2);
  }

  @Test
  void documentRecordedFromTheFeedIsTheOneReadBackNotAParseOfItsBytes() throws Exception {
    StateStore store = new StateStore(dir);
    Mitigation verified = Mitigations.m1(2);

    byte[] kept = store.document(verified);
    Map<String, Mitigation> read = store.parseDocuments(withDocuments(Map.of("M1.2", kept))).readable();

    assertThat(kept).isEqualTo(MitigationWriter.write(verified));
    assertThat(read.get("M1.2")).isSameAs(verified);
    // Another store (the agent after a restart) parses the same bytes to an equal document.
    assertThat(new StateStore(dir).parseDocuments(withDocuments(Map.of("M1.2", kept))).readable().get("M1.2")).isEqualTo(verified)
        .isNotSameAs(verified);
  }

  @Test
  void documentThisVersionCannotReadIsReturnedWithWhyNamingTheFileAndTheFieldEveryTime() throws Exception {
    StateStore store = new StateStore(dir);
    byte[] m2 = MitigationWriter.write(Mitigations.proxyLogon("M2", 1));
    AgentState state = withDocuments(Map.of("M1.1", "{\"id\":\"M1\"}".getBytes(StandardCharsets.UTF_8), "M2.1", m2));

    for (int i = 0; i < 2; i++) {
      StateStore.Documents docs = store.parseDocuments(state);

      assertThat(docs.readable()).containsOnlyKeys("M2.1");
      assertThat(docs.unreadable()).containsOnlyKeys("M1.1");
      assertThat(docs.unreadable().get("M1.1")).startsWith(dir.resolve("state.json") + ": documents.M1.1: expected a"
          + " mitigation document that this agent version accepts but found: ").contains("revision").doesNotContain("\n");
    }
  }

  @Test
  void documentThisVersionCannotReadIsSavedBackAsTheBytesItWasLoadedWith() throws Exception {
    StateStore store = new StateStore(dir);
    byte[] earlier = "{\n  \"id\" : \"M1\",\n  \"preCondition\" : null, \"title\": \"caf\u00e9\"\n}".getBytes(StandardCharsets.UTF_8);
    store.save(new AgentState(LocalPolicy.DEFAULT, Map.of("app", Map.of("M1", new AgentState.AppliedRef(1, false))),
        Map.of("M1.1", earlier), List.of(), List.of(), Map.of()));

    AgentState loaded = store.load();
    store.save(loaded.withLocal(loaded.local().withBlocked("M9")));

    assertThat(new StateStore(dir).load().documents().get("M1.1")).isEqualTo(earlier);
  }
}
