package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The dashboard over plain HTTP, where the database decides: sessions that end when idle or too old, and
 * the audit log paged by id. The browser's side is {@link DashboardBrowserTest}.
 */
abstract class DashboardContract extends ContractBase {
  private static final Pattern AUDIT_ROW = Pattern.compile("<tr class=\"entry\" data-id=\"([0-9]+)\">");
  private static final Pattern OLDER = Pattern.compile("<a id=\"audit-older\" href=\"([^\"]+)\">");

  /** Logs in as the first admin; returns the cookie to send back ({@code tq_session=…}). */
  private String logIn() throws Exception {
    return logIn(fleet);
  }

  private static String logIn(Fixture fleet) throws Exception {
    HttpResponse<String> login = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("token=" + fleet.adminToken)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(login.statusCode()).as(login.body()).isEqualTo(303);
    String setCookie = login.headers().firstValue("Set-Cookie").orElseThrow();
    return setCookie.substring(0, setCookie.indexOf(';'));
  }

  private HttpResponse<String> page(String cookie, String path) throws Exception {
    return page(fleet, cookie, path);
  }

  private static HttpResponse<String> page(Fixture fleet, String cookie, String path) throws Exception {
    return fleet.http.send(HttpRequest.newBuilder(fleet.uri(path)).header("Cookie", cookie)
        .header("Accept", "text/html").build(), HttpResponse.BodyHandlers.ofString());
  }

  private static void assertLoggedOut(HttpResponse<String> dashboard) {
    assertThat(dashboard.statusCode()).as("the dashboard").isEqualTo(303);
    assertThat(dashboard.headers().firstValue("Location")).hasValueSatisfying(l -> assertThat(l).endsWith("/login"));
  }

  /** The session's last-use stamp as the database keeps it. */
  private Instant lastUsed(String cookie) throws Exception {
    String hash = Secrets.hash(cookie.substring(cookie.indexOf('=') + 1));
    return fleet.server.database().read(c -> Database.queryOne(c,
        "SELECT last_used_at FROM dashboard_sessions WHERE id_hash = ?", rs -> Database.instant(rs, "last_used_at"),
        hash)).orElseThrow();
  }

  @Test
  void sessionNotUsedForThirtyMinutesEndsOnTheServer() throws Exception {
    String cookie = logIn();
    assertThat(page(cookie, "/dashboard").statusCode()).isEqualTo(200);

    fleet.clock.advance(Duration.ofMinutes(30).plusSeconds(1));

    assertLoggedOut(page(cookie, "/dashboard"));
    HttpResponse<String> live = page(cookie, "/dashboard/live");
    assertThat(live.statusCode()).isEqualTo(401);
    assertThat(Fixture.json(live).get("error").asText()).contains("session has ended");
  }

  @Test
  void theConfiguredLifetimeAndIdleTimeoutAreTheOnesThatCount() throws Exception {
    try (Fixture other = new Fixture(dir.resolve("other"), backend(),
        b -> b.sessions(Duration.ofMinutes(20), Duration.ofMinutes(5)))) {
      String idle = logIn(other);
      other.clock.advance(Duration.ofMinutes(4));
      assertThat(page(other, idle, "/dashboard").statusCode()).isEqualTo(200);
      other.clock.advance(Duration.ofMinutes(5).plusSeconds(1));
      assertLoggedOut(page(other, idle, "/dashboard"));

      String used = logIn(other);
      for (int i = 0; i < 4; i++) {
        other.clock.advance(Duration.ofMinutes(4));
        assertThat(page(other, used, "/dashboard").statusCode()).isEqualTo(200);
      }
      other.clock.advance(Duration.ofMinutes(4));
      assertLoggedOut(page(other, used, "/dashboard"));
    }
  }

