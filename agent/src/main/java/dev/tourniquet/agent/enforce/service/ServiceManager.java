package dev.tourniquet.agent.enforce.service;

import dev.tourniquet.feed.mitigation.Action.DisableService.Manager;
import java.util.Optional;

/**
 * One service manager on this host (systemd, the Windows service control manager, a supervisord), as the
 * {@link ServiceEnforcer} drives it: query a service's state, disable it (stop it and keep it from
 * starting), and restore a recorded state. Obtain one from {@link ServiceManagers#create}.
 *
 * <p>Every method that changes something verifies the result by querying again and throws if the service
 * did not reach the expected state before the manager's settle timeout. Methods take the service's
 * {@linkplain #address address}, not the name a mitigation wrote.
 */
public sealed interface ServiceManager permits Systemd, WindowsScm, Supervisord {

  /**
   * Returns which kind of manager this is, matched against a disable-service action's managers.
   *
   * @return the kind
   */
  Manager kind();

  /**
   * Returns how this manager addresses a service that a mitigation names, e.g. {@code nginx} becomes the
   * systemd unit {@code nginx.service}. Two names with the same address are the same service.
   *
   * @param service the service name from a disable-service action
   * @return the address used in commands and in the enforcer's records
   * @throws IllegalArgumentException if this manager cannot address that name safely (e.g. supervisorctl
   *     reads {@code all} as every program)
   */
  String address(String service);

  /**
   * Queries a service's current state.
   *
   * @param address the service's address
   * @return its state, or empty if the manager knows no such service
   * @throws ServiceManagerException if the query failed or its answer could not be read
   */
  Optional<ServiceState> query(String address) throws ServiceManagerException;

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
   * @param address the service's address
   * @param current its state as just queried
   * @throws ServiceManagerException if a step failed or the service did not end up disabled
   */
  void disable(String address, ServiceState current) throws ServiceManagerException;

  /**
   * Restores a service to a recorded state: its startup as it was, and started if it was running; never
   * stops anything. Queries first and does only the steps needed, so restoring twice is harmless; a service
   * that no longer exists is left alone.
   *
   * @param address the service's address
   * @param previous the state recorded before it was disabled
   * @throws ServiceManagerException if a step failed or the service did not reach the recorded state
   */
  void restore(String address, ServiceState previous) throws ServiceManagerException;
}
