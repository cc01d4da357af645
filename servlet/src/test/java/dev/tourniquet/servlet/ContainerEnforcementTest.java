package dev.tourniquet.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tourniquet.rules.RuleSet;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The filter in a real container, driven over real sockets. Each container runs the same tests through a
 * subclass.
 */
abstract class ContainerEnforcementTest {
  @TempDir
  Path dir;

  Path file;
  TourniquetFilter filter;
  TestApp app;
  Container container;

  /** Starts the container with the application at {@code contextPath} ({@code ""} for the root). */
  abstract Container start(TourniquetFilter filter, TestApp app, Path workDir, String contextPath) throws Exception;

  /** Whether AbortRequest closes the connection without a response on this container. */

  void run(EnforcementFile enforcement) throws Exception {
    run(enforcement, TourniquetFilter::new);
  }

  void run(EnforcementFile enforcement, java.util.function.Function<Path, TourniquetFilter> filters) throws Exception {
    run(enforcement, filters, "");
  }

  void run(EnforcementFile enforcement, java.util.function.Function<Path, TourniquetFilter> filters, String contextPath) throws Exception {
    file = dir.resolve("enforcement.json");
    if (enforcement != null) {
      enforcement.write(file);
    }
    filter = filters.apply(file);
    app = new TestApp();
    Path work = Files.createDirectories(dir.resolve("container"));
    container = start(filter, app, work, contextPath);
  }

  int port() {
    return container.port();
  }

  @AfterEach
  void stop() throws Exception {
    if (app != null) {
      app.slowRelease.countDown();
    }
    if (container != null) {
      container.stop();
    }
  }

