package dev.tourniquet.bench;

import dev.tourniquet.rules.CompiledRules;
import dev.tourniquet.rules.Condition;
import dev.tourniquet.rules.Conditions;
import dev.tourniquet.rules.Decision;
import dev.tourniquet.rules.Header;
import dev.tourniquet.rules.HttpRequest;
import dev.tourniquet.rules.InboundAction;
import dev.tourniquet.rules.InboundRule;
import dev.tourniquet.rules.Limits;
import dev.tourniquet.rules.LogicalGrouping;
import dev.tourniquet.rules.PatternSyntax;
import dev.tourniquet.rules.RuleCompiler;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.RuleValidationException;
import dev.tourniquet.rules.UrlMatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;

/**
 * Prints, as a Markdown table, how long java.util.regex and this project's engine take on patterns
 * known for catastrophic backtracking, against adversarial inputs of growing length.
 *
 * <p>java.util.regex runs {@code Pattern.compile(p, CASE_INSENSITIVE).matcher(input).find()} (what the
 * baseline does for a {@code <match url>}) in a thread with the default stack, capped at 10 s: the input is
 * wrapped in a {@link CharSequence} that throws once the deadline passes, since a running match cannot be
 * interrupted otherwise (the check reads the clock once every 65,536 character reads, a negligible cost).
 * Ours compiles a one-rule {@link RuleSet} whose {@code <match url>} is the pattern through the public API
 * and evaluates a request whose path is the input (for Microsoft's rules, a condition on the cookie or the
 * request URI, as they are written); a pattern the engine refuses (a back-reference, which no
 * linear-time matcher can run) is reported as refused, which is a result too. Where both finish, the
 * table says whether they agree.
 *
 * <p>Run: {@code java -cp bench/target/benchmarks.jar dev.tourniquet.bench.ReDoSTable}.
 */
public final class ReDoSTable {
  private static final long CAP_NANOS = 10_000_000_000L;
  /** Limits that admit the 100,000-character path and URI; every other limit is the default. */
  private static final Limits LIMITS = new Limits(Limits.DEFAULTS.maxRuleFileBytes(), Limits.DEFAULTS.maxRules(),
      Limits.DEFAULTS.maxConditionsPerRule(), Limits.DEFAULTS.maxPatternLength(), Limits.DEFAULTS.maxTemplateLength(),
      200_000, Limits.DEFAULTS.maxHeaderBytes(), Limits.DEFAULTS.maxHeaders());

  /** Where the input goes: the URL path ({@code <match url>}), the Cookie header, or the request URI. */
  private enum Where { PATH, COOKIE, REQUEST_URI }

  private record Case(String pattern, String inputLabel, String input, Where where) {
    Case(String pattern, String inputLabel, String input) {
      this(pattern, inputLabel, input, Where.PATH);
    }
  }

  private ReDoSTable() {}

