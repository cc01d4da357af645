package dev.tourniquet.agent.enforce.service;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import dev.tourniquet.agent.enforce.EnforcementException;
import dev.tourniquet.agent.enforce.Enforcer;
import dev.tourniquet.feed.mitigation.Action;
import dev.tourniquet.feed.mitigation.Action.DisableService;
import dev.tourniquet.feed.mitigation.Action.DisableService.Manager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Enforces {@code disable-service} actions through one service manager: stops each named service and keeps
 * it from starting, and on removal puts back exactly the state it found.
 *
 * <p><b>Which actions.</b> A disable-service action lists the managers its service name is meant for; this
 * target takes the actions that list its manager's {@linkplain ServiceManager#kind kind} and leaves the
 * others alone. {@link #refusal} refuses a mitigation whose disable-service actions all name other
 * managers, or name a service this manager does not know: both mean the mitigation was not written for
 * this host, and saying so beats reporting it applied.
 *
 * <p><b>One record per service, whatever its name.</b> A service can have several names ({@code web},
 * {@code web:} and {@code web:web} in supervisord; a systemd unit and its aliases), and two mitigations may
 * name it differently. So every name is {@linkplain ServiceManager#resolve resolved} by the manager to the
 * service's identity before anything is recorded or done, and records are kept by identity: otherwise the
 * second name would record the service as the first mitigation left it (stopped), and removing the first
 * mitigation would start it while the second still wants it stopped. A name the manager does not know is
 * kept as it is written (its address), and fails as it always did. Record files of earlier versions, kept by
 * name, are {@linkplain #load keyed by identity} when read.
 *
 * <p><b>Records, before anything changes.</b> For every service it disables, the enforcer records the
 * state it found and which mitigations want it disabled, in {@code <stateDir>/services/<target>.json}
 * (see {@link ServiceRecords}), written atomically <em>before</em> the service is touched. So an agent
 * killed between recording and disabling finds the record on restart and finishes the job, and one killed
 * after disabling still knows what to restore. A record outlives every mitigation but the last: two
 * mitigations disabling the same service restore it only when both are gone. The previous state is the
 * one found by the first mitigation, never overwritten by a later one (which would find it disabled).
 *
 * <p><b>Converge re-checks reality.</b> Every converge asks the manager about every wanted service, even
 * those its records say are disabled, and disables again whatever someone (or a supervisord restart)
 * started. The answer that {@linkplain ServiceManager#resolve resolves} a name carries each service's state,
 * and is used as long as this converge has changed nothing yet; after a change (a restore, a disable, which
 * can start or stop other services), the next service is queried afresh. A name two mitigations write alike
 * is asked about once. So with nothing to change, a converge issues one resolve per name and nothing else
 * (systemd, supervisord: one command each; Windows: two).
 *
 * <p><b>Failure.</b> The steps of one converge are undone in reverse order if a later one fails: services
 * disabled by this call are restored, services restored by this call are disabled again, and the records
 * are put back as they were; the {@link EnforcementException} says whether that worked.
 *
 * <p><b>Audit mode.</b> Disabling a service has nothing to count, so a mitigation in audit mode changes
 * nothing here; the enforcer logs that it would have disabled the service, and the agent reports the
 * mitigation in audit mode. Switching a mitigation from enforce to audit restores its services like a
 * removal.
 */
public final class ServiceEnforcer implements Enforcer {
  private static final Logger LOG = LoggerFactory.getLogger(ServiceEnforcer.class);
  /** Target names become file names: letters, digits, '.', '_' and '-', starting with a letter or digit. */
  private static final Pattern TARGET = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  private static final String KIND = "disable-service";

  private final String target;
  private final ServiceManager manager;
  private final ServiceRecords records;

  /**
   * Creates the enforcer for one target.
   *
   * @param target the target's name from the agent's configuration, e.g. {@code exchange-services}
   * @param manager the service manager it drives
   * @param stateDir the target's own state directory ({@code <agent stateDir>/targets/<target>}); the records go
   *     in its {@code services} subdirectory
   * @throws IllegalArgumentException if the target name is not 1 to 64 of {@code [A-Za-z0-9._-]} starting
   *     with a letter or digit (it names the record file)
   */
  public ServiceEnforcer(String target, ServiceManager manager, Path stateDir) {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(stateDir, "stateDir");
    if (!TARGET.matcher(target).matches() || target.contains("..")) {
      throw new IllegalArgumentException("target: expected 1 to 64 letters, digits, '.', '_' or '-', starting with a"
          + " letter or digit and without '..', but found \"" + target + "\"");
    }
    this.target = target;
    this.manager = Objects.requireNonNull(manager, "manager");
    this.records = new ServiceRecords(stateDir.resolve("services").resolve(target + ".json"), target, manager.kind());
  }

  @Override
  public String target() {
    return target;
  }

  @Override
  public boolean handles(String kind) {
    return KIND.equals(kind);
  }

  @Override
  public Optional<String> refusal(ActiveMitigation mitigation) {
    List<DisableService> all = disableServices(mitigation);
    if (all.isEmpty()) {
      return Optional.empty();
    }
    List<DisableService> mine = all.stream().filter(a -> a.managers().contains(manager.kind())).toList();
    if (mine.isEmpty()) {
      return Optional.of(String.format(Locale.ROOT,
          "disable-service: every action names other service managers (%s), and target %s runs %s",
          all.stream().map(a -> a.service() + " for " + a.managers().stream().map(Manager::jsonName)
              .collect(Collectors.joining(", "))).collect(Collectors.joining("; ")),
          target, manager.kind().jsonName()));
    }
    for (DisableService action : mine) {
      String address;
      try {
        address = manager.address(action.service());
      } catch (IllegalArgumentException e) {
        return Optional.of("disable-service " + action.service() + ": " + e.getMessage());
      }
      try {
        if (manager.resolve(action.service()).isEmpty()) {
          return Optional.of(String.format(Locale.ROOT, "disable-service %s: expected a service %s on %s but found none",
              action.service(), address, manager));
        }
      } catch (ServiceManagerException e) {
        return Optional.of("disable-service " + action.service() + ": could not query " + manager + ": " + e.getMessage());
      }
    }
    return Optional.empty();
  }

  @Override
  public void converge(List<ActiveMitigation> active) throws EnforcementException {
    Map<String, ServiceRecords.Entry> before;
    try {
      before = load();
    } catch (IOException e) {
      throw new EnforcementException(target + ": " + e.getMessage(), true, e);
    } catch (ServiceManagerException e) {
      throw new EnforcementException(target + ": " + records.file() + ": records of an earlier version, kept by name:"
          + " could not ask " + manager + " which service each name is, so nothing was changed: " + e.getMessage(), true, e);
    }
    Map<String, ServiceState> found = new HashMap<>();
    Map<String, SortedSet<String>> wanted = wanted(active, before, found);
    Map<String, ServiceRecords.Entry> current = new TreeMap<>(before);
    Deque<Undo> undo = new ArrayDeque<>();
    try {
      release(wanted, current, undo);
      hold(wanted, found, current, undo);
    } catch (ServiceManagerException | IOException e) {
      throw rollBack(e, before, current, undo);
    }
  }

  /**
   * Reads the records. A file of an earlier version, kept by the name each mitigation wrote, is keyed by
   * identity and written back in the current format before anything else happens, so the file is never
   * half of each. Records that turn out to be of one service are merged: the mitigations of all of them,
   * and as the previous state the one that is not the disabled state, if any is: only the first of them
   * can have found the service before a mitigation disabled it; the others found it disabled by that one.
   */
  private Map<String, ServiceRecords.Entry> load() throws IOException, ServiceManagerException {
    ServiceRecords.Stored stored = records.read();
    if (!stored.keyedByName()) {
      return new TreeMap<>(stored.entries());
    }
    Map<String, List<ServiceRecords.Entry>> byIdentity = new TreeMap<>();
    for (Map.Entry<String, ServiceRecords.Entry> record : stored.entries().entrySet()) {
      for (Map.Entry<String, ServiceState> one : manager.identitiesOfRecord(record.getKey(), record.getValue().previous())
          .entrySet()) {
        byIdentity.computeIfAbsent(one.getKey(), k -> new ArrayList<>())
            .add(new ServiceRecords.Entry(one.getValue(), record.getValue().mitigations()));
      }
    }
    Map<String, ServiceRecords.Entry> migrated = new TreeMap<>();
    byIdentity.forEach((identity, entries) -> {
      SortedSet<String> mitigations = new TreeSet<>();
      entries.forEach(e -> mitigations.addAll(e.mitigations()));
      List<ServiceState> found = entries.stream().map(ServiceRecords.Entry::previous).distinct().toList();
      List<ServiceState> notDisabled = found.stream().filter(state -> !manager.isDisabled(state)).toList();
      ServiceState previous = notDisabled.isEmpty() ? found.get(0) : notDisabled.get(0);
      if (notDisabled.size() > 1) {
        LOG.warn("{}: {} was recorded by an earlier version under several names with the states {}; restoring it to {}",
            target, identity, notDisabled, previous);
      }
      migrated.put(identity, new ServiceRecords.Entry(previous, mitigations));
    });
    records.write(migrated);
    LOG.info("{}: records of an earlier version, kept by name ({}), are now kept by service ({})", target,
        stored.entries().keySet(), migrated.keySet());
    return migrated;
  }

  /** Restores every recorded service that no active mitigation wants disabled any more. */
  private void release(Map<String, SortedSet<String>> wanted, Map<String, ServiceRecords.Entry> current,
      Deque<Undo> undo) throws ServiceManagerException, IOException {
    for (Map.Entry<String, ServiceRecords.Entry> record : new TreeMap<>(current).entrySet()) {
      if (wanted.containsKey(record.getKey())) {
        continue;
      }
      String identity = record.getKey();
      ServiceState previous = record.getValue().previous();
      // Pushed first: a restore that fails halfway is taken back too (redisable does only what is needed).
      undo.push(() -> redisable(identity));
      manager.restore(identity, previous);
      LOG.info("{}: restored {} to {} (no mitigation disables it any more; last: {})", target, identity, previous,
          record.getValue().mitigations());
      current.remove(identity);
      records.write(current);
    }
  }

  /**
   * Records, then disables, every wanted service; re-disables any that runs again. {@code found} holds the
   * states the manager reported when it resolved the names; one is used only while this converge has changed
   * nothing (no undo step yet), since a change to one service can change another (a unit started by a
   * dependency, stopped with one).
   */
  private void hold(Map<String, SortedSet<String>> wanted, Map<String, ServiceState> found,
      Map<String, ServiceRecords.Entry> current, Deque<Undo> undo) throws ServiceManagerException, IOException {
    for (Map.Entry<String, SortedSet<String>> want : wanted.entrySet()) {
      String identity = want.getKey();
      Optional<ServiceState> state = undo.isEmpty() && found.containsKey(identity)
          ? Optional.of(found.get(identity)) : manager.query(identity);
      ServiceRecords.Entry record = current.get(identity);
      if (record == null) {
        if (state.isEmpty()) {
          throw new ServiceManagerException(String.format(Locale.ROOT,
              "disable-service %s (for %s): expected a service on %s but found none", identity, want.getValue(), manager));
        }
        // Record before touching the service: a crash from here on converges on restart.
        current.put(identity, new ServiceRecords.Entry(state.get(), want.getValue()));
        records.write(current);
      } else if (!record.mitigations().equals(want.getValue())) {
        current.put(identity, new ServiceRecords.Entry(record.previous(), want.getValue()));
        records.write(current);
      }
      if (state.isEmpty()) {
        LOG.warn("{}: {} is recorded as disabled for {} but {} no longer knows it; nothing to do", target, identity,
            want.getValue(), manager);
        continue;
      }
      if (!manager.isDisabled(state.get())) {
        // The state this call found, not the recorded one: undo puts back what was there before the call.
        ServiceState now = state.get();
        undo.push(() -> manager.restore(identity, now));
        manager.disable(identity, now);
        LOG.info("{}: disabled {} for {} (found {}; recorded before: {})", target, identity, want.getValue(), now,
            current.get(identity).previous());
      }
    }
  }

  private void redisable(String identity) throws ServiceManagerException {
    Optional<ServiceState> state = manager.query(identity);
    if (state.isPresent() && !manager.isDisabled(state.get())) {
      manager.disable(identity, state.get());
    }
  }

  /** Undoes this call's steps in reverse and puts the records back; returns the exception to throw. */
  private EnforcementException rollBack(Exception failure, Map<String, ServiceRecords.Entry> before,
      Map<String, ServiceRecords.Entry> current, Deque<Undo> undo) {
    List<String> problems = new ArrayList<>();
    while (!undo.isEmpty()) {
      try {
        undo.pop().run();
      } catch (ServiceManagerException e) {
        problems.add(e.getMessage());
      }
    }
    // Restored: the records are as they were. Not restored: keep every record this call added as well,
    // so that whatever stayed disabled is still restored when its mitigations go.
    Map<String, ServiceRecords.Entry> keep = new TreeMap<>(before);
    if (!problems.isEmpty()) {
      current.forEach(keep::putIfAbsent);
    }
    try {
      records.write(keep);
    } catch (IOException e) {
      problems.add("could not write back the records: " + e.getMessage());
    }
    String message = target + ": " + failure.getMessage();
    if (problems.isEmpty()) {
      return new EnforcementException(message + "; restored the services as they were", true, failure);
    }
    LOG.error("{}: rolling back after \"{}\" failed too: {}", target, failure.getMessage(), problems);
    return new EnforcementException(message + "; restoring failed too, an operator must look: "
        + String.join("; ", problems), false, failure);
  }

  /**
   * Service identity to the ids of the enforce-mode mitigations that want it disabled. A name the manager
   * does not know any more, of a mitigation that has records, stands for the services recorded for it: a
   * service it disabled that has since gone (a program removed from supervisord's configuration, named
   * {@code web:} or {@code pool:}) stays held, and its check only logs that it is gone, as it does for a
   * service named by its own name; every other unknown name stands for itself (its address), on which
   * converge fails. A new name was refused ({@link #refusal}) before its mitigation came here.
   *
   * <p>Puts the state the manager reported for each identity it resolved into {@code found}; names with
   * the same {@linkplain ServiceManager#address address} are resolved once.
   */
  private Map<String, SortedSet<String>> wanted(List<ActiveMitigation> active, Map<String, ServiceRecords.Entry> records,
      Map<String, ServiceState> found) throws EnforcementException {
    Map<String, SortedSet<String>> wanted = new TreeMap<>();
    Map<String, Map<String, ServiceState>> resolved = new HashMap<>();
    for (ActiveMitigation mitigation : active) {
      for (DisableService action : disableServices(mitigation)) {
        if (!action.managers().contains(manager.kind())) {
          continue;
        }
        if (mitigation.audit()) {
          LOG.info("{}: {} is in audit mode: would disable {}, but disabling a service has nothing to count, so"
              + " nothing is changed", target, mitigation.id(), action.service());
          continue;
        }
        Collection<String> identities;
        try {
          Map<String, ServiceState> answer = resolved.get(manager.address(action.service()));
          if (answer == null) {
            answer = manager.resolve(action.service());
            resolved.put(manager.address(action.service()), answer);
            found.putAll(answer);
          }
          identities = answer.keySet();
          if (identities.isEmpty()) {
            String id = mitigation.id();
            identities = records.entrySet().stream().filter(r -> r.getValue().mitigations().contains(id))
                .map(Map.Entry::getKey).toList();
          }
          if (identities.isEmpty()) {
            identities = List.of(manager.address(action.service()));
          }
        } catch (IllegalArgumentException e) {
          throw new EnforcementException(target + ": " + mitigation.id() + ": disable-service " + action.service() + ": "
              + e.getMessage(), true, e);
        } catch (ServiceManagerException e) {
          throw new EnforcementException(target + ": " + mitigation.id() + ": disable-service " + action.service()
              + ": could not ask " + manager + " which service that is, so nothing was changed: " + e.getMessage(), true, e);
        }
        for (String identity : identities) {
          wanted.computeIfAbsent(identity, a -> new TreeSet<>()).add(mitigation.id());
        }
      }
    }
    return wanted;
  }

  private static List<DisableService> disableServices(ActiveMitigation mitigation) {
    List<DisableService> actions = new ArrayList<>();
    for (Action action : mitigation.mitigation().actions()) {
      if (action instanceof DisableService disable) {
        actions.add(disable);
      }
    }
    return actions;
  }

  /** One step to take back. */
  private interface Undo {
    void run() throws ServiceManagerException;
  }

  @Override
  public String toString() {
    return "service enforcer " + target + " on " + manager;
  }
}
