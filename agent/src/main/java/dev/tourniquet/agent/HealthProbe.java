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
 * A target's health probe: after a mitigation is applied and the target confirmed it live, GET {@code url}
 * must answer {@code status}, or the mitigation is rolled back and marked Failed with the probe's answer.
 * A service settling after the change (a restart of workers, a first slow request) gets {@code attempts}
 * tries, {@code settle} apart: the first right answer passes; the failure keeps the last wrong one.
 *
 * @param url the URL to GET
 * @param status the status it must answer
 * @param timeout how long to wait for each answer
 * @param attempts how many times to ask before the probe fails
 * @param settle the wait between attempts
 */
record HealthProbe(URI url, int status, Duration timeout, int attempts, Duration settle) {
  /** Attempts when the configuration names none. */
  static final int DEFAULT_ATTEMPTS = 3;
  /** The wait between attempts. */
  static final Duration SETTLE = Duration.ofSeconds(1);

  HealthProbe {
    Objects.requireNonNull(url, "url");
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(settle, "settle");
    if (attempts < 1) {
      throw new IllegalArgumentException("attempts: expected at least 1 but found " + attempts);
    }
  }

  /**
   * Probes up to {@code attempts} times, {@code settle} apart, until the answer is right.
   *
   * @return empty if healthy, else the last wrong answer and how many attempts were made
   */
  Optional<String> check() {
    Optional<String> problem = Optional.empty();
    for (int i = 1; i <= attempts; i++) {
      problem = checkOnce();
      if (problem.isEmpty()) {
        return problem;
      }
      if (i < attempts) {
        try {
          Thread.sleep(settle.toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    return problem;
  }

  /**
   * Probes once.
   *
   * @return empty if healthy, else what went wrong
   */
  Optional<String> checkOnce() {
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
