package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTPS from a PKCS#12 keystore made by the JDK's keytool (clients trust only that certificate), and the
 * session cookie's {@code Secure} attribute with and without TLS.
 */
class TlsTest {
  @TempDir
  Path dir;

  @Test
  void serverServesHttpsFromAPkcs12KeystoreAndSetsSecureCookies() throws Exception {
    Path keystore = dir.resolve("server.p12");
    Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
        "-genkeypair", "-alias", "fleet", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=localhost",
        "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-storetype", "PKCS12", "-keystore",
        keystore.toString(), "-storepass", "changeit").redirectErrorStream(true).start();
    assertThat(keytool.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(keytool.exitValue()).as(new String(keytool.getInputStream().readAllBytes())).isZero();

    try (Fixture fleet = new Fixture(dir, Backend.h2(), b -> b.tls(keystore, "changeit".toCharArray()))) {
      assertThat(fleet.server.uri().getScheme()).isEqualTo("https");
      KeyStore trust = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(keystore)) {
        trust.load(in, "changeit".toCharArray());
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ssl = SSLContext.getInstance("TLS");
      ssl.init(null, tmf.getTrustManagers(), null);
      HttpClient trusting = HttpClient.newBuilder().sslContext(ssl).build();

      HttpResponse<String> policy = trusting.send(HttpRequest.newBuilder(fleet.uri("/api/v1/admin/whoami"))
          .header("Authorization", "Bearer " + fleet.adminToken).build(), HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> login = Fixture.logIn(trusting, fleet.server.uri(), fleet.adminToken);

      assertThat(policy.statusCode()).isEqualTo(200);
      assertThat(login.headers().firstValue("Set-Cookie")).hasValueSatisfying(c -> assertThat(c)
          .startsWith("__Host-tq_session=").contains("; Path=/;").contains("HttpOnly").contains("SameSite=Strict")
          .contains("Secure").doesNotContain("Domain"));
      assertThat(loginCookie(trusting, fleet)).startsWith("__Host-tq_login=").contains("; Path=/;").contains("HttpOnly")
          .contains("SameSite=Strict").endsWith("; Secure").doesNotContain("Domain");
      // The session works with the prefixed cookie, and one without the prefix (planted over plain HTTP, or
      // from before) is not taken.
      String session = fleet.session(trusting, fleet.adminToken);
      assertThat(session).startsWith("__Host-tq_session=");
      assertThat(trusting.send(HttpRequest.newBuilder(fleet.uri("/dashboard")).header("Cookie", session).build(),
          HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
      HttpResponse<String> unprefixed = trusting.send(HttpRequest.newBuilder(fleet.uri("/dashboard"))
          .header("Cookie", session.substring("__Host-".length())).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(unprefixed.statusCode()).isNotEqualTo(200);
      try {
        fleet.http.send(HttpRequest.newBuilder(fleet.uri("/healthz")).build(), HttpResponse.BodyHandlers.ofString());
        throw new AssertionError("a client that does not trust the certificate must fail the handshake");
      } catch (SSLHandshakeException expected) {
        assertThat(expected).hasMessageContaining("PKIX");
      }
    }
  }

  @Test
  void behindAnHttpsProxyThePlainHttpServerMarksTheSessionCookieSecure() throws Exception {
    try (Fixture fleet = new Fixture(dir, Backend.h2(), b -> b.behindHttpsProxy())) {
      assertThat(fleet.server.uri().getScheme()).isEqualTo("http");
      assertThat(logInOverHttp(fleet)).startsWith("__Host-tq_session=").contains("HttpOnly").contains("SameSite=Strict")
          .contains("; Secure");
      assertThat(loginCookie(fleet.http, fleet)).startsWith("__Host-tq_login=").contains("; Path=/;")
          .contains("HttpOnly").contains("SameSite=Strict").endsWith("; Secure");
    }
  }

  @Test
  void withSecureCookiesTheDashboardsChallengeNamesThePrefixedSessionCookie() throws Exception {
    try (Fixture fleet = new Fixture(dir, Backend.h2(), b -> b.behindHttpsProxy())) {
      HttpResponse<String> live = fleet.http.send(HttpRequest.newBuilder(fleet.uri("/dashboard/live")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(live.statusCode()).isEqualTo(401);
      assertThat(live.headers().allValues("WWW-Authenticate")).containsExactly("Cookie realm=\"tourniquet\","
          + " form-action=\"/login\", cookie-name=__Host-tq_session");
    }
  }

  @Test
  void withoutTlsOrAProxyTheSessionCookieIsNotMarkedSecure() throws Exception {
    // A browser would never send a Secure cookie back over the plain connection, so login would loop.
    try (Fixture fleet = new Fixture(dir, Backend.h2())) {
      // Nor prefixed: browsers refuse a __Host- cookie that is not Secure.
      assertThat(logInOverHttp(fleet)).startsWith("tq_session=").contains("HttpOnly").doesNotContain("Secure");
      assertThat(loginCookie(fleet.http, fleet)).startsWith("tq_login=").contains("HttpOnly").doesNotContain("Secure");
    }
  }

  private static String logInOverHttp(Fixture fleet) throws Exception {
    HttpResponse<String> login = Fixture.logIn(fleet.http, fleet.server.uri(), fleet.adminToken);
    assertThat(login.statusCode()).isEqualTo(303);
    return login.headers().firstValue("Set-Cookie").orElseThrow();
  }

  /** The login page's cookie, which carries the login form's CSRF token: marked Secure exactly as the session's. */
  private static String loginCookie(HttpClient http, Fixture fleet) throws Exception {
    HttpResponse<String> page = http.send(HttpRequest.newBuilder(fleet.uri("/login")).build(),
        HttpResponse.BodyHandlers.ofString());
    return page.headers().firstValue("Set-Cookie").orElseThrow();
  }
}
