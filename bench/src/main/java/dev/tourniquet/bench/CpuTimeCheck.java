package dev.tourniquet.bench;

import dev.tourniquet.rules.CompiledRules;
import dev.tourniquet.rules.Decision;
import dev.tourniquet.rules.HttpRequest;
import dev.tourniquet.rules.RuleCompiler;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A cross-check of {@link RuleEvaluationBenchmark} in CPU time rather than wall-clock time, for a machine
 * shared with other work: our engine over the same rule sets and request mix, in a plain loop that reads
 * the thread's CPU time ({@link ThreadMXBean#getCurrentThreadCpuTime}). Time the thread spends waiting for
 * a core is not counted, which wall-clock JMH scores on a loaded machine do count.
 *
 * <p>Not a JMH measurement (one JVM for setup and loop, no blackhole beyond a count of the decisions),
 * only a check on the order of magnitude. Before timing, every request of the mix is decided and checked
 * against what the mix intends (legitimate requests allowed, every attack stopped by the rule it was built
 * for or an earlier one); the comparison with the baseline engine is {@link RuleEvaluationBenchmark}'s.
 *
 * <p>Run: {@code java -cp bench/target/benchmarks.jar dev.tourniquet.bench.CpuTimeCheck 10 100 1000 10000}
 * from the repository root; each rule count takes about {@value #ROUNDS} rounds of {@value #ROUND_MILLIS} ms
 * of CPU time, and the median of rounds 2 to {@value #ROUNDS} is printed.
 */
public final class CpuTimeCheck {
  static final int ROUNDS = 6;
  static final int ROUND_MILLIS = 2000;

  private CpuTimeCheck() {}

  /**
   * Measures each rule count given, in order.
   *
   * @param args rule counts (default: 10 100 1000 10000)
   */
  public static void main(String[] args) {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    if (!threads.isCurrentThreadCpuTimeSupported()) {
      throw new IllegalStateException("this JVM cannot read a thread's CPU time; expected ThreadMXBean support");
    }
    threads.setThreadCpuTimeEnabled(true);
    String[] counts = args.length == 0 ? new String[] {"10", "100", "1000", "10000"} : args;
    for (String count : counts) {
      int rules = Integer.parseInt(count);
      RuleSetGenerator.Generation generation = RuleSetGenerator.generate(rules);
      List<RequestMix.Sample> mix = RequestMix.build(generation, RuleEvaluationBenchmark.MIX_SIZE,
          RuleEvaluationBenchmark.ATTACK_PERCENT);
      CompiledRules compiled = RuleCompiler.compile(generation.ruleSet());
      checkIntent(generation, mix, compiled);
      HttpRequest[] requests = mix.stream().map(RequestMix.Sample::request).toArray(HttpRequest[]::new);
      double[] perRequest = new double[ROUNDS];
      long checksum = 0;
      for (int round = 0; round < ROUNDS; round++) {
        long evaluated = 0;
        long start = threads.getCurrentThreadCpuTime();
        long end = start + ROUND_MILLIS * 1_000_000L;
        long now;
        do {
          for (HttpRequest request : requests) {
            checksum += compiled.evaluate(request) == Decision.ALLOW ? 1 : 2;
          }
          evaluated += requests.length;
          now = threads.getCurrentThreadCpuTime();
        } while (now < end);
        perRequest[round] = (now - start) / (double) evaluated;
      }
      double[] measured = Arrays.copyOfRange(perRequest, 1, ROUNDS);
      Arrays.sort(measured);
      System.out.printf(Locale.ROOT, "%6d rules: %7.0f ns/request CPU time (median of rounds 2-%d; all rounds %s)"
          + " load average %.2f; checksum %d%n", rules, measured[measured.length / 2], ROUNDS,
          Arrays.toString(Arrays.stream(perRequest).mapToLong(Math::round).toArray()),
          ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(), checksum);
    }
  }

  /** Fails unless every legitimate request is allowed and every attack is stopped by its rule or an earlier one. */
  private static void checkIntent(RuleSetGenerator.Generation generation, List<RequestMix.Sample> mix,
      CompiledRules compiled) {
    List<String> order = generation.ruleSet().rules().stream().map(r -> r.name()).toList();
    for (RequestMix.Sample sample : mix) {
      Decision d = compiled.evaluate(sample.request());
      boolean ok = sample.attack()
          ? d.rule() != null && order.indexOf(d.rule()) <= order.indexOf(sample.intendedRule())
          : d instanceof Decision.Allow;
      if (!ok) {
        throw new IllegalStateException(String.format(Locale.ROOT,
            "%s %s: expected %s but the engine decided %s (rule %s)", sample.request().method(),
            sample.request().target(), sample.attack() ? "rule " + sample.intendedRule() + " or an earlier one"
                : "the request to be allowed", d.kind(), d.rule()));
      }
    }
  }
}
