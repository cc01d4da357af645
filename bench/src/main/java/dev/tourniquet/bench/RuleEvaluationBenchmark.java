package dev.tourniquet.bench;

import dev.tourniquet.rules.CompiledRules;
import dev.tourniquet.rules.Decision;
import dev.tourniquet.rules.HttpRequest;
import dev.tourniquet.rules.RuleCompiler;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Time to decide one request, for our engine and for the sequential java.util.regex baseline, over rule
 * sets of 10 to 10,000 rules (Microsoft's fixture rules plus generated ones) and a realistic request mix.
 *
 * <p>Each invocation evaluates the next request of the mix, cycling, so the average is over the mix. Before
 * measuring, setup evaluates the whole mix with both engines and fails the trial unless they reach the
 * same decision kind and rule for every request, every legitimate request is allowed, and every attack is
 * stopped by the rule it was built for or an earlier one: a fast wrong answer is not a result.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar RuleEvaluationBenchmark -f 1 -wi 3 -i 5 -w 1s -r 1s}
 * from the repository root (the Microsoft fixtures are read from {@code ../shared/fixtures/microsoft}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class RuleEvaluationBenchmark {
  /**
   * Requests in the mix: enough that the cycle does not fit a branch predictor's history, few enough that
   * the setup check (every request through the baseline, about 0.25 s each at 10,000 rules) stays near two
   * minutes.
   */
  static final int MIX_SIZE = 500;
  /** Share of hostile requests, in percent. */
  static final int ATTACK_PERCENT = 3;

  /** Number of inbound rules, the Microsoft fixture rules included. */
  @Param({"10", "100", "1000", "10000"})
  public int rules;

  /** {@code tourniquet} (this project's engine) or {@code javaRegex} (the sequential baseline). */
  @Param({"tourniquet", "javaRegex"})
  public String engine;

  private HttpRequest[] requests;
  private Function<HttpRequest, Decision> evaluator;
  private int next;

  /** Generates the rules and the mix, builds both engines and checks that they agree on every request. */
  @Setup
  public void setUp() {
    RuleSetGenerator.Generation generation = RuleSetGenerator.generate(rules);
    List<RequestMix.Sample> mix = RequestMix.build(generation, MIX_SIZE, ATTACK_PERCENT);
    CompiledRules ours = RuleCompiler.compile(generation.ruleSet());
    SequentialRegexEvaluator baseline = new SequentialRegexEvaluator(generation.ruleSet());
    long[] nanos = check(generation, mix, ours::evaluate, baseline::evaluate);
    requests = mix.stream().map(RequestMix.Sample::request).toArray(HttpRequest[]::new);
    evaluator = switch (engine) {
      case "tourniquet" -> ours::evaluate;
      case "javaRegex" -> baseline::evaluate;
      default -> throw new IllegalArgumentException("unknown engine '" + engine + "'; expected tourniquet or javaRegex");
    };
    // The check's single pass over the whole mix is a cross-check of the measured mean for the slow
    // baseline, whose few timed invocations at 10,000 rules see only part of the mix.
    System.out.printf(Locale.ROOT, "%n# %s; mix: %d requests, %d attacks, %.0f header bytes on average;"
        + " setup check, one cold pass over the whole mix: tourniquet %.0f ns/request, javaRegex %.0f ns/request%n",
        ours, mix.size(), mix.stream().filter(RequestMix.Sample::attack).count(),
        mix.stream().mapToInt(s -> headerBytes(s.request())).average().orElse(0),
        nanos[0] / (double) mix.size(), nanos[1] / (double) mix.size());
  }

  /**
   * Evaluates the next request of the mix.
   *
   * @return the decision, consumed by JMH so that the work cannot be optimised away
   */
  @Benchmark
  public Decision evaluate() {
    HttpRequest request = requests[next];
    next = next + 1 == requests.length ? 0 : next + 1;
    return evaluator.apply(request);
  }

  /**
   * Fails unless both engines decide every request alike and as the mix intends.
   *
   * @return the nanoseconds each engine spent on the whole mix: ours, then the baseline
   * @throws IllegalStateException naming the first request where they disagree
   */
  static long[] check(RuleSetGenerator.Generation generation, List<RequestMix.Sample> mix,
      Function<HttpRequest, Decision> ours, Function<HttpRequest, Decision> baseline) {
    List<String> order = generation.ruleSet().rules().stream().map(r -> r.name()).toList();
    long[] nanos = new long[2];
    for (RequestMix.Sample sample : mix) {
      long t0 = System.nanoTime();
      Decision a = ours.apply(sample.request());
      long t1 = System.nanoTime();
      Decision b = baseline.apply(sample.request());
      nanos[0] += t1 - t0;
      nanos[1] += System.nanoTime() - t1;
      if (!a.kind().equals(b.kind()) || !Objects.equals(a.rule(), b.rule())) {
        throw new IllegalStateException(String.format(Locale.ROOT,
            "engines disagree on %s %s: expected the baseline's %s (rule %s) but tourniquet decided %s (rule %s)",
            sample.request().method(), sample.request().target(), b.kind(), b.rule(), a.kind(), a.rule()));
      }
      if (!sample.attack() && !(a instanceof Decision.Allow)) {
        throw new IllegalStateException(String.format(Locale.ROOT,
            "legitimate request %s %s was stopped by rule %s; expected the generated rules to leave real traffic alone",
            sample.request().method(), sample.request().target(), a.rule()));
      }
      if (sample.attack() && (a.rule() == null || order.indexOf(a.rule()) > order.indexOf(sample.intendedRule()))) {
        throw new IllegalStateException(String.format(Locale.ROOT,
            "attack %s %s got %s (rule %s); expected rule %s or an earlier one to stop it",
            sample.request().method(), sample.request().target(), a.kind(), a.rule(), sample.intendedRule()));
      }
    }
    return nanos;
  }

  private static int headerBytes(HttpRequest request) {
    return request.headers().stream().mapToInt(h -> h.name().length() + 2 + h.value().length() + 2).sum();
  }
}
