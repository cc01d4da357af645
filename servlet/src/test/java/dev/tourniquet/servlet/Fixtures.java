package dev.tourniquet.servlet;

import dev.tourniquet.rules.RuleJson;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.RuleXmlReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

/** Mitigations built from Microsoft's published rules, read in place from {@code ../shared}. */
final class Fixtures {
  static final String M1_RULE = "EEMS M1.1 PowerShell - inbound";
  /** The published ProxyNotShell request, as in the rules module's vectors. */
  static final String PROXYNOTSHELL = "/autodiscover/autodiscover.json?@evil.com/powershell/?&Email=autodiscover/autodiscover.json%3F@evil.com";

  private Fixtures() {}

  static Path repoRoot() {
    return Path.of(System.getProperty("tourniquet.repo.root", "..")).toAbsolutePath().normalize();
  }

  /** A Microsoft rule file, read as IIS XML and carried through the JSON form the agent writes. */
  static RuleSet microsoft(String name) throws IOException {
    Path path = repoRoot().resolve("../shared/fixtures/microsoft").resolve(name).normalize();
    RuleSet xml = RuleXmlReader.read(Files.readString(path, StandardCharsets.UTF_8), path.toString());
    return RuleJson.read(RuleJson.write(xml), name);
  }

  static RuleSet m1() throws IOException {
    return microsoft("eems-m1.1-cve-2022-41040.xml");
  }

  static RuleSet csp() throws IOException {
    return microsoft("eomt-cve-2026-42897-owa-csp-outbound.xml");
  }

  static RuleSet json(String json) {
    return RuleJson.read(json, "test rules");
  }

  static ActiveMitigation requestRules(String id, Mode mode, RuleSet rules) {
    return new ActiveMitigation(id, 1, mode, rules, RuleSet.EMPTY, List.of(), List.of());
  }

  static ActiveMitigation responseRules(String id, Mode mode, RuleSet rules) {
    return new ActiveMitigation(id, 1, mode, RuleSet.EMPTY, rules, List.of(), List.of());
  }

  static ActiveMitigation disable(String id, Mode mode, String prefix, int status) {
    return new ActiveMitigation(id, 1, mode, RuleSet.EMPTY, RuleSet.EMPTY, List.of(new DisabledEndpoint(PathPrefix.of(prefix), status)), List.of());
  }

  static ActiveMitigation auth(String id, String prefix, boolean refuseBasic, boolean refuseAnonymous) {
    return new ActiveMitigation(id, 1, Mode.ENFORCE, RuleSet.EMPTY, RuleSet.EMPTY, List.of(),
        List.of(new AuthPolicy(PathPrefix.of(prefix), refuseBasic, refuseAnonymous)));
  }

  static EnforcementFile file(ActiveMitigation... mitigations) {
    return new EnforcementFile(Instant.parse("2026-11-28T05:00:00Z"), List.of(mitigations));
  }

  static final String CUSTOM_RESPONSE = """
      {"rules": [{"name": "block secrets", "match": {"url": "^secret"},
                  "action": {"type": "CustomResponse", "statusCode": 403, "statusReason": "Forbidden",
                             "statusDescription": "blocked by mitigation"}}]}
      """;

  static final String REFUSE_HTTP_1_0 = """
      {"rules": [{"name": "refuse HTTP/1.0", "match": {"url": ".*"},
                  "conditions": {"items": [{"input": "{SERVER_PROTOCOL}", "pattern": "^HTTP/1\\\\.0$"}]},
                  "action": {"type": "CustomResponse", "statusCode": 426, "statusReason": "Upgrade Required",
                             "statusDescription": "HTTP/1.1 or later, please"}}]}
      """;

  static final String REDIRECT = """
      {"rules": [{"name": "move legacy", "match": {"url": "^legacy/(.*)"},
                  "action": {"type": "Redirect", "url": "/modern/{R:1}", "redirectType": "Found", "appendQueryString": false}}]}
      """;

  static final String REWRITE = """
      {"rules": [{"name": "send old to new", "match": {"url": "^old/(.*)"},
                  "action": {"type": "Rewrite", "url": "/new/{R:1}"}}]}
      """;
}
