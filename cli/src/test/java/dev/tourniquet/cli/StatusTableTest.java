package dev.tourniquet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.agent.AgentStatus;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StatusTableTest {
  @Test
  void feedLineNamesTheTargetsVersionOnceWhetherTheFeedIsHealthyOrNot() {
    assertThat(feedLine("ok")).isEqualTo("Feed:        ok (targets version 2)");
    assertThat(feedLine("feed unreachable, keeping the last verified feed (targets version 2): GET http://127.0.0.1:8420/"
        + "feeds/demo/timestamp.json: cannot connect")).isEqualTo("Feed:        feed unreachable, keeping the last"
        + " verified feed (targets version 2): GET http://127.0.0.1:8420/feeds/demo/timestamp.json: cannot connect");
  }

  private static String feedLine(String feedHealth) {
    AgentStatus status = new AgentStatus("mail01", Map.of(), "microsoft-exchange-server", Optional.of("15.2.1118.7"), true,
        Optional.of(Instant.EPOCH), Instant.EPOCH, feedHealth, "ok", 2, List.of(), Map.of());
    StringWriter out = new StringWriter();
    try (PrintWriter writer = new PrintWriter(out)) {
      StatusTable.printText(status, writer);
    }
    return out.toString().lines().filter(line -> line.startsWith("Feed:")).findFirst().orElseThrow();
  }
}
