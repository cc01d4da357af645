package dev.tourniquet.servlet;

import dev.tourniquet.rules.CompiledRules;
import dev.tourniquet.rules.Problem;
import dev.tourniquet.rules.RuleCompiler;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.RuleValidationException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * An enforcement file compiled for evaluation: immutable, shared by every request that starts while it is
 * current. The filter swaps a whole snapshot at once, so a request never sees half of one file and half of
 * another.
 *
 * @param file the file it was compiled from, or null for the empty snapshot enforced before any file loads
 * @param mitigations the compiled mitigations, sorted by id
 * @param usesPaths whether any mitigation has a path-prefix action, so request paths must be decoded
 * @param usesResponses whether any mitigation has response rules, so responses must be wrapped
 */
record Snapshot(EnforcementFile file, List<Compiled> mitigations, boolean usesPaths, boolean usesResponses) {
  static final Snapshot EMPTY = new Snapshot(null, List.of(), false, false);

  /**
   * One compiled mitigation.
   *
   * @param mitigation the mitigation
   * @param request its request rules, or null when it has none
   * @param response its response rules, or null when it has none
   */
  record Compiled(ActiveMitigation mitigation, CompiledRules request, CompiledRules response) {
    boolean enforce() {
      return mitigation.mode() == Mode.ENFORCE;
    }
  }

  /**
   * Compiles every rule set of a file.
   *
   * @throws EnforcementFileException naming each rule set that does not compile and why
   */
  static Snapshot compile(EnforcementFile file, String source) {
    List<String> problems = new ArrayList<>();
    List<Compiled> compiled = new ArrayList<>();
    boolean paths = false;
    boolean responses = false;
    for (int i = 0; i < file.mitigations().size(); i++) {
      ActiveMitigation m = file.mitigations().get(i);
      CompiledRules request = compile(m.requestRules(), source + ": mitigations[" + i + "] (" + m.id() + ").requestRules", problems);
      CompiledRules response = compile(m.responseRules(), source + ": mitigations[" + i + "] (" + m.id() + ").responseRules", problems);
      compiled.add(new Compiled(m, request, response));
      paths |= !m.disableEndpoints().isEmpty() || !m.authPolicies().isEmpty();
      responses |= response != null;
    }
    if (!problems.isEmpty()) {
      throw new EnforcementFileException(problems);
    }
    return new Snapshot(file, List.copyOf(compiled), paths, responses);
  }

  private static CompiledRules compile(RuleSet rules, String where, List<String> problems) {
    if (rules.equals(RuleSet.EMPTY)) {
      return null;
    }
    try {
      return RuleCompiler.compile(rules);
    } catch (RuleValidationException e) {
      for (Problem p : e.problems()) {
        problems.add(where + ": " + p);
      }
      return null;
    }
  }

  boolean isEmpty() {
    return mitigations.isEmpty();
  }

  Instant generated() {
    return file == null ? null : file.generated();
  }
}
