package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Version;
import java.util.Objects;
import java.util.Optional;

/**
 * What the agent knows about the server it protects.
 *
 * @param product the configured product name, compared with a mitigation's product case-insensitively
 * @param version the installed version, or empty if it could not be learned
 * @param versionProblem why the version is unknown; empty when it is known
 */
record HostFacts(String product, Optional<Version> version, String versionProblem) {
  HostFacts {
    Objects.requireNonNull(product, "product");
    Objects.requireNonNull(version, "version");
    Objects.requireNonNull(versionProblem, "versionProblem");
  }

  static HostFacts of(String product, Version version) {
    return new HostFacts(product, Optional.of(version), "");
  }
}
