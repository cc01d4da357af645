package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Applicability;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.Version;
import dev.tourniquet.feed.mitigation.VersionRange;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Mitigation documents for tests, built from Microsoft's published rules in {@code /work/shared}. */
final class Mitigations {
  static final String EXCHANGE = "microsoft-exchange-server";
  /** A vulnerable Exchange 2019 CU12 build and the build that fixes it (M1's last range). */
  static final String VULNERABLE = "15.2.1118.7";
  static final String FIXED = "15.2.1118.20";
  static final String M1_RULE = "EEMS M1.1 PowerShell - inbound";
  /** The published ProxyNotShell request target. */
  static final String PROXYNOTSHELL =
      "/autodiscover/autodiscover.json?@evil.com/powershell/?&Email=autodiscover/autodiscover.json%3F@evil.com";

  private Mitigations() {}

  static Path shared() {
    return Path.of(System.getProperty("tourniquet.shared", "../../shared")).toAbsolutePath().normalize();
  }

  static String fixture(String name) {
    try {
      return Files.readString(shared().resolve("fixtures/microsoft").resolve(name), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** M1 as Microsoft's EEMS applies it: the fixture's rule, for Exchange 2019 CU12 before the fix. */
  static Mitigation m1(int revision) {
    return requestRules("M1", revision, EXCHANGE, Mitigation.Mode.ENFORCE, Optional.empty(),
        Action.RequestRules.ofXml(fixture("eems-m1.1-cve-2022-41040.xml")));
  }

  /** M1 as {@link #m1(int)}, with a description of its own (what a publisher changes in a new revision). */
  static Mitigation m1(int revision, String description) {
    Mitigation m = m1(revision);
    return new Mitigation(m.id(), m.revision(), m.title(), description, m.cves(), m.severity(), m.references(),
        m.applicability(), m.actions(), m.mode(), m.expires(), m.extensions());
  }

  /** A second request-rules mitigation (ProxyLogon's EOMT rule) for the same product and versions. */
  static Mitigation proxyLogon(String id, int revision) {
    return requestRules(id, revision, EXCHANGE, Mitigation.Mode.ENFORCE, Optional.empty(),
        Action.RequestRules.ofXml(fixture("eomt-cve-2021-26855-proxylogon.xml")));
  }

  static Mitigation requestRules(String id, int revision, String product, Mitigation.Mode mode,
      Optional<Instant> expires, Action action) {
    return new Mitigation(id, revision, "Test mitigation " + id, "A mitigation for the agent's tests.", List.of(),
        Mitigation.Severity.HIGH, List.of(),
        new Applicability(product, List.of(VersionRange.fixedIn(Version.parse("15.2.987"), Version.parse(FIXED)))),
        List.of(action), mode, expires, Map.of());
  }

  /** A mitigation only a service manager can enforce (no servlet target handles it). */
  static Mitigation disableService(String id) {
    return requestRules(id, 1, EXCHANGE, Mitigation.Mode.ENFORCE, Optional.empty(),
        new Action.DisableService("MSExchangeUM", Set.of(Action.DisableService.Manager.WINDOWS)));
  }
}
