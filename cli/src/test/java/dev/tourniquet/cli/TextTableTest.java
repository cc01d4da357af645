package dev.tourniquet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

class TextTableTest {
  @Test
  void columnsAreAsWideAsTheirWidestCellSoLongValuesDoNotPushTheRestOutOfLine() {
    List<String> lines = print(List.of("SERVER", "LAST SEEN", "FEED"), List.of(
        List.of("web-01", "2026-11-29T18:11:53.681915Z (stale)", "ok"),
        List.of("a-much-longer-server-name-than-the-header", "never", "ERROR")), 0, 0);

    assertThat(lines).containsExactly(
        "SERVER                                     LAST SEEN                            FEED",
        "web-01                                     2026-11-29T18:11:53.681915Z (stale)  ok",
        "a-much-longer-server-name-than-the-header  never                                ERROR");
  }

  @Test
  void aCappedColumnIsCutWithAnEllipsisAndTheLastColumnIsFreeText() {
    List<String> lines = print(List.of("ID", "DESCRIPTION", "REASON"), List.of(
        List.of("M1.1", "Exchange Server: abort Autodiscover requests", "a reason longer than any column")), 0, 12);

    assertThat(lines).containsExactly(
        "ID    DESCRIPTION   REASON",
        "M1.1  Exchange Se…  a reason longer than any column");
  }

  @Test
  void controlAndDirectionCharactersFromAgentsAreShownAsReplacementCharactersNotSentToTheTerminal() {
    // A reported reason or label could clear the screen (ESC [2J, or the 8-bit CSI U+009B) or, with a
    // right-to-left override, make "web-01\u202e10-bew" read as another server's name.
    List<String> lines = print(List.of("SERVER", "DETAIL"), List.of(
        List.of("web-01\u202egpj.exe", "failed\u001b[2J\u009b31mhidden\ttab\nnew line")), 0);

    assertThat(lines).containsExactly(
        "SERVER          DETAIL",
        "web-01\ufffdgpj.exe  failed\ufffd[2J\ufffd31mhidden\ufffdtab\ufffdnew line");
  }

  private static List<String> print(List<String> header, List<List<String>> rows, int... caps) {
    StringWriter out = new StringWriter();
    try (PrintWriter writer = new PrintWriter(out)) {
      TextTable.print(writer, header, rows, caps);
    }
    return out.toString().lines().toList();
  }
}
