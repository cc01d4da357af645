package dev.tourniquet.feed.tuf;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Replays every scenario of the sigstore-java TUF vectors ({@code shared/vectors/tuf/manifest.json}) over a
 * real HTTP server and over a directory, each serving exactly the scenario's {@code served} map, and checks
 * the outcome category, the trusted versions after success, and that a failure leaves the trusted store
 * as it was, but for a new root the run verified (TUF 5.3.8) and the deletions that root demands (5.3.11).
 */
class TufVectorsTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  enum Transport { HTTP, DIRECTORY }

  static Path vectors() {
    String repoRoot = System.getProperty("tourniquet.repo.root");
    assertThat(repoRoot).as("system property tourniquet.repo.root (set by surefire)").isNotNull();
    return Path.of(repoRoot).resolve("../shared/vectors/tuf").normalize();
  }

  static JsonNode manifest() throws IOException {
    return MAPPER.readTree(vectors().resolve("manifest.json").toFile());
  }

  static Stream<Arguments> scenarios() throws IOException {
    List<Arguments> arguments = new ArrayList<>();
    for (JsonNode scenario : manifest().get("scenarios")) {
      for (Transport transport : Transport.values()) {
        arguments.add(Arguments.of(scenario.get("scenario").asText(), transport, scenario));
      }
    }
    return arguments.stream();
  }

  static Stream<Arguments> partialScenarios() throws IOException {
    return scenarios().filter(a -> ((JsonNode) a.get()[2]).has("ifRefresh"));
  }

  @Test
  void manifestHoldsThirtyFiveScenarios() throws IOException {
    assertThat(manifest().get("scenarios")).hasSize(35);
  }

  @ParameterizedTest(name = "{0} over {1}")
  @MethodSource("scenarios")
  void scenarioReachesTheExpectedOutcome(String name, Transport transport, JsonNode scenario, @TempDir Path temp)
      throws Exception {
    Path store = temp.resolve("store");
    install(scenario, store);
    String action = scenario.get("action").asText();

    Outcome outcome = replay(scenario, transport, temp.resolve("mirror"), store, action);

    List<String> accepted = new ArrayList<>();
    accepted.add(scenario.get("expect").asText());
    if (scenario.has("alsoAccept")) {
      scenario.get("alsoAccept").forEach(c -> accepted.add(c.asText()));
    }
    assertThat(outcome.category()).as("outcome of %s (%s)", name, outcome.detail()).isIn(accepted);
    if (!outcome.category().equals("success")) {
      assertKeptOnlyAVerifiedRoot(scenario, outcome.beforeFailingStep(), StoreSnapshot.of(store));
    }
    if (scenario.has("expectTrusted")) {
      Map<Role, Long> expected = new EnumMap<>(Role.class);
      for (Iterator<Map.Entry<String, JsonNode>> it = scenario.get("expectTrusted").properties().iterator(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        expected.put(Role.valueOf(e.getKey().toUpperCase(java.util.Locale.ROOT)), e.getValue().asLong());
      }
      Map<Role, Long> actual = TufClient.open(store, Fetchers.directory(temp), Clock.systemUTC()).trustedVersions();
      assertThat(actual).containsAllEntriesOf(expected);
    }
    if (action.startsWith("download:") && outcome.category().equals("success")) {
      for (String target : action.substring("download:".length()).split(",")) {
        assertThat(store.resolve("targets").resolve(target)).isRegularFile();
      }
    }
  }

  @ParameterizedTest(name = "{0} over {1}")
  @MethodSource("partialScenarios")
  void partialScenarioRunAsFullRefreshEndsAsTheManifestSaysAndChangesNothing(String name, Transport transport,
      JsonNode scenario, @TempDir Path temp) throws Exception {
    Path store = temp.resolve("store");
    install(scenario, store);
    StoreSnapshot before = StoreSnapshot.of(store);

    Outcome outcome = replay(scenario, transport, temp.resolve("mirror"), store, "refresh");

    assertThat(outcome.category()).as("outcome (%s)", outcome.detail()).isEqualTo(scenario.get("ifRefresh").asText());
    assertThat(outcome.beforeFailingStep()).isEqualTo(before);
    assertKeptOnlyAVerifiedRoot(scenario, before, StoreSnapshot.of(store));
  }

  /**
   * A failed run changes nothing in the trusted store but this: root.json may be a root the scenario serves
   * (verified and persisted at once, TUF 5.3.8), and only then may the timestamp, its entity tag and the
   * snapshot be gone (5.3.11, when that root rotated their keys).
   */
  private static void assertKeptOnlyAVerifiedRoot(JsonNode scenario, StoreSnapshot before, StoreSnapshot after)
      throws Exception {
    Map<String, String> expected = new LinkedHashMap<>(before.files());
    String root = after.files().get("root.json");
    if (!root.equals(before.files().get("root.json"))) {
      List<String> servedRoots = new ArrayList<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = scenario.get("served").properties().iterator(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().matches("[0-9]+\\.root\\.json")) {
          servedRoots.add(StoreSnapshot.sha256(Files.readAllBytes(vectors().resolve("cases").resolve(e.getValue().asText()))));
        }
      }
      assertThat(servedRoots).as("root.json after the failure is a root the mirror served").contains(root);
      expected.put("root.json", root);
      for (String deletable : List.of("timestamp.json", "timestamp.etag", "snapshot.json")) {
        if (!after.files().containsKey(deletable)) {
          expected.remove(deletable);
        }
      }
    }
    assertThat(after.files()).as("trusted store after the failure").isEqualTo(expected);
  }

  /** The result category, the exception message, and the store as it was before the step that ran last. */
  record Outcome(String category, String detail, StoreSnapshot beforeFailingStep) {}

  private static void install(JsonNode scenario, Path store) throws Exception {
    Path cases = vectors().resolve("cases");
    assertThat(TufClient.bootstrap(store, Files.readAllBytes(cases.resolve(scenario.get("trustedRoot").asText()))))
        .isTrue();
    for (Iterator<Map.Entry<String, JsonNode>> it = scenario.get("trustedLocal").properties().iterator(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> local = it.next();
      Files.write(store.resolve(local.getKey()), Files.readAllBytes(cases.resolve(local.getValue().asText())));
    }
  }

  private static Outcome replay(JsonNode scenario, Transport transport, Path mirrorDir, Path store, String action)
      throws Exception {
    Path cases = vectors().resolve("cases");
    Map<String, byte[]> served = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = scenario.get("served").properties().iterator(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      served.put(e.getKey(), Files.readAllBytes(cases.resolve(e.getValue().asText())));
    }
    Clock clock = Clock.fixed(Instant.parse(scenario.get("now").asText()), ZoneOffset.UTC);
    if (transport == Transport.HTTP) {
      try (MapHttpServer server = new MapHttpServer(served)) {
        return run(TufClient.open(store, Fetchers.http(server.base()), clock), store, action);
      }
    }
    for (Map.Entry<String, byte[]> e : served.entrySet()) {
      Path file = mirrorDir.resolve(e.getKey());
      Files.createDirectories(file.getParent());
      Files.write(file, e.getValue());
    }
    return run(TufClient.open(store, Fetchers.directory(mirrorDir), clock), store, action);
  }

  private static Outcome run(TufClient client, Path store, String action) throws IOException {
    StoreSnapshot before = StoreSnapshot.of(store);
    try {
      switch (action) {
        case "root-update" -> client.refreshThrough(Role.ROOT);
        case "timestamp-update" -> client.refreshThrough(Role.TIMESTAMP);
        case "snapshot-update" -> client.refreshThrough(Role.SNAPSHOT);
        case "refresh" -> client.refresh();
        default -> {
          assertThat(action).startsWith("download:");
          client.refresh();
          for (String target : action.substring("download:".length()).split(",")) {
            before = StoreSnapshot.of(store);
            client.download(target);
          }
        }
      }
      return new Outcome("success", "", before);
    } catch (FeedVerificationException e) {
      return new Outcome(category(e), e.getMessage(), before);
    }
  }

  static String category(FeedVerificationException e) {
    if (e instanceof ThresholdNotMetException) {
      return "signature-threshold";
    } else if (e instanceof RollbackException) {
      return "version-rollback";
    } else if (e instanceof RootChainGapException) {
      return "wrong-version";
    } else if (e instanceof ExpiredException) {
      return "expired";
    } else if (e instanceof HashMismatchException) {
      return "hash-mismatch";
    } else if (e instanceof LengthMismatchException) {
      return "length-mismatch";
    } else if (e instanceof OversizedException) {
      return "too-large";
    } else if (e instanceof MissingFileException) {
      return "missing-file";
    } else if (e instanceof MixAndMatchException) {
      return "snapshot-version-mismatch";
    } else if (e instanceof MetaFileRemovedException) {
      return "target-missing-from-snapshot";
    } else if (e instanceof MalformedMetadataException) {
      return "malformed";
    } else if (e instanceof UnknownTargetException) {
      return "unknown-target";
    }
    throw new AssertionError("unmapped exception " + e);
  }
}
