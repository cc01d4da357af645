package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
    return fleet.session(fleet.adminToken);
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

  // Login CSRF: a hostile page's form could log the victim's browser in as the attacker, whose dashboard the
  // victim would then trust (and whose session would see what the victim does there).

  private HttpResponse<String> postLogin(String cookie, String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(fleet.uri("/login")).header("Accept", "text/html")
        .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(body));
    if (cookie != null) {
      b.header("Cookie", cookie);
    }
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return fleet.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static void assertNoSession(HttpResponse<String> r) {
    assertThat(r.headers().allValues("Set-Cookie")).as("cookies set").noneMatch(c -> c.startsWith(Dashboard.COOKIE + "="));
  }

  @Test
  void loginWithoutTheLoginPagesTokenIsRefusedWithAPageThatCarriesANewForm() throws Exception {
    HttpResponse<String> refused = postLogin(null, "token=" + fleet.adminToken);

    assertThat(refused.statusCode()).isEqualTo(403);
    assertNoSession(refused);
    assertThat(refused.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
    assertThat(refused.body()).contains("id=\"login-error\"").contains("login: expected the login cookie of this"
        + " server&#39;s login page but found none");
    // The refusal is itself a login page with a new form: logging in from it works.
    HttpResponse<String> again = Fixture.LoginForm.of(refused).send(fleet.http, fleet.server.uri(), fleet.adminToken);
    assertThat(again.statusCode()).as(again.body()).isEqualTo(303);
  }

  @Test
  void loginWhoseFormFieldIsNotItsCookiesTokenIsRefused() throws Exception {
    Fixture.LoginForm mine = Fixture.loginForm(fleet.http, fleet.server.uri());
    Fixture.LoginForm attackers = Fixture.loginForm(fleet.http, fleet.server.uri());
    assertThat(mine.csrf()).isNotEqualTo(attackers.csrf()).startsWith(Secrets.LOGIN);

    for (String body : List.of("csrf=" + attackers.csrf(), "csrf=", "csrf=tql_forged", "")) {
      HttpResponse<String> r = postLogin(mine.cookie(), body + (body.isEmpty() ? "" : "&") + "token=" + fleet.adminToken);
      assertThat(r.statusCode()).as(body).isEqualTo(403);
      assertNoSession(r);
      assertThat(r.body()).as(body).contains("login: expected the form of the login page this browser opened");
      // The browser keeps its token: the refusal's form is one it can send.
      assertThat(Fixture.LoginForm.of(r)).as(body).isEqualTo(mine);
    }
    assertThat(fleet.server.database().read(c -> Database.queryOne(c, "SELECT COUNT(*) FROM dashboard_sessions",
        rs -> rs.getLong(1))).orElseThrow()).isZero();
  }

  @Test
  void loginSentFromAnotherSiteIsRefusedEvenWithTheRightTokens() throws Exception {
    // A site that shares the host (another port, a sibling subdomain) can set the login cookie to a value it
    // knows; the browser says where the form came from.
    Fixture.LoginForm form = Fixture.loginForm(fleet.http, fleet.server.uri());
    String body = "csrf=" + form.csrf() + "&token=" + fleet.adminToken;
    for (String site : List.of("cross-site", "same-site")) {
      HttpResponse<String> r = postLogin(form.cookie(), body, "Sec-Fetch-Site", site);
      assertThat(r.statusCode()).as(site).isEqualTo(403);
      assertNoSession(r);
      assertThat(r.body()).contains("login: expected a form sent from this server&#39;s own login page (Sec-Fetch-Site:"
          + " same-origin) but found Sec-Fetch-Site: " + site);
    }
    assertThat(postLogin(form.cookie(), body, "Sec-Fetch-Site", "same-origin").statusCode()).isEqualTo(303);
  }

  @Test
  void theLoginPagesCookieIsHttpOnlyStrictShortLivedAndKeptOnReload() throws Exception {
    HttpResponse<String> first = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/login")).build(),
        HttpResponse.BodyHandlers.ofString());
    String setCookie = first.headers().firstValue("Set-Cookie").orElseThrow();
    assertThat(setCookie).matches(Dashboard.LOGIN_COOKIE + "=tql_[A-Za-z0-9_-]{43}; Path=/login; HttpOnly;"
        + " SameSite=Strict; Max-Age=3600");
    Fixture.LoginForm form = Fixture.LoginForm.of(first);
    assertThat(form.cookie()).isEqualTo(Dashboard.LOGIN_COOKIE + "=" + form.csrf());

    // Two tabs on the login page: the second keeps the first's token, so both forms work.
    HttpResponse<String> reload = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/login")).header("Cookie",
        form.cookie()).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(Fixture.LoginForm.of(reload)).isEqualTo(form);
    // A cookie that is not one of ours is replaced.
    HttpResponse<String> odd = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/login")).header("Cookie",
        Dashboard.LOGIN_COOKIE + "=x").build(), HttpResponse.BodyHandlers.ofString());
    assertThat(Fixture.LoginForm.of(odd).csrf()).startsWith(Secrets.LOGIN).isNotEqualTo(form.csrf());
  }

  /** The challenge of every 401 of the dashboard over plain HTTP: log in with the form, get the session cookie. */
  private static final String COOKIE_CHALLENGE = "Cookie realm=\"tourniquet\", form-action=\"/login\","
      + " cookie-name=tq_session";

  @Test
  void theDashboardsUnauthorisedAnswersChallengeToLogInWithTheFormNotWithABearerToken() throws Exception {
    // RFC 9110 15.5.2: a 401 must carry a challenge. The dashboard's is the login form and its session cookie
    // (the Cookie scheme of draft-broyer-http-cookie-auth); the page's script and forms take no token.
    HttpResponse<String> live = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard/live"))
        .header("Accept", "text/html").build(), HttpResponse.BodyHandlers.ofString());
    assertThat(live.statusCode()).isEqualTo(401);
    assertThat(live.headers().allValues("WWW-Authenticate")).containsExactly(COOKIE_CHALLENGE);
    assertThat(Fixture.json(live).get("error").asText()).contains("session has ended");
    for (String accept : List.of("application/json", "text/html")) {
      HttpResponse<String> action = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard/action"))
          .header("Content-Type", "application/x-www-form-urlencoded").header("Accept", accept)
          .POST(HttpRequest.BodyPublishers.ofString("csrf=x")).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(action.statusCode()).as(accept).isEqualTo(401);
      assertThat(action.headers().allValues("WWW-Authenticate")).as(accept).containsExactly(COOKIE_CHALLENGE);
    }
    HttpResponse<String> wrongToken = Fixture.logIn(fleet.http, fleet.server.uri(), "tqu_" + "A".repeat(43));
    assertThat(wrongToken.statusCode()).isEqualTo(401);
    assertThat(wrongToken.headers().allValues("WWW-Authenticate")).containsExactly(COOKIE_CHALLENGE);
    assertThat(wrongToken.body()).contains("not the token of a user");
    // The API keeps its own.
    assertThat(fleet.get("/api/v1/admin/whoami", null).headers().allValues("WWW-Authenticate"))
        .containsExactly("Bearer realm=\"tourniquet\"");
  }

  @Test
  void theChallengeFollowsThePathAsRoutedNotAsWrittenInTheRequest() throws Exception {
    // %61 is "a": the server routes /%61pi/v1/admin/whoami to the admin API, and the answer must say so.
    for (String[] target : new String[][] {{"/%61pi/v1/admin/whoami", "Bearer realm=\"tourniquet\""},
        {"/api/v1/%61gent/policy", "Bearer realm=\"tourniquet\""}, {"/%64ashboard/live", COOKIE_CHALLENGE},
        {"/dashboard/liv%65", COOKIE_CHALLENGE}}) {
      RawHttp.Answer a = RawHttp.get(fleet.server.uri(), target[0]);
      assertThat(a.status()).as(target[0]).isEqualTo(401);
      assertThat(a.text().lines().filter(l -> l.regionMatches(true, 0, "WWW-Authenticate:", 0, 17))
          .map(l -> l.substring(17).trim()).toList()).as(target[0]).containsExactly(target[1]);
    }
  }

  // The matrix's columns.

  private static final Pattern COLUMN = Pattern.compile("<th class=\"mitigation(?: reported)?\" data-id=\"([^\"]+)\"");

  private static List<String> columns(String page) {
    List<String> out = new ArrayList<>();
    Matcher m = COLUMN.matcher(page);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  private static String row(String page, String server) {
    int at = page.indexOf("<tr class=\"server");
    int start = page.indexOf("data-server=\"" + server + "\"", at);
    return page.substring(start, page.indexOf("</tr>", start));
  }

  @Test
  void idsOnlyOneAgentReportsTakeAtMostTheReportedColumnsAfterTheHostedOnesAndTheRestAreCountedInItsRow()
      throws Exception {
    // One agent (buggy or compromised) may report 2,000 ids: each was a column on every viewer's page.
    String credential = fleet.enrol("web-01", "{}");
    fleet.enrol("web-02", "{}");
    fleet.adminPost("/api/v1/admin/servers/web-02/block", "{\"id\":\"LOCAL-7\"}");
    fleet.adminPost("/api/v1/admin/org/mode", "{\"id\":\"VENDOR-3\",\"mode\":\"audit\"}");
    StringBuilder rows = new StringBuilder("[{\"id\":\"M1\",\"revision\":1,\"kind\":\"request-rules\",\"status\":"
        + "\"Applied\",\"reason\":\"ok\"},{\"id\":\"LOCAL-7\",\"revision\":2,\"status\":\"Blocked\",\"reason\":\"blocked\"}");
    for (int i = 1; i <= 1998; i++) {
      rows.append(",{\"id\":\"X-").append(String.format("%04d", i)).append("\",\"revision\":1,\"status\":\"")
          .append(i > 1995 ? "Failed" : "Applied").append("\",\"reason\":\"odd\"}");
    }
    report(fleet, credential, "web-01", rows.append("]"));

    String page = page(logIn(), "/dashboard").body();

    // The hosted feed's ids and those the organisation's policy names, then the first of web-01's own in id
    // order (each reported by one server), up to the limit.
    List<String> expected = new ArrayList<>(List.of("LOCAL-7", "M1", "M2", "VENDOR-3"));
    for (int i = 1; i <= Fleet.REPORTED_COLUMNS; i++) {
      expected.add(String.format("X-%04d", i));
    }
    assertThat(columns(page)).containsExactlyElementsOf(expected);
    assertThat(page).contains("<th class=\"mitigation reported\" data-id=\"X-0001\" title=\"Listed in no hosted feed;"
        + " reported by 1 server\">");
    String web01 = row(page, "web-01");
    assertThat(web01).contains(">1968 unknown (3 Failed)<")
        .contains("title=\"Reported by this server, listed in no hosted feed: X-0031.1 Applied, X-0032.1 Applied,")
        .contains("X-0050.1 Applied and 1948 more\"").doesNotContain("X-0051");
    assertThat(row(page, "web-02")).contains("<td class=\"unknown\"></td>");
    String attention = page.substring(page.indexOf("<section id=\"attention\">"), page.indexOf("<section id=\"matrix-section\">"));
    assertThat(attention).contains("<li class=\"failed\">web-01: X-1996.1, X-1997.1, X-1998.1 Failed (listed in no"
        + " hosted feed)</li>");
    assertThat(page.length()).as("the page's size").isLessThan(40_000);
    // The admin API keeps everything the agent reported.
    assertThat(fleet.adminGet("/api/v1/admin/servers/web-01").get("mitigations")).hasSize(2000);
  }

  @Test
  void agentsThatAlsoReadAFeedServedElsewhereHaveItsMitigationsAsColumnsAfterTheHostedOnes() throws Exception {
    // web-01..03 read the hosted feed (M1, M2) and a vendor's feed served elsewhere (B-1, B-2); web-01 also
    // reports 40 ids nobody else does, which sort before the vendor's.
    for (String server : List.of("web-01", "web-02", "web-03")) {
      String credential = fleet.enrol(server, "{}");
      StringBuilder rows = new StringBuilder("[{\"id\":\"M1\",\"revision\":1,\"status\":\"Applied\",\"reason\":"
          + "\"ok\"},{\"id\":\"B-1\",\"revision\":4,\"status\":\"Applied\",\"reason\":\"ok\"},{\"id\":\"B-2\","
          + "\"revision\":1,\"status\":\"Failed\",\"reason\":\"nginx -t failed\"}");
      for (int i = 1; server.equals("web-01") && i <= 40; i++) {
        rows.append(",{\"id\":\"A-").append(String.format("%02d", i)).append("\",\"revision\":1,\"status\":")
            .append("\"Applied\",\"reason\":\"odd\"}");
      }
      report(fleet, credential, server, rows.append("]"));
    }

    String page = page(logIn(), "/dashboard").body();

    // The hosted ids first; then the 30 reported by the most servers, in id order: the vendor's two, reported
    // by three servers, and 28 of web-01's. Its other 12 are Unknown.
    List<String> expected = new ArrayList<>(List.of("M1", "M2"));
    for (int i = 1; i <= Fleet.REPORTED_COLUMNS - 2; i++) {
      expected.add(String.format("A-%02d", i));
    }
    expected.addAll(List.of("B-1", "B-2"));
    assertThat(columns(page)).containsExactlyElementsOf(expected);
    assertThat(page).contains("<th class=\"mitigation reported\" data-id=\"B-2\" title=\"Listed in no hosted feed;"
        + " reported by 3 servers\">").contains("<th class=\"mitigation\" data-id=\"M2\">");
    assertThat(row(page, "web-02")).contains("<td class=\"cell st-Failed\" title=\"nginx -t failed\">Failed"
        + " <small>B-2.1</small></td>").contains("<td class=\"unknown\"></td>");
    assertThat(row(page, "web-01")).contains(">12 unknown<");
    String attention = page.substring(page.indexOf("<section id=\"attention\">"), page.indexOf("<section id=\"matrix-section\">"));
    assertThat(attention).contains("<li class=\"failed\">web-03: B-2.1 Failed: nginx -t failed</li>");
  }

  @Test
  void withNoHostedMitigationTheIdsTheMostServersReportAreColumnsUpToALimit() throws Exception {
    // Agents that read a feed served elsewhere: what they report is all there is to name columns by.
    try (Fixture other = new Fixture(dir.resolve("other"), backend(), Map.of(), b -> b)) {
      for (String server : List.of("web-01", "web-02")) {
        String credential = other.enrol(server, "{}");
        StringBuilder rows = new StringBuilder("[{\"id\":\"M1\",\"revision\":1,\"status\":\"Applied\",\"reason\":\"ok\"}");
        // web-01 also reports 40 ids nobody else does.
        for (int i = 1; server.equals("web-01") && i <= 40; i++) {
          rows.append(",{\"id\":\"X-").append(String.format("%02d", i)).append("\",\"revision\":1,\"status\":")
              .append("\"Applied\",\"reason\":\"odd\"}");
        }
        report(other, credential, server, rows.append("]"));
      }

      String page = page(other, logIn(other), "/dashboard").body();

      // M1, reported by both, and the first 29 of web-01's own in id order: 30 in all; the other 11 are Unknown.
      List<String> expected = new java.util.ArrayList<>(List.of("M1"));
      for (int i = 1; i <= Fleet.REPORTED_COLUMNS - 1; i++) {
        expected.add(String.format("X-%02d", i));
      }
      assertThat(columns(page)).containsExactlyElementsOf(expected);
      assertThat(row(page, "web-01")).contains(">11 unknown<");
      assertThat(row(page, "web-02")).contains("<td class=\"unknown\"></td>");
    }
  }

  /** Sends an agent's report with these mitigation rows (a JSON array) and a healthy feed; expects it taken. */
  private static void report(Fixture f, String credential, String server, CharSequence rows) throws Exception {
    HttpResponse<String> report = f.post("/api/v1/agent/report", credential, "{\"server\":\"" + server
        + "\",\"agentVersion\":\"0.1.0\",\"feedHealth\":\"ok\",\"dataCollection\":true,\"mitigations\":" + rows
        + "}");
    assertThat(report.statusCode()).as(report.body()).isEqualTo(204);
  }

  // Characters that make a row read differently than it is ("Trojan Source"): shown, never applied.

  /** The first control (but tab and line breaks) or invisible format character in the text, or -1. */
  private static int firstInvisible(String text) {
    return text.codePoints().filter(cp -> (Character.getType(cp) == Character.CONTROL && cp != '\t' && cp != '\n'
        && cp != '\r') || Character.getType(cp) == Character.FORMAT).findFirst().orElse(-1);
  }

  @Test
  void directionOverridesAndControlsFromAgentsAreShownAsEscapes() throws Exception {
    String credential = fleet.enrol("web-01", "{}");
    String rlo = "\u202E";
    HttpResponse<String> report = fleet.post("/api/v1/agent/report", credential, "{\"server\":\"web-01\","
        + "\"agentVersion\":\"0.1.0\",\"productVersion\":\"15.2\\u200f.1\",\"feedHealth\":\"timeout\\u0085\\u2066at"
        + " mirror\",\"dataCollection\":true,\"mitigations\":[{\"id\":\"M1\",\"revision\":1,\"status\":\"Failed\","
        + "\"reason\":\"probe " + rlo + "exe.gnp\"}]}");
    assertThat(report.statusCode()).as(report.body()).isEqualTo(204);
    // A label stored before labels were checked.
    fleet.server.database().transaction(c -> Database.update(c, "UPDATE agents SET ring = ? WHERE server_name = ?",
        "cana\u200Bry\u202E", "web-01"));

    String page = page(logIn(), "/dashboard").body();

    assertThat(firstInvisible(page)).as("an invisible character on the page, as a code point").isEqualTo(-1);
    assertThat(page).contains("title=\"probe \\u202Eexe.gnp\"").contains("web-01: M1.1 Failed: probe \\u202Eexe.gnp")
        .contains("web-01: feed: timeout\\u0085\\u2066at mirror").contains(">15.2\\u200F.1<")
        .contains("<td>cana\\u200Bry\\u202E</td>");
    // The admin API gives the values as they are.
    JsonNode server = fleet.adminGet("/api/v1/admin/servers/web-01");
    assertThat(server.get("mitigations").get(0).get("reason").asText()).isEqualTo("probe " + rlo + "exe.gnp");
    assertThat(server.get("productVersion").asText()).isEqualTo("15.2\u200F.1");
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