  /**
   * Runs every case and prints the table on standard output.
   *
   * @param args ignored
   */
  public static void main(String[] args) {
    List<Case> cases = new ArrayList<>();
    for (int n : new int[] {20, 25, 30}) {
      cases.add(new Case("(a+)+$", "`a`×" + n + " + `!`", "a".repeat(n) + "!"));
    }
    for (int n : new int[] {30, 40, 50}) {
      cases.add(new Case("(a|aa)+$", "`a`×" + n + " + `!`", "a".repeat(n) + "!"));
    }
    for (int n : new int[] {20, 25, 30}) {
      cases.add(new Case("(.*a){12}$", "`a`×" + n + " + `!`", "a".repeat(n) + "!"));
    }
    for (int n : new int[] {20, 25, 30}) {
      cases.add(new Case("^(\\w+\\s?)*$", "`a`×" + n + " + `!`", "a".repeat(n) + "!"));
    }
    for (int n : new int[] {20, 25, 30}) {
      cases.add(new Case("(x+x+)+y", "`x`×" + n, "x".repeat(n)));
    }
    cases.add(new Case("^(a|b)*$", "`ab`×50,000 (100,000 chars)", "ab".repeat(50_000)));
    cases.add(new Case("(a|b)*c", "`ab`×50,000 (100,000 chars)", "ab".repeat(50_000)));
    // Microsoft's own rules, verbatim, on long but legal inputs (64 KiB of headers is the engine's default
    // cap): a leading (.*) or .* makes a backtracking search quadratic in the input.
    for (int n : new int[] {1_000, 16_000, 60_000}) {
      cases.add(new Case("(.*)X-BEResource=(.+)/(.+)~(.+)", String.format(Locale.ROOT, "Cookie of %,d chars", n),
          "a=" + "x".repeat(n - 2), Where.COOKIE));
    }
    for (int n : new int[] {1_000, 16_000, 60_000}) {
      cases.add(new Case("(?=.*autodiscover)(?=.*powershell)", String.format(Locale.ROOT, "request URI of %,d chars", n),
          "/" + "x".repeat(n - 1), Where.REQUEST_URI));
    }
    // With the rule's literal present the prefilter cannot skip the pattern, and RE2 has to run it.
    cases.add(new Case("(.*)X-BEResource=(.+)/(.+)~(.+)", "Cookie `X-BEResource=` + `x`×16,000",
        "X-BEResource=" + "x".repeat(16_000), Where.COOKIE));
    cases.add(new Case("(?=.*autodiscover)(?=.*powershell)", "URI `/autodiscover` + `x`×16,000",
        "/autodiscover" + "x".repeat(16_000), Where.REQUEST_URI));
    cases.add(new Case("^(\\w+)-\\1$", "`abc-abc`", "abc-abc"));

    System.out.println("| pattern | input | java.util.regex | tourniquet | agree |");
    System.out.println("|---|---|---:|---:|---|");
    for (Case c : cases) {
      String[] java = runJava(c);
      String[] ours = runOurs(c);
      String agree = java[1] == null || ours[1] == null ? "–" : java[1].equals(ours[1]) ? "yes (" + java[1] + ")" : "NO";
      String where = switch (c.where()) {
        case PATH -> "";
        case COOKIE -> " on <code>{HTTP_COOKIE}</code>";
        case REQUEST_URI -> " on <code>{UrlDecode:{REQUEST_URI}}</code>";
      };
      System.out.printf(Locale.ROOT, "| `%s`%s | %s | %s | %s | %s |%n", c.pattern().replace("|", "\\|"), where, c.inputLabel(),
          java[0], ours[0], agree);
    }
  }

  /** Returns the time cell and "match"/"no match" (null when it did not finish). */
  private static String[] runJava(Case c) {
    Pattern pattern = Pattern.compile(c.pattern(), Pattern.CASE_INSENSITIVE);
    long first = javaOnce(pattern, c.input());
    if (first == TIMED_OUT) {
      return new String[] {"> 10 s (stopped)", null};
    }
    if (first == STACK_OVERFLOW) {
      return new String[] {"StackOverflowError", null};
    }
    boolean matched = first >= 0;
    long nanos = Math.abs(first);
    if (nanos < 100_000_000L) {
      // Known to finish quickly: warm up as for ours (the JIT matters at microseconds), then take the median
      // of 51 runs, on this thread, since starting a thread per run would cost more than the match.
      long until = System.nanoTime() + 1_000_000_000L;
      for (int i = 0; i < 2_000 && System.nanoTime() < until; i++) {
        pattern.matcher(c.input()).find();
      }
      long[] runs = new long[51];
      for (int i = 0; i < runs.length; i++) {
        long t0 = System.nanoTime();
        pattern.matcher(c.input()).find();
        runs[i] = System.nanoTime() - t0;
      }
      Arrays.sort(runs);
      nanos = runs[runs.length / 2];
    }
    return new String[] {duration(nanos), matched ? "match" : "no match"};
  }

  private static final long TIMED_OUT = Long.MIN_VALUE;
  private static final long STACK_OVERFLOW = Long.MIN_VALUE + 1;

  /** The nanoseconds one find() took, negated when it found no match; or TIMED_OUT or STACK_OVERFLOW. */
  private static long javaOnce(Pattern pattern, String input) {
    AtomicReference<Long> result = new AtomicReference<>();
    Thread worker = new Thread(() -> {
      long start = System.nanoTime();
      try {
        boolean found = pattern.matcher(new Deadline(input, start + CAP_NANOS)).find();
        long took = Math.max(1, System.nanoTime() - start);
        result.set(found ? took : -took);
      } catch (Deadline.Expired e) {
        result.set(TIMED_OUT);
      } catch (StackOverflowError e) {
        result.set(STACK_OVERFLOW);
      }
    }, "java.util.regex");
    worker.start();
    try {
      worker.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while timing java.util.regex", e);
    }
    return result.get();
  }

