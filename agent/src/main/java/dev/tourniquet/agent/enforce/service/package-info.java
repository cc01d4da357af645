/**
 * The service-manager enforcer: {@code disable-service} through systemd ({@code systemctl}), the Windows
 * service control manager ({@code sc.exe}) or supervisord ({@code supervisorctl}). {@link
 * dev.tourniquet.agent.enforce.service.ServiceEnforcer} records each service's state before it changes it
 * and restores it on removal; {@link dev.tourniquet.agent.enforce.service.ServiceManagers} creates the
 * manager from the agent's configuration. docs/services.md describes the behaviour for operators.
 */
package dev.tourniquet.agent.enforce.service;