  @Test
  void proxyNotShellRequestIsClosedWithoutAnyResponse() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("M1", Mode.ENFORCE, Fixtures.m1())));

    Http.Response response = Http.get(port(), Fixtures.PROXYNOTSHELL);

    assertThat(response.nothing()).as("no status line, no byte: %s", response).isTrue();
    assertThat(app.requests).hasValue(0);
    assertThat(filter.hits()).containsExactly(new RuleHit("M1", 1, Mode.ENFORCE, Fixtures.M1_RULE, 1));
  }

  @Test
  void abortClosesAKeepAliveConnectionWithoutAnswering() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("M1", Mode.ENFORCE, Fixtures.m1())));

    // No "Connection: close": the read ends only because the server closes the connection.
    Http.Response response = Http.send(port(), "GET " + Fixtures.PROXYNOTSHELL + " HTTP/1.1\r\nHost: mail.contoso.com\r\n\r\n");

    assertThat(response.nothing()).as("%s", response).isTrue();
  }

  @Test
  void abortedRequestDoesNotAffectTheNextConnection() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("M1", Mode.ENFORCE, Fixtures.m1())));

    Http.get(port(), Fixtures.PROXYNOTSHELL);
    Http.Response next = Http.get(port(), "/owa/");

    assertThat(next.status()).isEqualTo(200);
    assertThat(next.body()).isEqualTo("ok /owa/");
  }

  @Test
  void percentEncodedProxyNotShellRequestIsClosedToo() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("M1", Mode.ENFORCE, Fixtures.m1())));

    Http.Response response = Http.get(port(), "/autodiscover/autodiscover.json?@evil.com/%50owershell/");

    assertThat(response.nothing()).as("%s", response).isTrue();
    assertThat(app.requests).hasValue(0);
  }

  @Test
  void autodiscoverAndOwaRequestsPassUnderM1() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("M1", Mode.ENFORCE, Fixtures.m1())));

    Http.Response autodiscover = Http.get(port(), "/autodiscover/autodiscover.json?Email=user@contoso.com&Protocol=ActiveSync");
    Http.Response owa = Http.get(port(), "/owa/?ae=Folder&t=IPF.Note");

    assertThat(autodiscover.status()).isEqualTo(200);
    assertThat(autodiscover.body()).isEqualTo("ok /autodiscover/autodiscover.json");
    assertThat(owa.status()).isEqualTo(200);
    assertThat(filter.hits()).isEmpty();
  }

  @Test
  void customResponseRuleAnswersItsStatusAndDescription() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("T1", Mode.ENFORCE, Fixtures.json(Fixtures.CUSTOM_RESPONSE))));

    Http.Response blocked = Http.get(port(), "/secret/plans");
    Http.Response other = Http.get(port(), "/public");

    assertThat(blocked.status()).isEqualTo(403);
    assertThat(blocked.body()).isEqualTo("blocked by mitigation\n");
    assertThat(other.status()).isEqualTo(200);
    assertThat(app.requests).hasValue(1);
  }

  @Test
  void serverProtocolIsTheProtocolOfTheRequestLine() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("T4", Mode.ENFORCE, Fixtures.json(Fixtures.REFUSE_HTTP_1_0))));

    Http.Response http10 = Http.send(port(), "GET /owa/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    Http.Response http11 = Http.get(port(), "/owa/");

    assertThat(http10.status()).as("%s", http10).isEqualTo(426);
    assertThat(http10.body()).isEqualTo("HTTP/1.1 or later, please\n");
    assertThat(http11.status()).isEqualTo(200);
    assertThat(app.requests).hasValue(1);
  }

  @Test
  void redirectRuleAnswersWithLocation() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("T2", Mode.ENFORCE, Fixtures.json(Fixtures.REDIRECT))));

    Http.Response response = Http.get(port(), "/legacy/page?x=1");

    assertThat(response.status()).isEqualTo(302);
    assertThat(response.header("Location")).endsWith("/modern/page");
    assertThat(app.requests).hasValue(0);
  }

  @Test
  void rewriteRuleForwardsToTheNewTarget() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("T3", Mode.ENFORCE, Fixtures.json(Fixtures.REWRITE))));

    Http.Response response = Http.get(port(), "/old/thing");

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.body()).isEqualTo("ok /new/thing forwarded from /old/thing");
  }

  @Test
  void rewriteUnderAContextPathForwardsWithinTheApplication() throws Exception {
    RuleSet rules = Fixtures.json("""
        {"rules": [{"name": "in app", "match": {"url": "^app/old/(.*)"}, "action": {"type": "Rewrite", "url": "/app/new/{R:1}"}},
                   {"name": "out of app", "match": {"url": "^app/away$"}, "action": {"type": "Rewrite", "url": "/elsewhere"}}]}
        """);
    run(Fixtures.file(Fixtures.requestRules("T3", Mode.ENFORCE, rules)), TourniquetFilter::new, "/app");

    Http.Response inside = Http.get(port(), "/app/old/thing?q=1");
    Http.Response outside = Http.get(port(), "/app/away");

    assertThat(inside.status()).isEqualTo(200);
    assertThat(inside.body()).isEqualTo("ok /app/new/thing forwarded from /app/old/thing");
    assertThat(outside.status()).isEqualTo(500);
    assertThat(app.requests).hasValue(1);
  }

  @Test
  void disabledEndpointAnswers503OnItsPrefixOnly() throws Exception {
    run(Fixtures.file(Fixtures.disable("M3", Mode.ENFORCE, "/ecp", 503)));

    assertThat(Http.get(port(), "/ecp").status()).isEqualTo(503);
    assertThat(Http.get(port(), "/ECP/default.aspx").status()).isEqualTo(503);
    assertThat(Http.get(port(), "/%65cp/x").status()).isEqualTo(503);
    assertThat(Http.get(port(), "/ecpx").status()).isEqualTo(200);
    assertThat(Http.get(port(), "/owa/ecp").status()).isEqualTo(200);
    assertThat(Http.get(port(), "/ecp/x").body()).contains("disabled by an emergency mitigation");
    assertThat(app.requests).hasValue(2);
  }

  @Test
  void ambiguousPathIsRefusedRatherThanMatched() throws Exception {
    run(Fixtures.file(Fixtures.disable("M3", Mode.ENFORCE, "/ecp", 503)));

    // Whether the container or the filter refuses it first, it never reaches the application.
    assertThat(Http.get(port(), "/owa/..;/ecp/x").status()).isEqualTo(400);
    assertThat(Http.get(port(), "/owa/%2e%2e/ecp").status()).isEqualTo(400);
    assertThat(app.requests).hasValue(0);
  }

  @Test
  void ruleOnTheDecodedPathIsNotBypassedByASpellingTheContainerNormalises() throws Exception {
    RuleSet rules = Fixtures.json("""
        {"rules": [{"name": "block ecp", "match": {"url": "^ecp/"},
                    "action": {"type": "CustomResponse", "statusCode": 403, "statusDescription": "blocked"}},
                   {"name": "block x.js", "match": {"url": ".*"},
                    "conditions": {"items": [{"input": "{URL}", "pattern": "^/owa/auth/x\\\\.js$"}]},
                    "action": {"type": "CustomResponse", "statusCode": 403, "statusDescription": "blocked"}}]}
        """);
    run(Fixtures.file(Fixtures.requestRules("T5", Mode.ENFORCE, rules)));

    // Each of these is /ecp/x or /owa/auth/x.js to IIS's {URL} and to the container's mapping.
    List<String> spellings = List.of("/./ecp/x", "/a/../ecp/x", "//ecp/x", "/%2e/ecp/x", "/ecp;a=b/x",
        "/owa/x/..;/ecp/x", "/owa/auth/./x.js", "/owa/auth;x=y/x.js", "/owa/auth/x.js;x=y", "/owa//auth/x.js");
    for (String spelling : spellings) {
      assertThat(Http.get(port(), spelling).status()).as(spelling).isIn(400, 403);
    }
    Http.Response plain = Http.get(port(), "/owa/auth/y.js");

    assertThat(app.requests).as("requests that reached the application").hasValue(1);
    assertThat(plain.status()).isEqualTo(200);
  }

  @Test
  void authPolicyRefusesBasicWithout401Challenge() throws Exception {
    run(Fixtures.file(Fixtures.auth("M4", "/owa", true, false)));

    Http.Response basic = Http.get(port(), "/owa/", "Authorization: Basic dXNlcjpwYXNz");
    Http.Response bearer = Http.get(port(), "/owa/", "Authorization: Bearer abc");
    Http.Response anonymous = Http.get(port(), "/owa/");
    Http.Response elsewhere = Http.get(port(), "/ews/", "Authorization: basic dXNlcjpwYXNz");

    assertThat(basic.status()).isEqualTo(401);
    assertThat(basic.header("WWW-Authenticate")).isNull();
    assertThat(bearer.status()).isEqualTo(200);
    assertThat(anonymous.status()).isEqualTo(200);
    assertThat(elsewhere.status()).isEqualTo(200);
  }

  @Test
  void authPolicyRefusesAnonymousRequests() throws Exception {
    run(Fixtures.file(Fixtures.auth("M4", "/owa", false, true)));

    Http.Response anonymous = Http.get(port(), "/OWA/x");
    Http.Response basic = Http.get(port(), "/owa/x", "Authorization: Basic dXNlcjpwYXNz");

    assertThat(anonymous.status()).isEqualTo(401);
    assertThat(anonymous.header("WWW-Authenticate")).isNull();
    assertThat(basic.status()).isEqualTo(200);
  }

  @Test
  void auditModeCountsMatchesAndLetsThemThrough() throws Exception {
    run(Fixtures.file(
        Fixtures.requestRules("M1", Mode.AUDIT, Fixtures.m1()),
        Fixtures.disable("M3", Mode.AUDIT, "/ecp", 503)));

    Http.Response proxyNotShell = Http.get(port(), Fixtures.PROXYNOTSHELL);
    Http.Response again = Http.get(port(), Fixtures.PROXYNOTSHELL);
    Http.Response ecp = Http.get(port(), "/ecp/");
    Http.Response owa = Http.get(port(), "/owa/");
    filter.refresh();

    assertThat(List.of(proxyNotShell.status(), again.status(), ecp.status(), owa.status())).containsOnly(200);
    assertThat(filter.hits()).containsExactly(
        new RuleHit("M1", 1, Mode.AUDIT, Fixtures.M1_RULE, 2),
        new RuleHit("M3", 1, Mode.AUDIT, "disable-endpoint /ecp", 1));
    String written = Files.readString(filter.hitsFile(), StandardCharsets.UTF_8);
    assertThat(written).contains("\"format\": \"tourniquet-hits/1\"", "\"mitigation\": \"M1\"", "\"mode\": \"audit\"",
        "\"rule\": \"" + Fixtures.M1_RULE + "\"", "\"count\": 2");
  }

  @Test
  void watcherThreadWritesTheHitsFileByItself() throws Exception {
    run(Fixtures.file(Fixtures.disable("M3", Mode.AUDIT, "/ecp", 503)),
        f -> new TourniquetFilter(f, Duration.ofMillis(250), Duration.ofMillis(100), java.time.Clock.systemUTC()));

    Http.get(port(), "/ecp/");
    Poll.until(Duration.ofSeconds(2), "the hits file written", () -> Files.exists(filter.hitsFile()));

    assertThat(Files.readString(filter.hitsFile(), StandardCharsets.UTF_8))
        .contains("\"mitigation\": \"M3\"", "\"rule\": \"disable-endpoint /ecp\"", "\"count\": 1");
  }

  @Test
  void outboundCspRuleAddsTheDirectiveToOwaHtml() throws Exception {
    run(Fixtures.file(Fixtures.responseRules("M2", Mode.ENFORCE, Fixtures.csp())));

    Http.Response absent = Http.get(port(), "/owa/");
    Http.Response present = Http.get(port(), "/owa/?csp=default-src%20'self'");
    Http.Response elsewhere = Http.get(port(), "/ecp/");

    assertThat(absent.headers("Content-Security-Policy")).containsExactly("; script-src-attr 'none'");
    assertThat(present.headers("Content-Security-Policy")).containsExactly("default-src 'self'; script-src-attr 'none'");
    assertThat(elsewhere.header("Content-Security-Policy")).isNull();
    assertThat(absent.body()).isEqualTo("ok /owa/");
  }

  @Test
  void auditModeOutboundRuleCountsButLeavesTheHeadersAlone() throws Exception {
    run(Fixtures.file(Fixtures.responseRules("M2", Mode.AUDIT, Fixtures.csp())));

    Http.Response response = Http.get(port(), "/owa/");

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.header("Content-Security-Policy")).isNull();
    assertThat(filter.hits()).containsExactly(new RuleHit("M2", 1, Mode.AUDIT, "response-headers", 1));
  }

  @Test
  void mitigationsRunInIdOrderAndTheFirstThatStopsTheRequestAnswers() throws Exception {
    run(Fixtures.file(
        Fixtures.disable("B", Mode.ENFORCE, "/secret", 404),
        Fixtures.requestRules("A", Mode.ENFORCE, Fixtures.json(Fixtures.CUSTOM_RESPONSE)),
        Fixtures.disable("C", Mode.AUDIT, "/secret", 503)));

    Http.Response response = Http.get(port(), "/secret/x");

    assertThat(response.status()).isEqualTo(403);
    assertThat(filter.hits()).extracting(RuleHit::mitigation).containsExactly("A");
  }

  @Test
  void outboundRuleWithAnEmptyValueRemovesTheHeader() throws Exception {
    RuleSet rules = Fixtures.json("""
        {"outboundRules": [{"name": "hide stack", "match": {"serverVariable": "RESPONSE_X_Powered_By", "pattern": ".+"},
                            "action": {"type": "Rewrite", "value": ""}}]}
        """);
    run(Fixtures.file(Fixtures.responseRules("M5", Mode.ENFORCE, rules)));

    Http.Response response = Http.get(port(), "/owa/");

    assertThat(response.status()).isEqualTo(200);
    assertThat(response.header("X-Powered-By")).isNull();
    assertThat(response.body()).isEqualTo("ok /owa/");
  }

  @Test
  void requestWithTooManyHeaderFieldsIsRefusedWith431() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("M1", Mode.ENFORCE, Fixtures.m1())));
    String[] headers = new String[300];
    for (int i = 0; i < headers.length; i++) {
      headers[i] = "X-H" + i + ": v";
    }

    Http.Response response = Http.get(port(), "/owa/", headers);

    assertThat(response.status()).isEqualTo(431);
    assertThat(app.requests).hasValue(0);
  }

  @Test
  void reloadKeepsTheInFlightRequestOnItsSnapshotAndAppliesTheNewFileWithinASecond() throws Exception {
    run(Fixtures.file(Fixtures.responseRules("M2", Mode.ENFORCE, Fixtures.csp())));
    CompletableFuture<Http.Response> slow = CompletableFuture.supplyAsync(() -> {
      try {
        return Http.get(port(), "/owa/?slow=1");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    assertThat(app.slowEntered.await(10, TimeUnit.SECONDS)).as("the slow request reached the application").isTrue();

    Fixtures.file(Fixtures.disable("M3", Mode.ENFORCE, "/owa", 503)).write(file);
    Duration took = Poll.until(Duration.ofSeconds(1), "the new file enforced", () -> Http.get(port(), "/owa/").status() == 503);
    app.slowRelease.countDown();
    Http.Response inFlight = slow.get(10, TimeUnit.SECONDS);

    assertThat(took).isLessThan(Duration.ofSeconds(1));
    assertThat(inFlight.status()).isEqualTo(200);
    assertThat(inFlight.body()).isEqualTo("ok /owa/");
    assertThat(inFlight.headers("Content-Security-Policy")).as("the old snapshot's outbound rule").containsExactly("; script-src-attr 'none'");
    assertThat(filter.status().mitigations()).containsExactly("M3.1 enforce");
    assertThat(filter.status().loads()).isEqualTo(2);
  }

  @Test
  void concurrentRequestsDuringRepeatedReloadsAllGetAnAnswer() throws Exception {
    EnforcementFile open = Fixtures.file(Fixtures.responseRules("M2", Mode.ENFORCE, Fixtures.csp()));
    EnforcementFile closed = Fixtures.file(Fixtures.disable("M3", Mode.ENFORCE, "/owa", 503));
    run(open);
    java.util.concurrent.ExecutorService clients = java.util.concurrent.Executors.newFixedThreadPool(4);
    try {
      List<CompletableFuture<Integer>> statuses = new java.util.ArrayList<>();
      for (int i = 0; i < 200; i++) {
        statuses.add(CompletableFuture.supplyAsync(() -> {
          try {
            return Http.get(port(), "/owa/").status();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }, clients));
      }
      for (int round = 0; round < 6; round++) {
        (round % 2 == 0 ? closed : open).write(file);
        long expected = round + 2;
        Poll.until(Duration.ofSeconds(1), "reload " + expected, () -> filter.status().loads() >= expected);
      }

      assertThat(statuses).allSatisfy(f -> assertThat(f.get(10, TimeUnit.SECONDS)).isIn(200, 503));
    } finally {
      clients.shutdownNow();
    }
    assertThat(filter.status().lastError()).isEmpty();
  }

  @Test
  void brokenFileIsRejectedAndTheOldRulesStayInForce() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("M1", Mode.ENFORCE, Fixtures.m1())));

    Files.writeString(dir.resolve("broken.json"), "{\"format\": \"tourniquet-enforcement/1\", \"mitigations\": [");
    Files.move(dir.resolve("broken.json"), file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    Poll.until(Duration.ofSeconds(1), "the broken file rejected", () -> filter.status().lastError().isPresent());

    assertThat(filter.status().lastError().orElseThrow()).contains("not valid JSON");
    assertThat(filter.status().mitigations()).containsExactly("M1.1 enforce");
    assertThat(Http.get(port(), Fixtures.PROXYNOTSHELL).nothing()).isTrue();
    assertThat(Http.get(port(), "/owa/").status()).isEqualTo(200);
  }

  @Test
  void missingFileEnforcesNothingUntilItAppears() throws Exception {
    run(null);

    assertThat(filter.status().lastError()).hasValueSatisfying(e -> assertThat(e).contains("does not exist"));
    assertThat(Http.get(port(), Fixtures.PROXYNOTSHELL).status()).isEqualTo(200);

    Fixtures.file(Fixtures.requestRules("M1", Mode.ENFORCE, Fixtures.m1())).write(file);
    Poll.until(Duration.ofSeconds(1), "the new file enforced", () -> Http.get(port(), Fixtures.PROXYNOTSHELL).nothing());

    assertThat(filter.status().lastError()).isEmpty();
  }

  @Test
  void destroyedFilterStillEnforcesItsLastSnapshotAndWritesItsCounts() throws Exception {
    run(Fixtures.file(Fixtures.disable("M3", Mode.ENFORCE, "/ecp", 503)));
    Http.get(port(), "/ecp/");

    filter.destroy();

    assertThat(filter.hitsFile()).exists();
    assertThat(Http.get(port(), "/ecp/").status()).isEqualTo(503);
  }

  @Test
  void emptyFileStopsEnforcement() throws Exception {
    run(Fixtures.file(Fixtures.requestRules("M1", Mode.ENFORCE, Fixtures.m1())));

    Fixtures.file().write(file);
    Poll.until(Duration.ofSeconds(1), "the empty file loaded", () -> filter.status().loads() == 2);

    assertThat(Http.get(port(), Fixtures.PROXYNOTSHELL).status()).isEqualTo(200);
  }

}
