/**
 * The servlet enforcer: writes the enforcement file that the servlet module's filter enforces.
 */
package dev.tourniquet.agent.enforce.servlet;