  @Test
  void sessionSettingsOutOfRangeAreRefusedWithTheRange() {
    FleetServer.Settings.Builder b = FleetServer.Settings.builder(dir);
    assertThatThrownBy(() -> b.sessions(Duration.ofHours(1), Duration.ofHours(2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("session idle timeout: expected whole seconds from PT2M to the lifetime (PT1H) but found PT2H");
    assertThatThrownBy(() -> b.sessions(Duration.ofHours(1), Duration.ofSeconds(90)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("but found PT1M30S");
    assertThatThrownBy(() -> b.sessions(Duration.ofDays(31), Duration.ofMinutes(30)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("session lifetime: expected whole seconds from PT2M to P30D but found PT744H");
    assertThatThrownBy(() -> b.sessions(Duration.ofMillis(8 * 3_600_000L + 500), Duration.ofMinutes(30)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("session lifetime: expected whole seconds");
  }

  @Test
  void usingTheSessionKeepsItPastTheIdleTimeout() throws Exception {
    String cookie = logIn();
    for (int i = 0; i < 4; i++) {
      fleet.clock.advance(Duration.ofMinutes(20));
      assertThat(page(cookie, "/dashboard").statusCode()).as("after %d minutes, used every 20", 20 * (i + 1))
          .isEqualTo(200);
    }
    fleet.clock.advance(Duration.ofMinutes(31));
    assertLoggedOut(page(cookie, "/dashboard"));
  }

  @Test
  void theLastUseIsWrittenOnlyWhenItsStampIsAMinuteOld() throws Exception {
    Instant loggedIn = fleet.clock.instant();
    String cookie = logIn();
    assertThat(lastUsed(cookie)).isEqualTo(loggedIn);

    fleet.clock.advance(Duration.ofSeconds(59));
    assertThat(page(cookie, "/dashboard").statusCode()).isEqualTo(200);
    assertThat(lastUsed(cookie)).as("59 s after the stamp: not written").isEqualTo(loggedIn);

    fleet.clock.advance(Duration.ofSeconds(2));
    assertThat(page(cookie, "/dashboard").statusCode()).isEqualTo(200);
    assertThat(lastUsed(cookie)).as("61 s after the stamp: written").isEqualTo(fleet.clock.instant());
  }

  @Test
  void theAutomaticRefreshDoesNotCountAsUse() throws Exception {
    // A page left open refreshes itself every 15 s: were that use, no open page would ever go idle.
    String cookie = logIn();
    fleet.clock.advance(Duration.ofMinutes(20));
    HttpResponse<String> live = page(cookie, "/dashboard/live");
    assertThat(live.statusCode()).isEqualTo(200);
    assertThat(live.body()).contains("id=\"matrix\"");

    fleet.clock.advance(Duration.ofMinutes(10).plusSeconds(1));

    assertThat(page(cookie, "/dashboard/live").statusCode()).isEqualTo(401);
    assertLoggedOut(page(cookie, "/dashboard"));
  }

  @Test
  void aSessionInUseStillEndsEightHoursAfterLogin() throws Exception {
    String cookie = logIn();
    for (int minutes = 20; minutes < 8 * 60; minutes += 20) {
      fleet.clock.advance(Duration.ofMinutes(20));
      assertThat(page(cookie, "/dashboard").statusCode()).as("%d minutes after login", minutes).isEqualTo(200);
    }
    fleet.clock.advance(Duration.ofMinutes(20));
    assertLoggedOut(page(cookie, "/dashboard"));
  }

  @Test
  void auditLogIsPagedNewestFirstWithALinkToOlderEntries() throws Exception {
    int total = fleet.adminGet("/api/v1/admin/audit?limit=1000").size() + 120;
    fleet.server.database().transaction(c -> {
      for (int i = 1; i <= 120; i++) {
        AuditLog.append(c, fleet.clock.instant(), "agent:web-" + i, "enrol", "server web-" + i,
            "labels {ring=<script>alert(" + i + ")</script>}");
      }
      return null;
    });
    String cookie = logIn();
    List<Long> seen = new ArrayList<>();
    String path = "/dashboard";
    List<Integer> sizes = new ArrayList<>();
    for (int pages = 0; path != null; pages++) {
      assertThat(pages).as("pages").isLessThan(10);
      HttpResponse<String> r = page(cookie, path);
      assertThat(r.statusCode()).as(path).isEqualTo(200);
      String audit = r.body().substring(r.body().indexOf("<section id=\"audit\">"));
      assertThat(audit).doesNotContain("<script>").contains("&lt;script&gt;");
      Matcher row = AUDIT_ROW.matcher(audit);
      int n = 0;
      while (row.find()) {
        seen.add(Long.parseLong(row.group(1)));
        n++;
      }
      sizes.add(n);
      Matcher older = OLDER.matcher(audit);
      path = older.find() ? older.group(1).replaceFirst("#.*$", "") : null;
      if (pages > 0) {
        assertThat(audit).contains("id=\"audit-newest\"");
      }
    }

    assertThat(sizes).containsExactly(50, 50, total - 100);
    assertThat(seen).hasSize(total).doesNotHaveDuplicates();
    assertThat(seen).isSortedAccordingTo(java.util.Comparator.reverseOrder());
  }

  @Test
  void aBadAuditPageIsRefusedWithWhatWasExpected() throws Exception {
    String cookie = logIn();
    for (String query : List.of("before=abc", "before=0", "before=1&before=2", "page=2")) {
      HttpResponse<String> r = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard?" + query))
          .header("Cookie", cookie).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(query).isEqualTo(400);
      assertThat(Fixture.json(r).get("error").asText()).as(query).contains("query parameter");
    }
    HttpResponse<String> html = page(cookie, "/dashboard?before=abc");
    assertThat(html.statusCode()).isEqualTo(400);
    assertThat(html.body()).contains("query parameter before: expected a whole number")
        .contains("href=\"/dashboard\"");
  }
}
