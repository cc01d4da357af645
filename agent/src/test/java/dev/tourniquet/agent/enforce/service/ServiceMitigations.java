package dev.tourniquet.agent.enforce.service;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Action.DisableService;
import dev.tourniquet.feed.mitigation.Action.DisableService.Manager;
import dev.tourniquet.feed.mitigation.Applicability;
import dev.tourniquet.feed.mitigation.Mitigation;
import dev.tourniquet.feed.mitigation.Version;
import dev.tourniquet.feed.mitigation.VersionRange;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Mitigations for the service enforcer's tests. */
final class ServiceMitigations {
  private ServiceMitigations() {}

  /** A mitigation disabling services, each for the given managers. */
  static Mitigation mitigation(String id, List<Action> actions) {
    return new Mitigation(id, 1, "Test mitigation " + id, "A mitigation for the service enforcer's tests.", List.of(),
        Mitigation.Severity.HIGH, List.of(),
        new Applicability("acme", List.of(VersionRange.fixedIn(Version.parse("1.0"), Version.parse("2.0")))),
        actions, Mitigation.Mode.ENFORCE, Optional.empty(), Map.of());
  }

  static DisableService disable(String service, Manager first, Manager... more) {
    return new DisableService(service, EnumSet.of(first, more));
  }

  static ActiveMitigation enforce(String id, DisableService... actions) {
    return new ActiveMitigation(mitigation(id, List.of(actions)), false);
  }

  static ActiveMitigation audit(String id, DisableService... actions) {
    return new ActiveMitigation(mitigation(id, List.of(actions)), true);
  }

  /** A mitigation without any disable-service action. */
  static ActiveMitigation endpointOnly(String id) {
    return new ActiveMitigation(mitigation(id, List.of(new Action.DisableEndpoint("/ecp", 503, Optional.empty()))), false);
  }
}
