package dev.tourniquet.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading and reloading the file, without a container: {@link TourniquetFilter#refresh()} polls at once. */
class ReloadTest {
  @TempDir
  Path dir;

  TourniquetFilter filter;

  TourniquetFilter started(Path file) throws Exception {
    filter = new TourniquetFilter(file);
    filter.init();
    return filter;
  }

  @AfterEach
  void destroy() {
    if (filter != null) {
      filter.destroy();
    }
  }

  @Test
  void touchingTheFileWithoutChangingItDoesNotReload() throws Exception {
    Path file = dir.resolve("enforcement.json");
    Fixtures.file(Fixtures.disable("M3", Mode.ENFORCE, "/ecp", 503)).write(file);
    started(file);

    Files.setLastModifiedTime(file, FileTime.from(Instant.parse("2030-01-01T00:00:00Z")));
    filter.refresh();

    assertThat(filter.status().loads()).isEqualTo(1);
  }

  @Test
  void invalidRulesAreRejectedAndAValidFileClearsTheError() throws Exception {
    Path file = dir.resolve("enforcement.json");
    Fixtures.file(Fixtures.disable("M3", Mode.ENFORCE, "/ecp", 503)).write(file);
    started(file);

    Files.writeString(file, Fixtures.file(Fixtures.disable("M3", Mode.ENFORCE, "/ecp", 503)).toJson()
        .replace("\"status\": 503", "\"status\": 700"), StandardCharsets.UTF_8);
    filter.refresh();

    assertThat(filter.status().lastError()).hasValueSatisfying(e -> assertThat(e)
        .contains("mitigations[0].disableEndpoints[0].status: expected an integer from 400 to 599 but found 700"));
    assertThat(filter.status().mitigations()).containsExactly("M3.1 enforce");

    Fixtures.file(Fixtures.disable("M4", Mode.AUDIT, "/ecp", 503)).write(file);
    filter.refresh();

    assertThat(filter.status().lastError()).isEmpty();
    assertThat(filter.status().mitigations()).containsExactly("M4.1 audit");
    assertThat(filter.status().generated()).contains(Instant.parse("2026-11-28T05:00:00Z"));
  }

  @Test
  void eachLoadedOrRejectedContentIsAcknowledgedWithItsDigest() throws Exception {
    Path file = m3File();
    Path ack = dir.resolve("enforcement.json.loaded.json");
    started(file);

    assertThat(Files.readString(ack)).contains("\"sha256\": \"" + sha256(file) + "\"")
        .contains("\"outcome\": \"loaded\"").contains("\"error\": null");
    assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(ack)))
        .as("readable by the agent, which may run as another user").isEqualTo("rw-r--r--");
    ProcessHandle self = ProcessHandle.current();
    assertThat(Files.readString(ack)).as("names this process, as the agent finds it again").contains(
        "\"pid\": " + self.pid() + ",",
        "\"started\": \"" + self.info().startInstant().orElseThrow() + "\"",
        "\"bootId\": \"" + Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip() + "\"",
        "\"pidNamespace\": \"" + Files.readSymbolicLink(Path.of("/proc/self/ns/pid")) + "\"");

    Files.writeString(file, Fixtures.file(Fixtures.disable("M3", Mode.ENFORCE, "/ecp", 503)).toJson()
        .replace("\"status\": 503", "\"status\": 700"), StandardCharsets.UTF_8);
    filter.refresh();

    assertThat(Files.readString(ack)).contains("\"sha256\": \"" + sha256(file) + "\"")
        .contains("\"outcome\": \"rejected\"").contains("expected an integer from 400 to 599 but found 700");
  }

  @Test
  void fileOverTheSizeCapIsAcknowledgedAsRejectedWithTheDigestOfAllItsBytes() throws Exception {
    Path file = m3File();
    Path ack = dir.resolve("enforcement.json.loaded.json");
    started(file);
    String valid = Files.readString(file);

    // Valid JSON up to its end, then padding past the cap: refused for its size alone.
    Files.writeString(file, valid + " ".repeat(EnforcementFile.MAX_BYTES), StandardCharsets.UTF_8);
    filter.refresh();

    assertThat(Files.readString(ack)).contains("\"sha256\": \"" + sha256(file) + "\"")
        .contains("\"outcome\": \"rejected\"").contains("expected at most " + EnforcementFile.MAX_BYTES + " bytes");
    assertThat(filter.status().mitigations()).as("the last valid file stays in force").containsExactly("M3.1 enforce");
  }

  @Test
  void destroyedFilterAcknowledgesThatItStopped() throws Exception {
    Path file = m3File();
    Path ack = dir.resolve("enforcement.json.loaded.json");
    started(file);

    filter.destroy();
    filter = null;

    assertThat(Files.readString(ack)).contains("\"sha256\": \"" + sha256(file) + "\"", "\"outcome\": \"stopped\"",
        "\"error\": null");
  }

  @Test
  void destroyedFilterLeavesTheAcknowledgementOfAnotherInstanceThatIsRunning() throws Exception {
    Path file = m3File();
    Path ack = dir.resolve("enforcement.json.loaded.json");
    TourniquetFilter old = startedAt(file, "2026-11-29T10:00:00Z");
    TourniquetFilter redeployed = startedAt(file, "2026-11-29T10:05:00Z");
    String acknowledgedByTheNewOne = Files.readString(ack);
    try {
      old.destroy();

      assertThat(Files.readString(ack)).isEqualTo(acknowledgedByTheNewOne).contains("\"outcome\": \"loaded\"");
    } finally {
      redeployed.destroy();
    }
  }

  /** {@code enforcement.json} with M3 disabling /ecp. */
  private Path m3File() throws Exception {
    Path file = dir.resolve("enforcement.json");
    Fixtures.file(Fixtures.disable("M3", Mode.ENFORCE, "/ecp", 503)).write(file);
    return file;
  }

  /** A filter whose clock stands still at {@code time}, so that its acknowledgements carry that time. */
  private static TourniquetFilter startedAt(Path file, String time) throws Exception {
    TourniquetFilter f = new TourniquetFilter(file, java.time.Duration.ofMillis(250), java.time.Duration.ofSeconds(5),
        java.time.Clock.fixed(Instant.parse(time), java.time.ZoneOffset.UTC));
    f.init();
    return f;
  }

  private static String sha256(Path file) throws Exception {
    return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest(Files.readAllBytes(file)));
  }

  @Test
  void fifoInPlaceOfTheFileIsRefusedWithoutBlockingTheFilter() throws Exception {
    Path file = dir.resolve("enforcement.json");
    Process mkfifo = new ProcessBuilder("mkfifo", file.toString()).start();
    assertThat(mkfifo.waitFor()).isZero();

    // Opening a FIFO blocks until a writer comes: without the check, init() would never return.
    org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(20), () -> started(file));

    assertThat(filter.status().lastError()).hasValueSatisfying(e -> assertThat(e)
        .contains("expected a regular file but found something else"));
  }

  @Test
  void deletedFileKeepsTheLastRulesInForce() throws Exception {
    Path file = dir.resolve("enforcement.json");
    Fixtures.file(Fixtures.disable("M3", Mode.ENFORCE, "/ecp", 503)).write(file);
    started(file);

    Files.delete(file);
    filter.refresh();

    assertThat(filter.status().mitigations()).containsExactly("M3.1 enforce");
    assertThat(filter.status().lastError()).hasValue("the file does not exist");
  }

  @Test
  void hitsFileIsNotWrittenBeforeAnyHit() throws Exception {
    Path file = dir.resolve("enforcement.json");
    Fixtures.file().write(file);
    started(file);

    filter.refresh();

    assertThat(filter.hitsFile()).isEqualTo(dir.resolve("enforcement.json.hits.json"));
    assertThat(filter.hitsFile()).doesNotExist();
  }

  @Test
  void filterWithoutTheInitParameterRefusesToStart() {
    TourniquetFilter unconfigured = new TourniquetFilter();

    assertThatThrownBy(() -> unconfigured.init(new jakarta.servlet.FilterConfig() {
      @Override
      public String getFilterName() {
        return "tourniquet";
      }

      @Override
      public jakarta.servlet.ServletContext getServletContext() {
        return null;
      }

      @Override
      public String getInitParameter(String name) {
        return null;
      }

      @Override
      public java.util.Enumeration<String> getInitParameterNames() {
        return java.util.Collections.emptyEnumeration();
      }
    })).isInstanceOf(jakarta.servlet.ServletException.class)
        .hasMessageContaining("expected the init parameter enforcement-file");
  }

  @Test
  void statusBeforeInitIsAnError() {
    assertThatThrownBy(() -> new TourniquetFilter(dir.resolve("x.json")).status())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("not initialised");
  }
}