  private static String[] runOurs(Case c) {
    UrlMatch match = c.where() == Where.PATH ? new UrlMatch(c.pattern(), true, false) : new UrlMatch(".*", true, false);
    Conditions conditions = switch (c.where()) {
      case PATH -> Conditions.NONE;
      case COOKIE -> new Conditions(LogicalGrouping.MATCH_ALL, false, List.of(new Condition("{HTTP_COOKIE}", c.pattern(), true, false)));
      case REQUEST_URI -> new Conditions(LogicalGrouping.MATCH_ALL, false,
          List.of(new Condition("{UrlDecode:{REQUEST_URI}}", c.pattern(), true, false)));
    };
    InboundRule rule = new InboundRule("redos", true, PatternSyntax.ECMA_SCRIPT, true, match, conditions,
        new InboundAction.AbortRequest());
    CompiledRules compiled;
    try {
      compiled = RuleCompiler.compile(new RuleSet(List.of(), List.of(rule), List.of(), List.of()), LIMITS);
    } catch (RuleValidationException e) {
      // The message names the rule and repeats the pattern; the table needs only the reason.
      String why = e.problems().get(0).message();
      int reason = why.indexOf("': ");
      why = reason < 0 ? why : why.substring(reason + 3);
      int expected = why.indexOf("; expected");
      why = expected < 0 ? why : why.substring(0, expected);
      return new String[] {"refused: " + why.replace("|", "\\|"), null};
    }
    HttpRequest request = switch (c.where()) {
      case PATH -> HttpRequest.of("GET", "/" + c.input(), List.of());
      case COOKIE -> HttpRequest.of("GET", "/owa/", List.of(new Header("Cookie", c.input())));
      case REQUEST_URI -> HttpRequest.of("GET", c.input(), List.of());
    };
    long first = System.nanoTime();
    Decision decision = compiled.evaluate(request);
    first = System.nanoTime() - first;
    // Warm up for about a second or 2,000 runs, then take the median of 51.
    long until = System.nanoTime() + 1_000_000_000L;
    for (int i = 0; i < 2_000 && System.nanoTime() < until; i++) {
      compiled.evaluate(request);
    }
    long[] runs = new long[51];
    for (int i = 0; i < runs.length; i++) {
      long t0 = System.nanoTime();
      compiled.evaluate(request);
      runs[i] = System.nanoTime() - t0;
    }
    Arrays.sort(runs);
    return new String[] {duration(runs[runs.length / 2]), decision instanceof Decision.Abort ? "match" : "no match"};
  }

  private static String duration(long nanos) {
    if (nanos >= 1_000_000_000L) {
      return String.format(Locale.ROOT, "%.1f s", nanos / 1e9);
    }
    if (nanos >= 1_000_000L) {
      return String.format(Locale.ROOT, "%.1f ms", nanos / 1e6);
    }
    return String.format(Locale.ROOT, "%.1f µs", nanos / 1e3);
  }

  /** An input that stops a runaway match: java.util.regex reads every character through charAt. */
  private static final class Deadline implements CharSequence {
    /** Thrown from charAt once the deadline has passed; no stack trace, it is control flow. */
    static final class Expired extends RuntimeException {
      Expired() {
        super("deadline passed", null, false, false);
      }
    }

    private final String text;
    private final long deadline;
    private int reads;

    Deadline(String text, long deadline) {
      this.text = text;
      this.deadline = deadline;
    }

    @Override
    public char charAt(int index) {
      if ((++reads & 0xFFFF) == 0 && System.nanoTime() > deadline) {
        throw new Expired();
      }
      return text.charAt(index);
    }

    @Override
    public int length() {
      return text.length();
    }

    @Override
    public CharSequence subSequence(int start, int end) {
      return text.subSequence(start, end);
    }

    @Override
    public String toString() {
      return text;
    }
  }
}
