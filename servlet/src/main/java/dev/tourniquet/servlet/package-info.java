/**
 * The servlet enforcer: a Jakarta Servlet 6 filter that enforces the mitigations the agent writes to an
 * enforcement file, in Tomcat, Jetty or any servlet container, with a Spring Boot auto-configuration.
 *
 * <pre>
 *   EnforcementFile  →  EnforcementWatcher  →  Snapshot  →  TourniquetFilter
 *   (JSON, written       (polls, reads,         (compiled,    (per request: endpoints,
 *    atomically by        compiles, swaps)       immutable)    auth, rules, headers)
 *    the agent)
 * </pre>
 *
 * <p>Public: the file's model ({@link dev.tourniquet.servlet.EnforcementFile},
 * {@link dev.tourniquet.servlet.ActiveMitigation}, {@link dev.tourniquet.servlet.DisabledEndpoint},
 * {@link dev.tourniquet.servlet.AuthPolicy}, {@link dev.tourniquet.servlet.PathPrefix},
 * {@link dev.tourniquet.servlet.Mode}) with its reader and atomic writer, the filter and what it reports
 * ({@link dev.tourniquet.servlet.EnforcementStatus}, {@link dev.tourniquet.servlet.RuleHit}), and the
 * auto-configuration. The format is documented in {@code docs/servlet.md}.
 */
package dev.tourniquet.servlet;
