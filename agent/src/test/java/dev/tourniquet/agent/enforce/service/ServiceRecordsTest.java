package dev.tourniquet.agent.enforce.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.feed.mitigation.Action.DisableService.Manager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The record file: its format, atomic replacement, and strict reading. */
class ServiceRecordsTest {
  @TempDir Path dir;

  ServiceRecords records() {
    return new ServiceRecords(dir.resolve("services/exchange.json"), "exchange", Manager.WINDOWS);
  }

  static ServiceRecords.Entry entry(String startup, String activity, String... ids) {
    return new ServiceRecords.Entry(new ServiceState(startup, activity), new TreeSet<>(Set.of(ids)));
  }

  @Test
  void writeThenReadGivesTheSameRecordsInTheDocumentedFormat() throws Exception {
    records().write(Map.of("msexchangeum", entry("delayed-auto", "RUNNING", "M3", "M1"),
        "msexchangeumcr", entry("auto", "RUNNING", "M3")));

    assertThat(records().read()).isEqualTo(new ServiceRecords.Stored(Map.of(
        "msexchangeum", entry("delayed-auto", "RUNNING", "M1", "M3"),
        "msexchangeumcr", entry("auto", "RUNNING", "M3")), false));
    assertThat(records().read().entries()).containsExactly(
        Map.entry("msexchangeum", entry("delayed-auto", "RUNNING", "M1", "M3")),
        Map.entry("msexchangeumcr", entry("auto", "RUNNING", "M3")));
    assertThat(Files.readString(dir.resolve("services/exchange.json"))).isEqualToIgnoringWhitespace("""
        {"format":"tourniquet-service-records/2","target":"exchange","manager":"windows","services":{
          "msexchangeum":{"startup":"delayed-auto","activity":"RUNNING","mitigations":["M1","M3"]},
          "msexchangeumcr":{"startup":"auto","activity":"RUNNING","mitigations":["M3"]}}}
        """);
  }

  @Test
  void writingLeavesNoTemporaryFileAndNoRecordsMeansNoFile() throws Exception {
    records().write(Map.of("msexchangeum", entry("auto", "RUNNING", "M3")));
    records().write(Map.of("msexchangeum", entry("auto", "STOPPED", "M3")));
    try (Stream<Path> files = Files.list(dir.resolve("services"))) {
      assertThat(files).containsExactly(dir.resolve("services/exchange.json"));
    }

    records().write(Map.of());

    assertThat(dir.resolve("services/exchange.json")).doesNotExist();
    assertThat(records().read()).isEqualTo(new ServiceRecords.Stored(Map.of(), false));
  }

  @Test
  void aFileOfAnEarlierVersionIsReadAsKeyedByNameAndWrittenBackInTheCurrentFormat() throws Exception {
    Files.createDirectories(dir.resolve("services"));
    Files.writeString(dir.resolve("services/exchange.json"), """
        {"format":"tourniquet-service-records/1","target":"exchange","manager":"windows","services":{
          "msexchangeum":{"startup":"delayed-auto","activity":"RUNNING","mitigations":["M1","M3"]}}}
        """);

    ServiceRecords.Stored stored = records().read();

    assertThat(stored.keyedByName()).isTrue();
    assertThat(stored.entries()).containsExactly(Map.entry("msexchangeum", entry("delayed-auto", "RUNNING", "M1", "M3")));
    records().write(stored.entries());
    assertThat(Files.readString(dir.resolve("services/exchange.json"))).contains("\"tourniquet-service-records/2\"");
    assertThat(records().read().keyedByName()).isFalse();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "{\"format\":\"tourniquet-service-records/3\",\"target\":\"exchange\",\"manager\":\"windows\",\"services\":{}}"
          + "| format: expected \"tourniquet-service-records/2\" (or \"tourniquet-service-records/1\", of an earlier version)"
          + " but found \"tourniquet-service-records/3\"",
      "{\"target\":\"exchange\",\"manager\":\"windows\",\"services\":{}}"
          + "| format: expected \"tourniquet-service-records/2\" (or \"tourniquet-service-records/1\", of an earlier version)"
          + " but found nothing",
      "{\"format\":\"tourniquet-service-records/2\",\"target\":\"exchange\",\"manager\":\"systemd\",\"services\":{}}"
          + "| manager: expected \"windows\" but found \"systemd\"",
      "{\"format\":\"tourniquet-service-records/1\",\"target\":\"exchange\",\"manager\":\"systemd\",\"services\":{}}"
          + "| manager: expected \"windows\" but found \"systemd\"",
      "{\"format\":\"tourniquet-service-records/1\",\"target\":\"exchange\",\"manager\":\"windows\",\"services\":{},"
          + "\"extra\":1}| extra: expected only the fields [format, manager, services, target] but found this one",
      "{\"format\":\"tourniquet-service-records/1\",\"target\":\"exchange\",\"manager\":\"windows\",\"services\":"
          + "{\"x\":{\"startup\":\"auto\",\"activity\":\"RUNNING\",\"mitigations\":[]}}}"
          + "| services.x.mitigations: expected a non-empty array of mitigation ids",
      "{\"format\":\"tourniquet-service-records/1\",\"target\":\"exchange\",\"manager\":\"windows\",\"services\":"
          + "{\"x\":{\"startup\":\"\",\"activity\":\"RUNNING\",\"mitigations\":[\"M3\"]}}}"
          + "| services.x.startup: expected one line of 1 to 4096 characters but found an empty value",
      "{\"format\": | expected JSON but found a syntax error"})
  void aFileThatIsNotExactlyOursIsRefusedNamingTheProblem(String json, String problem) throws IOException {
    Files.createDirectories(dir.resolve("services"));
    Files.writeString(dir.resolve("services/exchange.json"), json);

    assertThatThrownBy(() -> records().read())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("exchange.json: not a valid service record file: " + problem.strip());
  }
}
