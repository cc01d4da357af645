/**
 * Benchmarks: JMH benchmarks of the rule engine against the way servlet containers evaluate rewrite rules
 * today, the feed's verification cost, and the fleet simulator.
 *
 * <p>{@link dev.tourniquet.bench.RuleEvaluationBenchmark} measures one request at a time over a
 * realistic request mix, for rule sets of 10 to 10,000 rules; {@link dev.tourniquet.bench.ReDoSTable}
 * times patterns that make a backtracking matcher take seconds or overflow its stack. The inputs come
 * from checked-in, seeded generators ({@code RuleSetGenerator}, {@code RequestMix}) plus Microsoft's own
 * mitigation rules, read in place from {@code ../shared/fixtures/microsoft}. The baseline,
 * {@code SequentialRegexEvaluator}, searches every rule's {@link java.util.regex.Pattern} in order, as
 * Tuckey UrlRewriteFilter and Tomcat's RewriteValve do. {@link dev.tourniquet.bench.FeedVerification}
 * times verifying a large feed from scratch, and {@link dev.tourniquet.bench.FleetSimulator} runs a real
 * fleet server with a thousand real agents in one JVM to time a mitigation from publish to the last
 * agent's report; {@code bench/poll-throughput.sh} compares the server's conditional polls with nginx.
 * Results and commands are in {@code docs/benchmarks.md}; nothing here runs in the test suite.
 */
package dev.tourniquet.bench;
