package dev.tourniquet.agent;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * A target's health probe: after a mitigation is applied, GET {@code url} must answer {@code status}, or
 * the mitigation is rolled back and marked Failed with the probe's answer.
 *
 * @param url the URL to GET
 * @param status the status it must answer
 * @param timeout how long to wait for the answer
 */
record HealthProbe(URI url, int status, Duration timeout) {
  HealthProbe {
    Objects.requireNonNull(url, "url");
    Objects.requireNonNull(timeout, "timeout");
  }

  /**
   * Probes once.
   *
   * @return empty if healthy, else what went wrong
   */
  Optional<String> check() {
    HttpClient client = HttpClient.newBuilder().connectTimeout(timeout)
        .followRedirects(HttpClient.Redirect.NEVER).proxy(HttpClient.Builder.NO_PROXY).build();
    HttpRequest request = HttpRequest.newBuilder(url).timeout(timeout).GET().build();
    try {
      HttpResponse<Void> response = client.send(request, HttpResponse.BodyHandlers.discarding());
      if (response.statusCode() != status) {
        return Optional.of("health probe " + url + " answered " + response.statusCode() + ", expected " + status);
      }
      return Optional.empty();
    } catch (IOException e) {
      return Optional.of("health probe " + url + " failed: " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.of("health probe " + url + " interrupted");
    }
  }
}
