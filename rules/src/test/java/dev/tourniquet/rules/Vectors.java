package dev.tourniquet.rules;

import dev.tourniquet.rules.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSONL vector files under {@code src/test/resources/vectors}: one request per line, the rule file
 * it runs against ({@code shared:NAME} for Microsoft's fixtures in {@code ../shared/fixtures/microsoft},
 * otherwise a file under {@code src/test/resources/rules}), and the expected decision.
 */
final class Vectors {
  private static final Map<String, CompiledRules> CACHE = new HashMap<>();

  private Vectors() {}

  /** One vector: the line's fields as parsed. */
  record Vector(String file, int line, String rules, String name, Map<String, Object> request, Map<String, Object> expect) {
    @Override
    public String toString() {
      return file + ":" + line + " " + name;
    }
  }

  static Path repoRoot() {
    return Path.of(System.getProperty("tourniquet.repo.root", "..")).toAbsolutePath().normalize();
  }

  static Path sharedFixture(String name) {
    return repoRoot().resolve("../shared/fixtures/microsoft").resolve(name).normalize();
  }

  static Path resource(String relative) {
    return repoRoot().resolve("rules/src/test/resources").resolve(relative);
  }

  @SuppressWarnings("unchecked")
  static List<Vector> load(String file) throws IOException, Json.SyntaxError {
    List<Vector> out = new ArrayList<>();
    List<String> lines = Files.readAllLines(resource("vectors/" + file), StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).isBlank()) {
        continue;
      }
      Map<String, Object> m = (Map<String, Object>) Json.parse(lines.get(i));
      out.add(new Vector(file, i + 1, (String) m.get("rules"), (String) m.get("name"),
          (Map<String, Object>) m.get("request"), (Map<String, Object>) m.get("expect")));
    }
    return out;
  }

  static synchronized CompiledRules rules(String name) throws IOException {
    CompiledRules cached = CACHE.get(name);
    if (cached == null) {
      Path path = name.startsWith("shared:") ? sharedFixture(name.substring(7)) : resource("rules/" + name);
      cached = RuleCompiler.compile(RuleSets.read(path, Limits.DEFAULTS));
      CACHE.put(name, cached);
    }
    return cached;
  }

  @SuppressWarnings("unchecked")
  static HttpRequest request(Map<String, Object> m) {
    List<Header> headers = headers((List<Object>) m.getOrDefault("headers", List.of()));
    boolean https = Boolean.TRUE.equals(m.get("https"));
    Object port = m.get("serverPort");
    return new HttpRequest((String) m.getOrDefault("method", "GET"), (String) m.get("target"),
        (String) m.getOrDefault("protocol", HttpRequest.HTTP_1_1), headers,
        (String) m.getOrDefault("remoteAddr", "127.0.0.1"), https, port == null ? (https ? 443 : 80) : ((Long) port).intValue());
  }

  @SuppressWarnings("unchecked")
  static HttpResponse response(Map<String, Object> m) {
    Map<String, Object> r = (Map<String, Object>) m.get("response");
    if (r == null) {
      return null;
    }
    return new HttpResponse(((Long) r.get("status")).intValue(), headers((List<Object>) r.get("headers")));
  }

  @SuppressWarnings("unchecked")
  static List<Header> headers(List<Object> pairs) {
    List<Header> out = new ArrayList<>();
    for (Object p : pairs) {
      List<Object> pair = (List<Object>) p;
      out.add(new Header((String) pair.get(0), (String) pair.get(1)));
    }
    return out;
  }

  /** The decision's fields, named as in the vector files and the command line's output. */
  static Map<String, Object> fields(Decision d) {
    Map<String, Object> m = new HashMap<>();
    m.put("decision", d.kind());
    if (d.rule() != null) {
      m.put("rule", d.rule());
    }
    if (d instanceof Decision.Respond r) {
      m.put("status", (long) r.status());
      m.put("reason", r.reason());
      m.put("description", r.description());
    } else if (d instanceof Decision.Redirect r) {
      m.put("status", (long) r.status());
      m.put("location", r.location());
    } else if (d instanceof Decision.Rewrite r) {
      m.put("rewrittenTarget", r.target());
    }
    return m;
  }
}
