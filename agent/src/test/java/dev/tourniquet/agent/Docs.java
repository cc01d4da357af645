package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.MitigationParser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Mitigation documents for tests, built as JSON text and parsed by the real parser. */
final class Docs {
  static final String PRODUCT = "acme-portal";
  /** Aborts requests whose path contains /attack (an inbound rule of the IIS form). */
  static final String RULES = "<rewrite><rules><rule name=\\\"block attack\\\" stopProcessing=\\\"true\\\">"
      + "<match url=\\\"attack\\\" /><action type=\\\"CustomResponse\\\" statusCode=\\\"403\\\" /></rule></rules></rewrite>";

  private Docs() {}

  /** A document for {@link #PRODUCT}, affected from 1.0 until fixed in 2.0. */
  static String json(String id, int revision) {
    return json(id, revision, PRODUCT, "enforce", null);
  }

  static String json(String id, int revision, String product, String mode, String expires) {
    return "{\"schema\":\"tourniquet-mitigation/1\",\"id\":\"" + id + "\",\"revision\":" + revision
        + ",\"title\":\"test " + id + "\",\"description\":\"a test mitigation\",\"severity\":\"high\",\"cves\":[],"
        + "\"references\":[],\"applicability\":{\"product\":\"" + product + "\",\"versions\":[{\"from\":\"1.0\",\"fixed\":\"2.0\"}]},"
        + "\"mode\":\"" + mode + "\"," + (expires == null ? "" : "\"expires\":\"" + expires + "\",")
        + "\"actions\":[{\"kind\":\"request-rules\",\"rules\":\"" + RULES + "\"}]}";
  }

  static byte[] bytes(String json) {
    return json.getBytes(StandardCharsets.UTF_8);
  }

  static Mitigation parse(String json) {
    try {
      return MitigationParser.parse(bytes(json));
    } catch (Exception e) {
      throw new AssertionError("test document does not parse: " + e.getMessage() + "\n" + json, e);
    }
  }

  static Mitigation mitigation(String id, int revision) {
    return parse(json(id, revision));
  }

  /** M1 as published in examples/mitigations (Microsoft's EEMS M1.1 rule). */
  static byte[] exampleM1() throws Exception {
    return Files.readAllBytes(repoRoot().resolve("examples/mitigations/M1.json"));
  }

  static Path repoRoot() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null && !Files.isDirectory(p.resolve("examples/mitigations"))) {
      p = p.getParent();
    }
    if (p == null) {
      throw new AssertionError("cannot find the repository root from " + Path.of("").toAbsolutePath());
    }
    return p;
  }
}
