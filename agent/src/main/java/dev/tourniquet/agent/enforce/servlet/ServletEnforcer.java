package dev.tourniquet.agent.enforce.servlet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.EnforcementException;
import dev.tourniquet.agent.enforce.Enforcer;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.servlet.AuthPolicy;
import dev.tourniquet.servlet.DisabledEndpoint;
import dev.tourniquet.servlet.EnforcementFile;
import dev.tourniquet.servlet.Mode;
import dev.tourniquet.servlet.PathPrefix;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Enforces mitigations in Java servlet containers through the enforcement file that
 * {@code dev.tourniquet.servlet.TourniquetFilter} hot-reloads (format in {@code docs/servlet.md}). Handles
 * {@code request-rules}, {@code response-rules}, {@code disable-endpoint} and {@code auth-policy}.
 *
 * <p>Converging writes the file atomically, and only when its content (apart from {@code generated})
 * differs, so converging twice on the same set does not make the filter reload. The previous file is the
 * snapshot: if the new one cannot be written it is still in place. Audit counters come from the filter's
 * {@code <file>.hits.json}.
 */
public final class ServletEnforcer implements Enforcer {
  private static final Set<String> KINDS = Set.of("request-rules", "response-rules", "disable-endpoint", "auth-policy");
  private static final int MAX_HITS_BYTES = 4 << 20;

  private final String target;
  private final Path file;
  private final Clock clock;

  /**
   * Creates an enforcer for one enforcement file.
   *
   * @param target the target's name from the configuration
   * @param file the enforcement file the filter reads
   * @param clock the clock for the file's {@code generated} time
   */
  public ServletEnforcer(String target, Path file, Clock clock) {
    this.target = Objects.requireNonNull(target, "target");
    this.file = Objects.requireNonNull(file, "file");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  @Override
  public String target() {
    return target;
  }

  /**
   * Returns the enforcement file this enforcer writes.
   *
   * @return the path
   */
  public Path file() {
    return file;
  }

  @Override
  public boolean handles(String kind) {
    return KINDS.contains(kind);
  }

  @Override
  public Optional<String> refusal(ActiveMitigation mitigation) {
    try {
      convert(mitigation);
      return Optional.empty();
    } catch (IllegalArgumentException e) {
      return Optional.of(mitigation.mitigation().appliedId() + ": the servlet filter cannot enforce it: " + e.getMessage());
    }
  }

  @Override
  public void converge(List<ActiveMitigation> active) throws EnforcementException {
    List<dev.tourniquet.servlet.ActiveMitigation> converted = new ArrayList<>();
    for (ActiveMitigation m : active) {
      if (m.mitigation().actions().stream().anyMatch(a -> handles(a.kind()))) {
        try {
          converted.add(convert(m));
        } catch (IllegalArgumentException e) {
          throw new EnforcementException(file + ": " + m.mitigation().appliedId() + " cannot be enforced: " + e.getMessage());
        }
      }
    }
    Optional<EnforcementFile> existing = readExisting();
    EnforcementFile next = new EnforcementFile(existing.map(EnforcementFile::generated).orElse(clock.instant()), converted);
    if (existing.isPresent() && existing.get().toJson().equals(next.toJson())) {
      return; // same content: no write, so the filter does not reload
    }
    try {
      new EnforcementFile(clock.instant(), converted).write(file);
    } catch (IOException | RuntimeException e) {
      // The write is atomic: the previous file is untouched.
      throw new EnforcementException(file + ": could not write the enforcement file: " + e.getMessage(), true, e);
    }
  }

  private Optional<EnforcementFile> readExisting() {
    try {
      return Optional.of(EnforcementFile.read(file));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException | RuntimeException e) {
      // Unreadable or invalid: rewrite it from the agent's state.
      return Optional.empty();
    }
  }

  @Override
  public Map<String, Map<String, Long>> auditHits() {
    Path hits = file.resolveSibling(file.getFileName() + ".hits.json");
    Map<String, Map<String, Long>> out = new TreeMap<>();
    try (InputStream in = Files.newInputStream(hits)) {
      byte[] bytes = in.readNBytes(MAX_HITS_BYTES + 1);
      if (bytes.length > MAX_HITS_BYTES) {
        return Map.of();
      }
      JsonNode root = new ObjectMapper().readTree(bytes);
      if (root == null || !"tourniquet-hits/1".equals(root.path("format").asText())) {
        return Map.of();
      }
      for (JsonNode hit : root.path("hits")) {
        out.computeIfAbsent(hit.path("mitigation").asText(), k -> new TreeMap<>())
            .merge(hit.path("rule").asText(), hit.path("count").asLong(), Long::sum);
      }
      return out;
    } catch (IOException e) {
      return Map.of();
    }
  }

  /** Converts the servlet-relevant actions of a mitigation; throws IllegalArgumentException if it cannot. */
  static dev.tourniquet.servlet.ActiveMitigation convert(ActiveMitigation active) {
    Mitigation m = active.mitigation();
    RuleSet request = RuleSet.EMPTY;
    RuleSet response = RuleSet.EMPTY;
    List<DisabledEndpoint> endpoints = new ArrayList<>();
    List<AuthPolicy> policies = new ArrayList<>();
    for (Action action : m.actions()) {
      if (action instanceof Action.RequestRules r) {
        request = r.rules();
      } else if (action instanceof Action.ResponseRules r) {
        response = r.rules();
      } else if (action instanceof Action.DisableEndpoint d) {
        endpoints.add(new DisabledEndpoint(PathPrefix.of(d.path()), d.status()));
      } else if (action instanceof Action.AuthPolicy p) {
        policies.add(new AuthPolicy(PathPrefix.of(p.path()), p.refuse().contains(Action.AuthPolicy.Refusal.BASIC),
            p.refuse().contains(Action.AuthPolicy.Refusal.ANONYMOUS)));
      }
    }
    return new dev.tourniquet.servlet.ActiveMitigation(m.id(), m.revision(), active.audit() ? Mode.AUDIT : Mode.ENFORCE,
        request, response, endpoints, policies);
  }
}
