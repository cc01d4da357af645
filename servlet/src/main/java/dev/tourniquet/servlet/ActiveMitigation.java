package dev.tourniquet.servlet;

import dev.tourniquet.rules.RuleSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One mitigation as the filter enforces it: the servlet-relevant actions of an applied mitigation, with
 * the mode the agent decided on. Absent rule sets are {@link RuleSet#EMPTY}.
 *
 * @param id the mitigation's id, such as {@code M1} or {@code TQ-2026-0001}
 * @param revision the revision, at least 1
 * @param mode enforce or audit
 * @param requestRules inbound rules only ({@code request-rules})
 * @param responseRules outbound rules and their preconditions only ({@code response-rules})
 * @param disableEndpoints the {@code disable-endpoint} actions
 * @param authPolicies the {@code auth-policy} actions
 */
public record ActiveMitigation(
    String id,
    int revision,
    Mode mode,
    RuleSet requestRules,
    RuleSet responseRules,
    List<DisabledEndpoint> disableEndpoints,
    List<AuthPolicy> authPolicies) {
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  /**
   * Creates a mitigation; the lists are copied.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the id is malformed, the revision below 1, the request rules hold
   *     outbound rules or the response rules hold inbound rules
   */
  public ActiveMitigation {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(requestRules, "requestRules");
    Objects.requireNonNull(responseRules, "responseRules");
    disableEndpoints = List.copyOf(disableEndpoints);
    authPolicies = List.copyOf(authPolicies);
    String problem = idProblem(id);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    if (revision < 1) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "expected a revision of at least 1 but found %d", revision));
    }
    if (!requestRules.outboundRules().isEmpty() || !requestRules.preConditions().isEmpty()) {
      throw new IllegalArgumentException("expected only inbound rules in requestRules but found "
          + requestRules.outboundRules().size() + " outbound rules and " + requestRules.preConditions().size() + " preconditions");
    }
    if (!responseRules.rules().isEmpty() || !responseRules.globalRules().isEmpty()) {
      throw new IllegalArgumentException("expected only outbound rules in responseRules but found "
          + (responseRules.rules().size() + responseRules.globalRules().size()) + " inbound rules");
    }
  }

  static String idProblem(String id) {
    return ID.matcher(id).matches() ? null
        : "expected an id of 1 to 64 letters, digits, '.', '_' or '-' starting with a letter or digit but found \"" + id + "\"";
  }

  /**
   * Returns the id and revision as the agent reports them.
   *
   * @return for example {@code M1.2}
   */
  public String appliedId() {
    return id + "." + revision;
  }
}
