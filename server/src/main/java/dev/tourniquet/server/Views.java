package dev.tourniquet.server;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** JSON shapes of the admin API's answers. */
final class Views {
  private Views() {}

  /** An object with its fields in the order given: key, value, key, value… */
  static Map<String, Object> obj(Object... keyValues) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) {
      out.put((String) keyValues[i], keyValues[i + 1]);
    }
    return out;
  }

  static String time(Optional<Instant> t) {
    return t.map(Instant::toString).orElse(null);
  }

  static Map<String, Object> org(Policies.OrgSettings org, java.util.Set<String> blocks, Map<String, String> modes) {
    Map<String, Object> rollout = new LinkedHashMap<>();
    rollout.put("enabled", org.rolloutEnabled());
    rollout.put("autoReleaseAfter", org.autoReleaseAfter().map(Object::toString).orElse(null));
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("mitigationsEnabled", org.mitigationsEnabled());
    out.put("blocked", List.copyOf(blocks));
    out.put("modes", modes);
    out.put("rollout", rollout);
    return out;
  }

  static Map<String, Object> server(Agents.Agent a, List<Agents.MitigationReport> rows, boolean stale) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("server", a.server());
    out.put("labels", a.labels());
    out.put("ring", a.ring().orElse(null));
    out.put("mitigationsEnabled", a.mitigationsEnabled());
    out.put("enrolledAt", a.enrolledAt().toString());
    out.put("lastSeen", time(a.lastSeen()));
    out.put("stale", stale);
    out.put("dataCollection", a.dataCollection().orElse(null));
    out.put("reportedAt", time(a.reportedAt()));
    out.put("agentVersion", a.agentVersion().orElse(null));
    out.put("productVersion", a.productVersion().orElse(null));
    out.put("lastCheck", time(a.lastCheck()));
    out.put("nextCheck", time(a.nextCheck()));
    out.put("feedHealth", a.feedHealth().orElse(null));
    Map<String, Integer> counts = new java.util.TreeMap<>();
    rows.forEach(m -> counts.merge(m.status(), 1, Integer::sum));
    out.put("statusCounts", counts);
    return out;
  }

  static Map<String, Object> mitigation(Agents.MitigationReport m) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("id", m.id());
    out.put("revision", m.revision());
    out.put("kind", m.kind());
    out.put("status", m.status());
    out.put("reason", m.reason());
    out.put("auditHits", m.auditHits());
    return out;
  }

  static Map<String, Object> rollout(Policies.Rollout r, Map<String, String> held, Map<String, Map<String, Integer>> progress,
      List<String> failures) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("id", r.id());
    out.put("revision", r.revision());
    out.put("feed", r.feed());
    out.put("firstSeen", r.firstSeen().toString());
    out.put("state", r.released() ? "released" : "canary");
    out.put("releasedAt", time(r.releasedAt()));
    out.put("releasedBy", r.releasedBy().orElse(null));
    out.put("held", held.get(r.id() + "." + r.revision()));
    out.put("progress", progress);
    out.put("failures", failures);
    return out;
  }

  static Map<String, Object> audit(AuditLog.Entry e) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("id", e.id());
    out.put("at", e.at().toString());
    out.put("actor", e.actor());
    out.put("action", e.action());
    out.put("target", e.target());
    out.put("detail", e.detail());
    return out;
  }
}
