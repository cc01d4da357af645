package dev.tourniquet.feed.mitigation;

import dev.tourniquet.rules.RuleCompiler;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.RuleValidationException;
import dev.tourniquet.rules.RuleXmlReader;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * One thing a mitigation does, carried out by the agent's enforcer for its kind. Each kind is a record
 * whose constructor enforces the document's rules, so an action built in code is as valid as a parsed
 * one; {@link #kind()} is the value of the document's {@code "kind"} field.
 */
public sealed interface Action
    permits Action.RequestRules, Action.ResponseRules, Action.DisableService, Action.DisableEndpoint,
        Action.AuthPolicy {

  /**
   * Returns the kind as the document writes it, e.g. {@code request-rules}.
   *
   * @return the kind
   */
  String kind();

  /**
   * Filter inbound requests with HTTP rules (IIS URL Rewrite inbound rules): block, abort, answer,
   * redirect or rewrite the requests they match. The rule set has inbound rules only and compiles under
   * {@link RuleCompiler} (linear-time patterns).
   *
   * @param rules the rule set
   * @param xml the IIS XML text the rules were read from, kept verbatim for the record and written back
   *     as it was; empty when the rules are in the native JSON form
   */
  record RequestRules(RuleSet rules, Optional<String> xml) implements Action {
    /**
     * Validates the rules.
     *
     * @throws IllegalArgumentException if the XML text does not read as these rules, or the rule set has
     *     outbound rules or no inbound rule
     * @throws RuleValidationException if the rules do not compile, naming every problem
     */
    public RequestRules {
      checkRules(rules, xml, true);
    }

    /**
     * Reads rules from IIS XML text (a {@code <rewrite>} element or a whole web.config).
     *
     * @param xml the XML text
     * @return the action
     * @throws RuleValidationException if the XML does not read or the rules do not compile
     * @throws IllegalArgumentException if the rule set has outbound rules or no inbound rule
     */
    public static RequestRules ofXml(String xml) {
      return new RequestRules(RuleXmlReader.read(xml, "xml"), Optional.of(xml));
    }

    @Override
    public String kind() {
      return "request-rules";
    }
  }

  /**
   * Rewrite response headers with HTTP rules (IIS URL Rewrite outbound rules), such as appending a
   * Content-Security-Policy directive. The rule set has outbound rules (and their preconditions) only and
   * compiles under {@link RuleCompiler}.
   *
   * @param rules the rule set
   * @param xml the IIS XML text the rules were read from, kept verbatim; empty for the JSON form
   */
  record ResponseRules(RuleSet rules, Optional<String> xml) implements Action {
    /**
     * Validates the rules.
     *
     * @throws IllegalArgumentException if the XML text does not read as these rules, or the rule set has
     *     inbound rules or no outbound rule
     * @throws RuleValidationException if the rules do not compile, naming every problem
     */
    public ResponseRules {
      checkRules(rules, xml, false);
    }

    /**
     * Reads rules from IIS XML text (a {@code <rewrite>} element or a whole web.config).
     *
     * @param xml the XML text
     * @return the action
     * @throws RuleValidationException if the XML does not read or the rules do not compile
     * @throws IllegalArgumentException if the rule set has inbound rules or no outbound rule
     */
    public static ResponseRules ofXml(String xml) {
      return new ResponseRules(RuleXmlReader.read(xml, "xml"), Optional.of(xml));
    }

    @Override
    public String kind() {
      return "response-rules";
    }
  }

  /**
   * Stop a service and disable its start, through each listed service manager that the server runs; the
   * enforcer restores both on removal. EEMS parity: Microsoft's 2021 mitigation for CVE-2021-26857 stopped
   * and disabled {@code MSExchangeUM} and {@code MSExchangeUMCR}.
   *
   * @param service the service name as its manager knows it ({@code MSExchangeUM}, {@code nginx.service},
   *     a supervisord program name)
   * @param managers the managers this name is meant for, at least one
   */
  record DisableService(String service, Set<Manager> managers) implements Action {
    /**
     * Validates the service name and managers.
     *
     * @throws IllegalArgumentException if the name is malformed or no manager is listed
     */
    public DisableService {
      Objects.requireNonNull(service, "service");
      Fields.require("service", Fields.service(service));
      managers = enumSet(Manager.class, managers, "managers", "service manager");
    }

    @Override
    public String kind() {
      return "disable-service";
    }

    /** A service manager. */
    public enum Manager {
      /** systemd units ({@code systemctl mask --now}: stopped, and no start request can start them). */
      SYSTEMD,
      /** The Windows service control manager (stop, start type Disabled). */
      WINDOWS,
      /** supervisord programs ({@code supervisorctl stop}; stopped again at each check if supervisord restarts them). */
      SUPERVISORD;

      /**
       * Returns the name the document uses.
       *
       * @return e.g. {@code systemd}
       */
      public String jsonName() {
        return name().toLowerCase(Locale.ROOT);
      }
    }
  }

  /**
   * Answer every request under a path prefix with an error status instead of serving it, the portable
   * form of stopping an IIS application pool (whose side effect is exactly that: HTTP 503). A prefix covers
   * whole segments, case-insensitively: {@code /ecp} covers {@code /ecp}, {@code /ECP/} and
   * {@code /ecp/default.aspx}, not {@code /ecpx}.
   *
   * @param path the path prefix, e.g. {@code /ecp}
   * @param status the status answered, 400 to 599; the document's default is 503
   * @param appPool the IIS application pool that serves the path, as Microsoft's mitigations name it (they stop the
   *     pool): validated and kept for the record; no current enforcer acts on it
   */
  record DisableEndpoint(String path, int status, Optional<String> appPool) implements Action {
    /** The status when the document names none: 503 Service Unavailable. */
    public static final int DEFAULT_STATUS = 503;

    /**
     * Validates the fields.
     *
     * @throws IllegalArgumentException if the path, status or application pool name is malformed
     */
    public DisableEndpoint {
      Objects.requireNonNull(path, "path");
      Objects.requireNonNull(appPool, "appPool");
      Fields.require("path", Fields.path(path));
      Fields.require("status", Fields.status(status));
      appPool.ifPresent(p -> Fields.require("appPool", Fields.appPool(p)));
    }

    @Override
    public String kind() {
      return "disable-endpoint";
    }
  }

  /**
   * Change authentication on a path prefix (whole segments, case-insensitively): refuse requests that use
   * HTTP Basic authentication, or that carry no credentials at all, with 401.
   *
   * @param path the path prefix, e.g. {@code /ews}
   * @param refuse what to refuse, at least one
   */
  record AuthPolicy(String path, Set<Refusal> refuse) implements Action {
    /**
     * Validates the fields.
     *
     * @throws IllegalArgumentException if the path is malformed or nothing is refused
     */
    public AuthPolicy {
      Objects.requireNonNull(path, "path");
      Fields.require("path", Fields.path(path));
      refuse = enumSet(Refusal.class, refuse, "refuse", "refusal");
    }

    @Override
    public String kind() {
      return "auth-policy";
    }

    /** What an auth policy refuses. */
    public enum Refusal {
      /** Requests with {@code Authorization: Basic …} (credentials in the clear, replayable). */
      BASIC,
      /** Requests without an {@code Authorization} header: anonymous access. */
      ANONYMOUS;

      /**
       * Returns the name the document uses.
       *
       * @return e.g. {@code basic}
       */
      public String jsonName() {
        return name().toLowerCase(Locale.ROOT);
      }
    }
  }

  /** An unmodifiable set in declaration order, refusing an empty one. */
  private static <E extends Enum<E>> Set<E> enumSet(Class<E> type, Collection<E> values, String field, String what) {
    Objects.requireNonNull(values, field);
    if (values.isEmpty()) {
      throw new IllegalArgumentException(field + ": expected at least one " + what + " but found none");
    }
    EnumSet<E> set = EnumSet.noneOf(type);
    for (E value : values) {
      set.add(Objects.requireNonNull(value, field));
    }
    return Collections.unmodifiableSet(set);
  }

  /** Returns why a rule set does not belong in a request-rules ({@code inbound}) or response-rules action. */
  static String directionProblem(RuleSet rules, boolean inbound) {
    int in = rules.rules().size() + rules.globalRules().size();
    int out = rules.outboundRules().size();
    if (inbound) {
      if (out > 0 || !rules.preConditions().isEmpty()) {
        return String.format(Locale.ROOT, "expected inbound rules only but found %d outbound rule%s and %d"
            + " precondition%s; put them in a response-rules action", out, out == 1 ? "" : "s",
            rules.preConditions().size(), rules.preConditions().size() == 1 ? "" : "s");
      }
      if (in == 0) {
        return "expected at least one inbound rule but found none";
      }
    } else {
      if (in > 0) {
        return String.format(Locale.ROOT, "expected outbound rules only but found %d inbound rule%s; put them in"
            + " a request-rules action", in, in == 1 ? "" : "s");
      }
      if (out == 0) {
        return "expected at least one outbound rule but found none";
      }
    }
    return null;
  }

  private static void checkRules(RuleSet rules, Optional<String> xml, boolean inbound) {
    Objects.requireNonNull(rules, "rules");
    Objects.requireNonNull(xml, "xml");
    if (xml.isPresent() && !RuleXmlReader.read(xml.get(), "xml").equals(rules)) {
      throw new IllegalArgumentException("xml: expected the text of these rules but found text of other rules");
    }
    Fields.require("rules", directionProblem(rules, inbound));
    RuleCompiler.compile(rules);
  }
}
