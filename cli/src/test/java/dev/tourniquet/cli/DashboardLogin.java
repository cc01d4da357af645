package dev.tourniquet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Logging in to a running fleet server's dashboard, for the tests that start one. */
public final class DashboardLogin {
  private static final Pattern CSRF = Pattern.compile("name=\"csrf\" value=\"([^\"]+)\"");

  private DashboardLogin() {}

  /**
   * Logs in as a browser does: the login page sets a cookie whose token its form carries too (login CSRF),
   * then the form is sent with the user token.
   *
   * @return the answer to the login form
   */
  public static HttpResponse<String> logIn(HttpClient http, URI server, String token) throws Exception {
    HttpResponse<String> page = http.send(HttpRequest.newBuilder(server.resolve("/login")).build(),
        HttpResponse.BodyHandlers.ofString());
    String cookie = page.headers().firstValue("Set-Cookie").orElseThrow().split(";", 2)[0];
    Matcher csrf = CSRF.matcher(page.body());
    assertThat(csrf.find()).as(page.body()).isTrue();
    return http.send(HttpRequest.newBuilder(server.resolve("/login")).header("Cookie", cookie)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("csrf=" + csrf.group(1) + "&token="
            + URLEncoder.encode(token, StandardCharsets.UTF_8))).build(), HttpResponse.BodyHandlers.ofString());
  }
}
