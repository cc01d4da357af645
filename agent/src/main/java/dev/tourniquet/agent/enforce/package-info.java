/**
 * The enforcer SPI: how the agent makes a target (servlet filter, nginx, a service manager) enforce exactly
 * the set of active mitigations. Built-in enforcers live in the sub-packages.
 */
package dev.tourniquet.agent.enforce;
