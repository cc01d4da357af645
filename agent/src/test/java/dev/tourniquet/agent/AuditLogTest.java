package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The audit log's last line, which a start reads to learn whether a change was cut short. */
class AuditLogTest {
  private static final Instant T = Instant.parse("2026-11-29T12:00:00Z");

  @TempDir
  Path dir;

  Path file;
  AuditLog log;

  @BeforeEach
  void setUp() {
    file = dir.resolve("audit.jsonl");
    log = new AuditLog(file);
  }

  @Test
  void lastEntryIsTheLastLineAppended() throws Exception {
    assertThat(log.lastEntry()).as("no log yet").isEmpty();

    log.append(T, "M1.1", "apply", "app", "intent", "applies to version 15.2");
    assertThat(log.lastEntry()).hasValue(new AuditLog.Entry("M1.1", "apply", "app", "intent"));

    log.append(T, "M1.1", "apply", "app", "applied", "applies to version 15.2");
    assertThat(log.lastEntry()).hasValue(new AuditLog.Entry("M1.1", "apply", "app", "applied"));
  }

  @Test
  void tornEndIsSkippedForTheLastCompleteLine() throws Exception {
    log.append(T, "M1.1", "apply", "app", "intent", "r");
    Files.writeString(file, "{\"time\":\"2026-11-29T12:00:01Z\",\"mitigation\":\"M1.1\",\"act", StandardOpenOption.APPEND);

    assertThat(log.lastEntry()).hasValue(new AuditLog.Entry("M1.1", "apply", "app", "intent"));
  }

  @Test
  void lineAppendedAfterATornEndStartsALineOfItsOwn() throws Exception {
    log.append(T, "M1.1", "apply", "app", "intent", "r");
    Files.writeString(file, "{\"time\":\"2026-11-29T12:00:01Z\",\"mitig", StandardOpenOption.APPEND);
    AuditLog restarted = new AuditLog(file);

    restarted.append(T, "M1.1", "apply", "app", "interrupted", "the agent stopped");
    restarted.append(T, "M1.1", "apply", "app", "applied", "r");

    List<String> lines = Files.readAllLines(file);
    assertThat(lines).hasSize(4);
    assertThat(lines.get(1)).isEqualTo("{\"time\":\"2026-11-29T12:00:01Z\",\"mitig");
    assertThat(lines.get(2)).contains("\"outcome\":\"interrupted\"").startsWith("{").endsWith("}");
    assertThat(restarted.lastEntry()).hasValue(new AuditLog.Entry("M1.1", "apply", "app", "applied"));
  }

  @Test
  void lineThatIsNotAnObjectOrDoesNotFitTheWindowGivesNothing() throws Exception {
    Files.writeString(file, "not json\n");
    assertThat(log.lastEntry()).isEmpty();

    Files.writeString(file, "[1,2]\n");
    assertThat(log.lastEntry()).isEmpty();

    Files.writeString(file, "");
    log.append(T, "M1.1", "apply", "app", "intent", "x".repeat(AuditLog.TAIL_BYTES));
    assertThat(Files.size(file)).isGreaterThan(AuditLog.TAIL_BYTES);
    assertThat(log.lastEntry()).as("its beginning is outside the window").isEmpty();

    log.append(T, "M1.1", "apply", "app", "applied", "short");
    assertThat(log.lastEntry()).hasValue(new AuditLog.Entry("M1.1", "apply", "app", "applied"));
  }

  @Test
  void lineThatFillsTheWindowExactlyFromTheStartOfTheFileIsRead() throws Exception {
    log.append(T, "M1.1", "remove", "app", "intent", "");
    int pad = AuditLog.TAIL_BYTES - (int) Files.size(file);
    Files.writeString(file, "");
    log.append(T, "M1.1", "remove", "app", "intent", "y".repeat(pad));
    assertThat(Files.size(file)).isEqualTo(AuditLog.TAIL_BYTES);
    assertThat(new String(Files.readAllBytes(file), StandardCharsets.UTF_8)).endsWith("\n");

    assertThat(log.lastEntry()).hasValue(new AuditLog.Entry("M1.1", "remove", "app", "intent"));
  }
}
