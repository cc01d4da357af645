/**
 * The mitigation document: what a publisher signs into the feed and an agent applies. The schema,
 * {@code tourniquet-mitigation/1}, is documented field by field in {@code docs/mitigation-format.md}.
 *
 * <pre>
 *   bytes  →  MitigationParser  →  Mitigation  →  MitigationWriter  →  bytes (canonical)
 *             (strict JSON, every    (immutable:     (fixed order,
 *              problem by path,       Applicability,  defaults explicit)
 *              rules compiled)        Action …)
 * </pre>
 *
 * <p>{@link dev.tourniquet.feed.mitigation.Mitigation} and the records it holds validate in their
 * constructors, so no invalid mitigation exists in memory whether it was parsed or built. The planner asks
 * {@link dev.tourniquet.feed.mitigation.Mitigation#applies} and
 * {@link dev.tourniquet.feed.mitigation.Mitigation#isFixedIn} with the installed
 * {@link dev.tourniquet.feed.mitigation.Version}, and dispatches each
 * {@link dev.tourniquet.feed.mitigation.Action} to the enforcer for its kind.
 */
package dev.tourniquet.feed.mitigation;
