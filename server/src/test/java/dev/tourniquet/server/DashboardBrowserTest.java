package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.NoAlertPresentException;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real headless Chromium (Debian's chromium and chromium-driver, never downloaded):
 * log in, read the matrix with failures first, approve a rollout and block a mitigation, watch the page
 * refresh itself, page through the audit log; screenshots go to target/screenshots/.
 */
class DashboardBrowserTest {
  static final Path SCREENSHOTS = Path.of("target", "screenshots");
  /** Tests of the automatic refresh: it runs every second for them. */
  static final String LIVE = "live";

  @TempDir
  Path dir;
  Fixture fleet;
  ChromeDriver browser;
  WebDriverWait wait;
  String web1;
  String web2;

  @BeforeEach
  void start(TestInfo test) throws Exception {
    // The other tests hold elements that a refresh would replace under them: theirs comes once an hour.
    Duration refresh = test.getTags().contains(LIVE) ? Duration.ofSeconds(1) : Duration.ofHours(1);
    fleet = new Fixture(dir, Backend.h2(), b -> b.dashboardRefresh(refresh));
    // web-03 enrols, then is not heard from for four hours: stale.
    fleet.enrol("web-03", "{\"ring\":\"broad\"}");
    fleet.clock.advance(Duration.ofHours(4));
    web1 = fleet.enrol("web-01", "{\"ring\":\"canary\",\"site\":\"paris\"}");
    web2 = fleet.enrol("web-02", "{\"ring\":\"<b>broad</b>\"}");
    fleet.adminPost("/api/v1/admin/org/rollout", "{\"enabled\":true}");
    fleet.feed.publish(Map.of("M3", 1));
    awaitRollout("M3");
    report(web1, "web-01", "[{\"id\":\"M1\",\"revision\":1,\"kind\":\"request-rules\",\"status\":\"Applied\",\"reason\":"
        + "\"applies to 15.2.1118.7\"},{\"id\":\"M2\",\"revision\":1,\"kind\":\"response-rules\",\"status\":\"Audit\","
        + "\"reason\":\"mode audit\",\"auditHits\":{\"csp\":12}},{\"id\":\"M3\",\"revision\":1,\"kind\":\"request-rules\","
        + "\"status\":\"Applied\",\"reason\":\"canary\"}]");
    report(web2, "web-02", "[{\"id\":\"M1\",\"revision\":1,\"kind\":\"request-rules\",\"status\":\"Failed\",\"reason\":"
        + "\"health probe: expected 200 but found 502\"},{\"id\":\"M2\",\"revision\":1,\"kind\":\"response-rules\","
        + "\"status\":\"Detected\",\"reason\":\"mitigations disabled on this server: detected only\"}]");

    ChromeOptions options = new ChromeOptions();
    options.setBinary("/usr/bin/chromium");
    options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1400,1000", "--user-data-dir=" + Files.createDirectories(dir.resolve("chromium-profile")));
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(Path.of("/usr/bin/chromedriver").toFile()).usingAnyFreePort().build();
    browser = new ChromeDriver(service, options);
    wait = new WebDriverWait(browser, Duration.ofSeconds(15));
    // Under a refresh every second, an element found may be replaced before it is read: read it again.
    wait.ignoring(StaleElementReferenceException.class);
    Files.createDirectories(SCREENSHOTS);
  }

  @AfterEach
  void stop() {
    if (browser != null) {
      browser.quit();
    }
    if (fleet != null) {
      fleet.close();
    }
  }

  private void awaitRollout(String id) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      if (fleet.adminGet("/api/v1/admin/rollouts").toString().contains("\"id\":\"" + id + "\"")) {
        return;
      }
    }
    throw new AssertionError("rollout of " + id + " never appeared");
  }

  private void report(String credential, String server, String mitigations) throws Exception {
    HttpResponse<String> r = fleet.post("/api/v1/agent/report", credential, "{\"server\":\"" + server + "\","
        + "\"agentVersion\":\"0.1.0\",\"productVersion\":\"15.2.1118.7\",\"feedHealth\":\"ok\",\"dataCollection\":true,"
        + "\"mitigations\":" + mitigations + "}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(204);
  }

  private void logIn(String token) {
    browser.get(fleet.uri("/dashboard").toString());
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("token"))).sendKeys(token);
    browser.findElement(By.id("login")).click();
  }

  private void screenshot(String name) throws Exception {
    Files.write(SCREENSHOTS.resolve(name + ".png"), browser.getScreenshotAs(OutputType.BYTES));
  }

  private void submitConfirmed(WebElement button) {
    button.click();
    wait.until(ExpectedConditions.alertIsPresent()).accept();
  }

  @Test
  void loginWithAWrongTokenIsRefusedOnThePage() throws Exception {
    logIn("tqu_" + "A".repeat(43));
    assertThat(wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("login-error"))).getText())
        .contains("not the token of a user");
    screenshot("login-refused");
  }

  @Test
  void matrixShowsFailuresFirstStaleServersAndStatusColours() throws Exception {
    logIn(fleet.adminToken);
    WebElement matrix = wait.until(ExpectedConditions.presenceOfElementLocated(By.id("matrix")));
    screenshot("dashboard");

    List<WebElement> rows = matrix.findElements(By.cssSelector("tbody tr.server"));
    assertThat(rows).extracting(r -> r.getAttribute("data-server")).containsExactly("web-02", "web-03", "web-01");
    assertThat(rows.get(0).getAttribute("class")).contains("has-failure");
    assertThat(rows.get(1).getAttribute("class")).contains("stale");
    WebElement failed = rows.get(0).findElement(By.cssSelector("td.st-Failed"));
    assertThat(failed.getText()).startsWith("Failed");
    assertThat(failed.getAttribute("title")).isEqualTo("health probe: expected 200 but found 502");
    assertThat(failed.getCssValue("background-color")).isEqualTo("rgba(251, 213, 210, 1)");
    assertThat(rows.get(2).findElement(By.cssSelector("td.st-Applied")).getCssValue("background-color"))
        .isEqualTo("rgba(209, 242, 220, 1)");
    assertThat(rows.get(2).findElement(By.cssSelector("td.st-Audit")).getText()).contains("12 hits");
    // A label is text, never markup.
    assertThat(rows.get(0).findElements(By.tagName("td")).get(0).getText()).isEqualTo("<b>broad</b>");
    assertThat(browser.findElement(By.id("attention")).getText())
        .contains("web-02: M1.1 Failed: health probe: expected 200 but found 502")
        .contains("web-03: not seen since");
  }

  @Test
  void serverNamesLineUpWhetherTheirRowHasAFailureIsStaleOrNeither() throws Exception {
    logIn(fleet.adminToken);
    WebElement matrix = wait.until(ExpectedConditions.presenceOfElementLocated(By.id("matrix")));

    // A failing or stale row's name has a coloured edge before it; a row with neither had no edge, and its
    // name sat 4 px to the left of the others'. Where each name's text starts, in CSS pixels:
    List<WebElement> names = matrix.findElements(By.cssSelector("tbody tr.server > th"));
    assertThat(names).extracting(WebElement::getText).containsExactly("web-02", "web-03", "web-01");
    double heading = textLeft(matrix.findElement(By.cssSelector("thead th:first-child")));

    assertThat(names).extracting(this::textLeft).as("where web-02 (failed), web-03 (stale), web-01 (neither) start")
        .containsOnly(heading);
    assertThat(names.get(2).getCssValue("border-left-width")).isEqualTo("4px");
    assertThat(names.get(2).getCssValue("border-left-color")).isEqualTo("rgba(0, 0, 0, 0)");
  }

  /** The left edge of an element's text as laid out, in CSS pixels from the window's left. */
  private double textLeft(WebElement element) {
    return ((Number) browser.executeScript("const range = document.createRange();"
        + " range.selectNodeContents(arguments[0].firstChild); return range.getBoundingClientRect().left;", element))
        .doubleValue();
  }

  @Test
  void operatorApprovesACanaryRolloutAndBlocksAMitigationFromTheDashboard() throws Exception {
    logIn(fleet.user("olga", "operator"));
    WebElement rollout = wait.until(ExpectedConditions.presenceOfElementLocated(
        By.cssSelector("tr.rollout[data-rollout='M3.1']")));
    assertThat(rollout.getText()).contains("canary only").contains("1 Applied");
    screenshot("rollout-waiting");

    submitConfirmed(rollout.findElement(By.cssSelector("button")));
    wait.until(ExpectedConditions.attributeContains(By.cssSelector("tr.rollout[data-rollout='M3.1']"), "class",
        "released"));
    assertThat(fleet.adminGet("/api/v1/admin/rollouts").get(0).get("releasedBy").asText()).isEqualTo("olga");

    submitConfirmed(browser.findElement(By.cssSelector("th.mitigation[data-id='M2'] button")));
    wait.until(ExpectedConditions.textToBe(By.id("org-blocked"), "M2"));
    assertThat(fleet.adminGet("/api/v1/admin/policy").get("blocked").toString()).isEqualTo("[\"M2\"]");
    assertThat(browser.findElement(By.id("audit")).getText()).contains("olga").contains("block").contains("rollout.approve");
    screenshot("after-actions");
  }

  @Test
  void logOutEndsTheSession() throws Exception {
    logIn(fleet.adminToken);
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("matrix")));
    browser.findElement(By.id("logout")).click();
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("token")));
    browser.get(fleet.uri("/dashboard").toString());
    assertThat(wait.until(ExpectedConditions.presenceOfElementLocated(By.id("token"))).isDisplayed()).isTrue();
    assertThat(browser.manage().getCookieNamed(Dashboard.COOKIE)).isNull();
  }

  @Test
  void longServerNameAndLongReasonWrapInsteadOfWideningThePage() throws Exception {
    // Agent-supplied strings: a 253-character host name and a 2000-character error without a space. The
    // server column took 2000 px and the page 15000 px: the mitigation columns were off screen.
    String name = "exchange-" + "x".repeat(227) + ".corp.example.org";
    String credential = fleet.enrol(name, "{}");
    report(credential, name, "[{\"id\":\"M1\",\"revision\":1,\"kind\":\"request-rules\",\"status\":\"Failed\",\"reason\":"
        + "\"nginx -t: " + "y".repeat(1900) + "\"}]");
    logIn(fleet.adminToken);
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("matrix")));
    screenshot("long-names");

    long viewport = (Long) browser.executeScript("return document.documentElement.clientWidth");
    assertThat((Long) browser.executeScript("return document.documentElement.scrollWidth")).as("page width")
        .isLessThanOrEqualTo(viewport);
    WebElement row = browser.findElement(By.cssSelector("tr.server[data-server='" + name + "']"));
    assertThat(row.findElement(By.tagName("th")).getSize().getWidth()).as("server column").isLessThan((int) viewport / 3);
    assertThat(row.findElement(By.cssSelector("td.st-Failed")).getLocation().getX()).as("the failed cell is on screen")
        .isLessThan((int) viewport);
  }

  @Test
  void columnsOfAFeedServedElsewhereFollowTheHostedOnesAndKeepThePageWithinTheWindow() throws Exception {
    // web-01 and web-02 also read a vendor's feed served elsewhere (V-1, V-2); web-01 reports 40 ids of its own
    // too, which sort before everything: 30 columns in all come after the hosted M1, M2, M3.
    StringBuilder rows = new StringBuilder("[{\"id\":\"M1\",\"revision\":1,\"status\":\"Applied\",\"reason\":\"ok\"},"
        + "{\"id\":\"V-1\",\"revision\":2,\"status\":\"Applied\",\"reason\":\"ok\"},{\"id\":\"V-2\",\"revision\":1,"
        + "\"status\":\"Failed\",\"reason\":\"nginx -t failed\"}");
    report(web2, "web-02", rows + "]");
    for (int i = 1; i <= 40; i++) {
      rows.append(",{\"id\":\"A-").append(String.format("%02d", i)).append("\",\"revision\":1,\"status\":\"Applied\","
          + "\"reason\":\"odd\"}");
    }
    report(web1, "web-01", rows + "]");
    logIn(fleet.user("olga", "operator"));
    WebElement matrix = wait.until(ExpectedConditions.presenceOfElementLocated(By.id("matrix")));
    screenshot("reported-columns");

    List<WebElement> headers = matrix.findElements(By.cssSelector("th.mitigation"));
    assertThat(headers).hasSize(3 + Fleet.REPORTED_COLUMNS);
    assertThat(headers.subList(0, 3)).extracting(h -> h.getAttribute("data-id")).containsExactly("M1", "M2", "M3");
    assertThat(headers.get(3).getAttribute("data-id")).isEqualTo("A-01");
    WebElement vendor = matrix.findElement(By.cssSelector("th.mitigation[data-id='V-2']"));
    assertThat(vendor.getAttribute("title")).isEqualTo("Listed in no hosted feed; reported by 2 servers");
    long viewport = (Long) browser.executeScript("return document.documentElement.clientWidth");
    assertThat((Long) browser.executeScript("return document.documentElement.scrollWidth")).as("page width")
        .isLessThanOrEqualTo(viewport);
    assertThat(headers.get(2).getLocation().getX()).as("the hosted columns are on screen").isLessThan((int) viewport);
    // Not squeezed to a letter a line: a column's Block button is one line, as the header's Log out is.
    assertThat(headers.get(3).findElement(By.tagName("button")).getSize().getHeight()).as("a Block button's height")
        .isLessThanOrEqualTo(browser.findElement(By.id("logout")).getSize().getHeight());

    // Scrolled to the end, the matrix shows the last columns beside the server names, which stay in view.
    WebElement row = matrix.findElement(By.cssSelector("tr.server[data-server='web-01']"));
    int serverX = row.findElement(By.tagName("th")).getLocation().getX();
    browser.executeScript("document.querySelector('.matrix-scroll').scrollLeft = 1e6");
    screenshot("reported-columns-scrolled");
    assertThat(row.findElement(By.tagName("th")).getLocation().getX()).as("the server column").isEqualTo(serverX);
    WebElement unknown = row.findElement(By.cssSelector("td.unknown"));
    assertThat(unknown.getText()).isEqualTo("12 unknown");
    assertThat(unknown.getLocation().getX() + unknown.getSize().getWidth()).as("the Unknown cell is on screen")
        .isLessThanOrEqualTo((int) viewport);
  }

  @Test
  void everyActionAsksForConfirmationAndApprovalNamesTheCanaryFailures() throws Exception {
    fleet.adminPost("/api/v1/admin/org/block", "{\"id\":\"M1\"}");
    fleet.adminPost("/api/v1/admin/org/disable", "");
    fleet.adminPost("/api/v1/admin/servers/web-02/disable", "");
    report(web1, "web-01", "[{\"id\":\"M3\",\"revision\":1,\"kind\":\"request-rules\",\"status\":\"Failed\",\"reason\":"
        + "\"health probe: expected 200 but found 502\"}]");
    logIn(fleet.user("olga", "operator"));
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("matrix")));

    // Unblock (servers apply the mitigation again) and enable were sent at the first click.
    List<WebElement> forms = browser.findElements(By.cssSelector("form[action='/dashboard/action']"));
    assertThat(forms).extracting(f -> f.findElement(By.cssSelector("input[name=action]")).getAttribute("value"))
        .contains("unblock", "enable", "approve", "block", "disable");
    assertThat(forms).allSatisfy(f -> assertThat(f.getAttribute("data-confirm")).as(f.getText()).isNotBlank());
    browser.findElement(By.cssSelector("th.mitigation[data-id='M1'] button")).click();
    assertThat(wait.until(ExpectedConditions.alertIsPresent()).getText()).contains("Unblock M1");
    browser.switchTo().alert().dismiss();
    assertThat(fleet.adminGet("/api/v1/admin/policy").get("blocked").toString()).isEqualTo("[\"M1\"]");

    WebElement approve = browser.findElement(By.cssSelector("tr.rollout[data-rollout='M3.1'] button"));
    approve.click();
    assertThat(wait.until(ExpectedConditions.alertIsPresent()).getText()).contains("web-01 reports it Failed");
    browser.switchTo().alert().dismiss();
    assertThat(fleet.adminGet("/api/v1/admin/rollouts").get(0).get("state").asText()).isEqualTo("canary");
  }

  @Test
  void modeOverridesAndOneServersBlocksAreShown() throws Exception {
    // An organisation-wide audit override leaves a mitigation unenforced everywhere; a server's own block
    // removes it there. Neither was on the page: an operator saw Audit or Blocked cells and no reason.
    fleet.adminPost("/api/v1/admin/org/mode", "{\"id\":\"M2\",\"mode\":\"audit\"}");
    fleet.adminPost("/api/v1/admin/servers/web-02/block", "{\"id\":\"M1\"}");
    fleet.adminPost("/api/v1/admin/servers/web-01/mode", "{\"id\":\"M2\",\"mode\":\"enforce\"}");
    logIn(fleet.user("vera", "viewer"));
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("matrix")));
    screenshot("policy-overrides");

    assertThat(browser.findElement(By.id("org-modes")).getText()).isEqualTo("M2 audit");
    assertThat(browser.findElement(By.cssSelector("tr.server[data-server='web-02'] td.policy")).getText())
        .contains("blocked here: M1");
    assertThat(browser.findElement(By.cssSelector("tr.server[data-server='web-01'] td.policy")).getText())
        .contains("M2 enforce");
    assertThat(browser.findElement(By.cssSelector("tr.server[data-server='web-03'] td.policy")).getText())
        .isEqualTo("enabled");
  }

  @Test
  void refusedActionIsAPageThatSaysWhyWithAWayBack() throws Exception {
    logIn(fleet.user("olga", "operator"));
    WebElement approve = wait.until(ExpectedConditions.presenceOfElementLocated(
        By.cssSelector("tr.rollout[data-rollout='M3.1'] button")));
    fleet.adminPost("/api/v1/admin/rollouts/M3/approve", "{}"); // another operator was quicker
    submitConfirmed(approve);

    // It was the API's JSON, on a page with no way back.
    WebElement error = wait.until(ExpectedConditions.presenceOfElementLocated(By.id("action-error")));
    screenshot("action-refused");
    assertThat(error.getText()).contains("no revision of M3 with revision 1 is waiting in ring canary");
    browser.findElement(By.id("back")).click();
    wait.until(ExpectedConditions.attributeContains(By.cssSelector("tr.rollout[data-rollout='M3.1']"), "class",
        "released"));
  }

  @Test
  void staticFilesAndTheRootAnswerOnlyGetAndHead() throws Exception {
    // POST /static/dashboard.js answered 200 with the script, DELETE / a redirect.
    for (String[] r : new String[][] {{"POST", "/static/dashboard.js"}, {"PUT", "/static/dashboard.css"},
        {"DELETE", "/"}}) {
      HttpResponse<String> answer = fleet.http.send(HttpRequest.newBuilder(fleet.uri(r[1]))
          .method(r[0], HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(answer.statusCode()).as(r[0] + " " + r[1]).isEqualTo(405);
      assertThat(Fixture.json(answer).get("error").asText()).isEqualTo("method " + r[0]
          + " is not allowed here; expected GET or HEAD");
      assertThat(answer.headers().firstValue("Allow")).hasValue("GET, HEAD");
    }
    HttpResponse<String> head = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/static/dashboard.css"))
        .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(head.statusCode()).isEqualTo(200);
  }

  @Test
  void rolloutProgressCountsTheServersThatHaveNotReportedTheRevision() throws Exception {
    // M1.1: web-01 (canary) Applied, web-02 Failed, web-03 never reported. The other rings read "1 Failed"
    // alone, as if the ring were done; M3.1's canary ring "1 Applied" whatever the size of the ring.
    String web4 = fleet.enrol("web-04", "{\"ring\":\"canary\"}");
    report(web4, "web-04", "[]");
    logIn(fleet.adminToken);
    WebElement m1 = wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr.rollout[data-rollout='M1.1']")));
    screenshot("rollout-progress");

    List<WebElement> m1Cells = m1.findElements(By.tagName("td"));
    assertThat(m1Cells.get(3).getText()).isEqualTo("1 Applied\n1 of 2 servers without a report of M1.1");
    assertThat(m1Cells.get(4).getText()).isEqualTo("1 Failed\n1 of 2 servers without a report of M1.1");
    List<WebElement> m3Cells = browser.findElements(By.cssSelector("tr.rollout[data-rollout='M3.1'] td"));
    assertThat(m3Cells.get(3).getText()).isEqualTo("1 Applied\n1 of 2 servers without a report of M3.1");
    assertThat(m3Cells.get(4).getText()).isEqualTo("no report yet from its 2 servers");
  }

  /** Logs in as the first admin with a plain HTTP client; returns the Set-Cookie header of the session. */
  private String logInOverHttp() throws Exception {
    HttpResponse<String> login = Fixture.logIn(fleet.http, fleet.server.uri(), fleet.adminToken);
    return login.headers().allValues("Set-Cookie").stream().filter(c -> c.startsWith(Dashboard.COOKIE + "=")).findFirst()
        .orElseThrow();
  }

  @Test
  void logOutWithoutTheCsrfTokenStillEndsTheSessionOnTheServer() throws Exception {
    String setCookie = logInOverHttp();
    String cookie = setCookie.substring(0, setCookie.indexOf(';'));

    HttpResponse<String> logout = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/logout")).header("Cookie", cookie)
        .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString("")).build(),
        HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> after = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard")).header("Cookie", cookie)
        .build(), HttpResponse.BodyHandlers.ofString());

    assertThat(logout.statusCode()).isEqualTo(303);
    assertThat(after.statusCode()).as("the old cookie after logging out").isEqualTo(303);
    assertThat(after.headers().firstValue("Location")).hasValueSatisfying(l -> assertThat(l).endsWith("/login"));
  }

  @Test
  void dismissedConfirmationChangesNothing() throws Exception {
    logIn(fleet.adminToken);
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("matrix")));
    browser.findElement(By.cssSelector("th.mitigation[data-id='M1'] button")).click();
    wait.until(ExpectedConditions.alertIsPresent()).dismiss();
    // The page stayed; the policy did not change.
    assertThat(browser.findElement(By.id("org-blocked")).getText()).isEqualTo("none");
    assertThat(fleet.adminGet("/api/v1/admin/policy").get("blocked")).isEmpty();
  }

  @Test
  void viewerSeesTheDashboardWithoutActions() throws Exception {
    logIn(fleet.user("vera", "viewer"));
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("matrix")));
    assertThat(browser.findElement(By.id("who")).getText()).isEqualTo("vera (viewer)");
    assertThat(browser.findElements(By.cssSelector("form[action='/dashboard/action']"))).isEmpty();
    screenshot("viewer");
  }

  @Test
  void sessionCookieIsHttpOnlyAndStrictAndActionsNeedTheCsrfToken() throws Exception {
    String setCookie = logInOverHttp();
    assertThat(setCookie).contains("HttpOnly").contains("SameSite=Strict").contains("Path=/");
    String cookie = setCookie.substring(0, setCookie.indexOf(';'));

    HttpResponse<String> noCsrf = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard/action"))
        .header("Cookie", cookie).header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("action=block&id=M1")).build(), HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> wrongCsrf = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard/action"))
        .header("Cookie", cookie).header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("action=block&id=M1&csrf=tqc_forged")).build(),
        HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> noSession = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard/action"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("action=block&id=M1&csrf=x")).build(),
        HttpResponse.BodyHandlers.ofString());

    String page0 = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard")).header("Cookie", cookie).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    String marker = "name=\"csrf\" value=\"";
    int at = page0.indexOf(marker) + marker.length();
    String csrf = page0.substring(at, page0.indexOf('"', at));
    for (String[] bad : new String[][] {{"action=explode", "400"}, {"action=block&id=%3Cscript%3E", "400"},
        {"action=block&server=..%2Fx&id=M1", "400"}, {"action=approve&id=M3&revision=x", "400"},
        {"action=block&id=M1&id=M2", "400"}}) {
      HttpResponse<String> r = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard/action"))
          .header("Cookie", cookie).header("Content-Type", "application/x-www-form-urlencoded")
          .POST(HttpRequest.BodyPublishers.ofString(bad[0] + "&csrf=" + csrf)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(bad[0]).isEqualTo(Integer.parseInt(bad[1]));
      assertThat(Fixture.json(r).get("error").asText()).as(bad[0]).contains("field \"");
    }
    HttpResponse<String> json = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard/action"))
        .header("Cookie", cookie).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"action\":\"block\",\"id\":\"M1\",\"csrf\":\"" + csrf + "\"}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(json.statusCode()).isEqualTo(415);

    assertThat(noCsrf.statusCode()).isEqualTo(403);
    assertThat(wrongCsrf.statusCode()).isEqualTo(403);
    assertThat(noSession.statusCode()).isEqualTo(401);
    assertThat(fleet.adminGet("/api/v1/admin/policy").get("blocked")).isEmpty();
    HttpResponse<String> page = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard")).header("Cookie", cookie)
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(page.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(
        csp -> assertThat(csp).contains("script-src 'self'").contains("frame-ancestors 'none'")
            .contains("connect-src 'self'").doesNotContain("unsafe"));
  }

  private WebElement body() {
    return browser.findElement(By.tagName("body"));
  }

  /** An attribute of an element as it is now: found and read again if a refresh replaced it meanwhile. */
  private String live(By by, String attribute) {
    return wait.until(d -> String.valueOf(attribute.equals("text") ? d.findElement(by).getText()
        : attribute.equals("displayed") ? d.findElement(by).isDisplayed() : d.findElement(by).getAttribute(attribute)));
  }

  @Test
  @Tag(LIVE)
  void aStatusChangeReportedThroughTheApiAppearsWithoutAReload() throws Exception {
    logIn(fleet.adminToken);
    wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr.server[data-server='web-01'] td.st-Applied")));
    browser.executeScript("window.tqNotReloaded = true");

    report(web1, "web-01", "[{\"id\":\"M1\",\"revision\":1,\"kind\":\"request-rules\",\"status\":\"Failed\",\"reason\":"
        + "\"<img src=x onerror=alert(1)>\"},{\"id\":\"M3\",\"revision\":1,\"kind\":\"request-rules\",\"status\":"
        + "\"Applied\",\"reason\":\"canary\"}]");

    By failed = By.cssSelector("tr.server[data-server='web-01'] td.st-Failed");
    wait.until(ExpectedConditions.presenceOfElementLocated(failed));
    screenshot("live-refresh");
    assertThat(browser.executeScript("return window.tqNotReloaded")).as("the page was not reloaded").isEqualTo(true);
    // The agent's string is text: no element was made of it.
    assertThat(live(failed, "title")).isEqualTo("<img src=x onerror=alert(1)>");
    assertThat(live(By.id("attention"), "text")).contains("web-01: M1.1 Failed: <img src=x");
    assertThat(browser.findElements(By.cssSelector("main img"))).isEmpty();
    assertThat(live(By.id("refresh-status"), "text")).startsWith("Updated ");
  }

  @Test
  @Tag(LIVE)
  void theRefreshPausesWhileAFieldHasTheFocusAndKeepsTheFilter() throws Exception {
    logIn(fleet.adminToken);
    WebElement filter = wait.until(ExpectedConditions.presenceOfElementLocated(By.id("filter")));
    filter.sendKeys("web-01");
    wait.until(ExpectedConditions.attributeToBe(By.tagName("body"), "data-refresh", "paused"));
    int skipped = Integer.parseInt(body().getAttribute("data-skipped"));
    report(web1, "web-01", "[{\"id\":\"M1\",\"revision\":1,\"kind\":\"request-rules\",\"status\":\"Failed\",\"reason\":"
        + "\"health probe: expected 200 but found 503\"}]");

    // Two refreshes come due while the field has the focus: neither replaces anything.
    wait.until(d -> Integer.parseInt(body().getAttribute("data-skipped")) >= skipped + 2);
    assertThat(browser.findElements(By.cssSelector("tr.server[data-server='web-01'] td.st-Failed"))).isEmpty();
    assertThat(live(By.id("refresh-status"), "text")).contains("Paused");

    // The focus leaves the field: the page catches up, the filter still applied.
    browser.executeScript("document.activeElement.blur()");
    wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr.server[data-server='web-01'] td.st-Failed")));
    assertThat(browser.findElement(By.id("filter")).getAttribute("value")).isEqualTo("web-01");
    assertThat(live(By.cssSelector("tr.server[data-server='web-02']"), "displayed")).isEqualTo("false");
    assertThat(live(By.cssSelector("tr.server[data-server='web-01']"), "displayed")).isEqualTo("true");
  }

  @Test
  @Tag(LIVE)
  void whenTheSessionEndsTheRefreshStopsAndSaysSo() throws Exception {
    logIn(fleet.user("vera", "viewer"));
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("matrix")));

    fleet.clock.advance(Duration.ofMinutes(31));

    WebElement notice = wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("session-ended")));
    screenshot("session-ended");
    assertThat(notice.getText()).contains("Your session has ended").contains("no longer updated");
    assertThat(body().getAttribute("data-refresh")).isEqualTo("ended");
    notice.findElement(By.tagName("a")).click();
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("token")));
  }

  /**
   * Serves one hostile page at {@code /}: a form that posts to the fleet server's login with the attacker's
   * token, after setting any cookies given (a site on the same host can set cookies the fleet server gets).
   */
  private static HttpServer hostilePage(String action, String fields, String... setCookies) throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", exchange -> {
      byte[] page = ("<!DOCTYPE html><html><body><form method=\"post\" action=\"" + action + "\">" + fields
          + "<button id=\"go\">Win a prize</button></form></body></html>").getBytes(StandardCharsets.UTF_8);
      for (String c : setCookies) {
        exchange.getResponseHeaders().add("Set-Cookie", c);
      }
      exchange.getResponseHeaders().add("Content-Type", "text/html; charset=utf-8");
      exchange.sendResponseHeaders(200, page.length);
      exchange.getResponseBody().write(page);
      exchange.close();
    });
    server.start();
    return server;
  }

  @Test
  void anotherSitesFormCannotLogTheBrowserInAsSomeoneElse() throws Exception {
    // Login CSRF: the victim would work on the attacker's dashboard session, trusting what it shows, and the
    // attacker would see in the audit log what the victim did there.
    String mallory = fleet.user("mallory", "viewer");
    String login = fleet.uri("/login").toString();
    String known = Secrets.newSecret(Secrets.LOGIN);
    // From another site (localhost is not 127.0.0.1), and from another port of the same host, which can set a
    // login cookie it knows for 127.0.0.1.
    HttpServer crossSite = hostilePage(login, "<input type=\"hidden\" name=\"token\" value=\"" + mallory + "\">");
    HttpServer sameSite = hostilePage(login, "<input type=\"hidden\" name=\"token\" value=\"" + mallory + "\">"
        + "<input type=\"hidden\" name=\"csrf\" value=\"" + known + "\">", Dashboard.LOGIN_COOKIE + "=" + known
        + "; Path=/login");
    try {
      for (String page : List.of("http://localhost:" + crossSite.getAddress().getPort() + "/",
          "http://127.0.0.1:" + sameSite.getAddress().getPort() + "/")) {
        browser.get(page);
        wait.until(ExpectedConditions.elementToBeClickable(By.id("go"))).click();
        // The fleet server's answer: a login page or a dashboard (the hostile page has neither id).
        wait.until(d -> !d.findElements(By.id("token")).isEmpty() || !d.findElements(By.id("who")).isEmpty());
        screenshot(page.contains("localhost") ? "login-csrf-cross-site" : "login-csrf-same-site");
        List<String> said = browser.findElements(By.id("login-error")).stream().map(WebElement::getText).toList();

        // The victim opens the dashboard: the login page, not mallory's dashboard.
        browser.get(fleet.uri("/dashboard").toString());
        wait.until(d -> !d.findElements(By.id("token")).isEmpty() || !d.findElements(By.id("who")).isEmpty());
        assertThat(browser.findElements(By.id("who"))).as("logged in by %s as", page).extracting(WebElement::getText)
            .isEmpty();
        assertThat(browser.manage().getCookieNamed(Dashboard.COOKIE)).as(page).isNull();
        assertThat(said).as(page).singleElement().asString().startsWith("login: expected");
      }
    } finally {
      crossSite.stop(0);
      sameSite.stop(0);
    }
    // The victim's own login still works, from the page the refusal left open.
    logIn(fleet.adminToken);
    assertThat(wait.until(ExpectedConditions.presenceOfElementLocated(By.id("who"))).getText()).isEqualTo("admin (admin)");
  }

  @Test
  void theLoginFormWorksAfterItsCookieIsGoneOnceThePageIsReloaded() throws Exception {
    browser.get(fleet.uri("/login").toString());
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("token")));
    browser.manage().deleteAllCookies(); // the login page was left open longer than its cookie lives
    browser.findElement(By.id("token")).sendKeys(fleet.adminToken);
    browser.findElement(By.id("login")).click();

    assertThat(wait.until(ExpectedConditions.visibilityOfElementLocated(By.id("login-error"))).getText())
        .contains("expected the login cookie of this server's login page but found none");
    screenshot("login-expired");
    // The refusal is a login page with a new form.
    browser.findElement(By.id("token")).sendKeys(fleet.adminToken);
    browser.findElement(By.id("login")).click();
    wait.until(ExpectedConditions.presenceOfElementLocated(By.id("matrix")));
  }

  /** The open dialog's text, or null when none is open. */
  private String alertText() {
    try {
      return browser.switchTo().alert().getText();
    } catch (NoAlertPresentException e) {
      return null;
    }
  }

  @Test
  @Tag(LIVE)
  void aConfirmationStaysOpenWhileRefreshesComeDueAndItsActionIsDoneOnceAccepted() throws Exception {
    logIn(fleet.user("olga", "operator"));
    wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("th.mitigation[data-id='M2'] button")));
    wait.until(ExpectedConditions.textMatches(By.id("refresh-status"), java.util.regex.Pattern.compile("^Updated ")));
    // A change the next refresh would bring: the matrix the button is in would be replaced.
    report(web2, "web-02", "[{\"id\":\"M1\",\"revision\":1,\"kind\":\"request-rules\",\"status\":\"Applied\","
        + "\"reason\":\"ok\"}]");

    browser.findElement(By.cssSelector("th.mitigation[data-id='M2'] button")).click();
    String question = wait.until(ExpectedConditions.alertIsPresent()).getText();
    assertThat(question).startsWith("Block M2 in the whole organisation?");
    // Three refresh periods pass with the dialog open: window.confirm holds the page's script, so no refresh
    // runs under it, and one under way when the button was pressed is thrown away.
    assertThatThrownBy(() -> new WebDriverWait(browser, Duration.ofSeconds(3)).until(d -> !question.equals(alertText())))
        .as("the dialog was lost or changed").isInstanceOf(TimeoutException.class);
    assertThat(fleet.adminGet("/api/v1/admin/policy").get("blocked")).as("nothing done before the answer").isEmpty();

    browser.switchTo().alert().accept();
    wait.until(ExpectedConditions.textToBe(By.id("org-blocked"), "M2"));
    assertThat(fleet.adminGet("/api/v1/admin/policy").get("blocked").toString()).isEqualTo("[\"M2\"]");
    assertThat(live(By.cssSelector("tr.server[data-server='web-02']"), "class")).doesNotContain("has-failure");
  }

  @Test
  void auditLogShowsTheNewestFiftyEntriesAndLinksToOlderOnes() throws Exception {
    fleet.server.database().transaction(c -> {
      for (int i = 1; i <= 120; i++) {
        AuditLog.append(c, fleet.clock.instant(), "olga", "block", "organisation: M" + i, "blocked M" + i);
      }
      return null;
    });
    logIn(fleet.adminToken);
    List<WebElement> rows = wait.until(ExpectedConditions.presenceOfElementLocated(By.id("audit")))
        .findElements(By.cssSelector("tr.entry"));
    assertThat(rows).hasSize(50);
    long newest = Long.parseLong(rows.get(0).getAttribute("data-id"));
    long last = Long.parseLong(rows.get(49).getAttribute("data-id"));
    assertThat(rows.get(0).getText()).contains("blocked M120");

    browser.findElement(By.id("audit-older")).click();
    wait.until(ExpectedConditions.urlContains("before=" + last));
    rows = browser.findElements(By.cssSelector("#audit tr.entry"));
    screenshot("audit-older");
    assertThat(rows).hasSize(50);
    assertThat(Long.parseLong(rows.get(0).getAttribute("data-id"))).isLessThan(last);
    assertThat(rows.get(0).getText()).contains("blocked M70");

    browser.findElement(By.id("audit-newest")).click();
    wait.until(d -> d.findElement(By.cssSelector("#audit tr.entry")).getAttribute("data-id").equals(String.valueOf(newest)));
    assertThat(browser.findElements(By.id("audit-newest"))).isEmpty();
  }
}
