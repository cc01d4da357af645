package dev.tourniquet.agent.enforce.service;

import dev.tourniquet.feed.mitigation.Action.DisableService.Manager;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One service manager on this host (systemd, the Windows service control manager, a supervisord), as the
 * {@link ServiceEnforcer} drives it: query a service's state, disable it (stop it and keep it from
 * starting), and restore a recorded state. Obtain one from {@link ServiceManagers#create}.
 *
 * <p>Every method that changes something verifies the result by querying again and throws if the service
 * did not reach the expected state before the manager's settle timeout. Methods take the service's
 * {@linkplain #resolve identity}, not the name a mitigation wrote.
 *
 * <p><b>Names and identities.</b> One service can have several names: {@code web}, {@code web:} and
 * {@code web:web} are one supervisord process, {@code ssh.service} and its alias {@code sshd.service} one
 * systemd unit, {@code MSExchangeUM} and {@code msexchangeum} one Windows service. The enforcer keeps one
 * record per service, so it asks the manager, through {@link #resolve}, which service a name denotes, by
 * the one name the manager itself gives it. The answer carries each service's state as well, so that a check
 * that finds nothing to change asks the manager once per name (systemd, supervisord: one command; Windows:
 * two, since no one {@code sc.exe} command reports both start type and state).
 */
public sealed interface ServiceManager permits Systemd, WindowsScm, Supervisord {

  /**
   * Returns which kind of manager this is, matched against a disable-service action's managers.
   *
   * @return the kind
   */
  Manager kind();

  /**
   * Returns how this manager addresses a service that a mitigation names, without asking it, e.g.
   * {@code nginx} becomes the systemd unit {@code nginx.service}. Two names with the same address are the
   * same service; two with different addresses may be too (an alias): {@link #resolve} asks.
   *
   * @param service the service name from a disable-service action
   * @return the address that {@link #resolve} asks the manager about
   * @throws IllegalArgumentException if this manager cannot address that name safely (e.g. supervisorctl
   *     reads {@code all} as every program)
   */
  String address(String service);

  /**
   * Asks the manager which services a name denotes, by their identity: the name the manager itself reports
   * for each (supervisord: the process's namespec as {@code supervisorctl status} prints it; systemd: the
   * unit's {@code Id}; Windows: the service's key name, in lower case). Every name of one service resolves
   * to the same identity, and an identity resolves to itself. Each identity comes with the service's
   * current state, as {@link #query} of that identity would report it at the same moment.
   *
   * @param service the service name from a disable-service action, or an identity
   * @return identity to current state, one per process or unit (several only for a supervisord group), in
   *     the manager's order; empty if the manager knows no service by that name
   * @throws IllegalArgumentException if this manager cannot address that name safely (see {@link #address})
   * @throws ServiceManagerException if the manager could not be asked or its answer could not be read
   */
  Map<String, ServiceState> resolve(String service) throws ServiceManagerException;

  /**
   * Says which services a record of an earlier version denotes. Earlier versions kept their records by the
   * {@linkplain #address address} of the name a mitigation wrote, so one service could have several
   * records; this gives the identity of each service that one such record covers, with the state recorded
   * for it, so that the enforcer can key the record by identity. Asks the manager only if the record alone
   * cannot tell (systemd: an alias).
   *
   * @param address the key of a record written by an earlier version
   * @param previous the state it recorded
   * @return identity to its recorded state; the address itself if the manager knows no such service now
   * @throws ServiceManagerException if the manager could not be asked, or the recorded state cannot be read
   */
  Map<String, ServiceState> identitiesOfRecord(String address, ServiceState previous) throws ServiceManagerException;

  /**
   * Queries a service's current state.
   *
   * @param identity the service's identity
   * @return its state, or empty if the manager knows no such service
   * @throws ServiceManagerException if the query failed or its answer could not be read
   */
  Optional<ServiceState> query(String identity) throws ServiceManagerException;

  /**
   * Tells whether a state is the disabled one this manager converges on: stopped and kept from starting
   * (supervisord: stopped, since it cannot change {@code autostart} at runtime).
   *
   * @param state a state this manager reported
   * @return true if nothing needs doing to disable the service
   */
  boolean isDisabled(ServiceState state);

  /**
   * Disables a service: keeps it from starting, then stops it; does only the steps that {@code current}
   * shows are needed, then verifies.
   *
   * @param identity the service's identity
   * @param current its state as just queried
   * @throws ServiceManagerException if a step failed or the service did not end up disabled
   */
  void disable(String identity, ServiceState current) throws ServiceManagerException;

  /**
   * Restores a service to a recorded state: its startup as it was, and started if it was running; never
   * stops anything. Queries first and does only the steps needed, so restoring twice is harmless; a service
   * that no longer exists is left alone.
   *
   * @param identity the service's identity
   * @param previous the state recorded before it was disabled
   * @throws ServiceManagerException if a step failed or the service did not reach the recorded state
   */
  void restore(String identity, ServiceState previous) throws ServiceManagerException;
}
