package dev.tourniquet.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.rules.CompiledRules;
import dev.tourniquet.rules.Decision;
import dev.tourniquet.rules.Header;
import dev.tourniquet.rules.HttpRequest;
import dev.tourniquet.rules.HttpResponse;
import dev.tourniquet.rules.Limits;
import dev.tourniquet.rules.Problem;
import dev.tourniquet.rules.RequestException;
import dev.tourniquet.rules.RuleCompiler;
import dev.tourniquet.rules.RuleJson;
import dev.tourniquet.rules.RuleSet;
import dev.tourniquet.rules.RuleSets;
import dev.tourniquet.rules.RuleValidationException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tourniquet rules …}: validate, evaluate and convert HTTP rule sets (IIS XML or native JSON). */
@Command(
    name = "rules",
    mixinStandardHelpOptions = true,
    description = "Validate, evaluate and convert HTTP rule sets, written as IIS URL Rewrite XML or Tourniquet's JSON form.",
    subcommands = {RulesCommand.Check.class, RulesCommand.Eval.class, RulesCommand.Convert.class})
final class RulesCommand {

  private RulesCommand() {}

  /** Reads and compiles a rule file, printing each problem on its own line when it is invalid. */
  static CompiledRules load(Path file, PrintWriter out) throws IOException, InvalidRules {
    try {
      return RuleCompiler.compile(RuleSets.read(file, Limits.DEFAULTS));
    } catch (RuleValidationException e) {
      String name = file.getFileName() == null ? file.toString() : file.getFileName().toString();
      for (Problem p : e.problems()) {
        out.println(p.location().startsWith(name) ? p.toString() : name + ": " + p);
      }
      throw new InvalidRules();
    }
  }

  /** The rules did not validate; the problems have been printed. */
  static final class InvalidRules extends Exception {
    InvalidRules() {
      super(null, null, false, false);
    }
  }

  @Command(name = "check", mixinStandardHelpOptions = true,
      description = {"Validate a rule file.",
          "Exit 0 and a summary when it is valid; exit 2 and one line per problem (where, what is wrong, what is expected) when not."})
  static final class Check implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "IIS XML (a web.config, applicationHost.config or <rewrite> element) or the JSON form.")
    Path file;

    @Override
    public Integer call() throws IOException {
      PrintWriter out = spec.commandLine().getOut();
      try {
        CompiledRules rules = load(file, out);
        RuleSet set = rules.ruleSet();
        out.printf(Locale.ROOT, "%s: valid: %d inbound rule%s (%d global), %d outbound rule%s, %d precondition%s%n",
            file.getFileName(), set.rules().size() + set.globalRules().size(), plural(set.rules().size() + set.globalRules().size()),
            set.globalRules().size(), set.outboundRules().size(), plural(set.outboundRules().size()),
            set.preConditions().size(), plural(set.preConditions().size()));
        return 0;
      } catch (InvalidRules e) {
        return Main.INVALID;
      }
    }
  }

  @Command(name = "convert", mixinStandardHelpOptions = true,
      description = "Print a rule file in the native JSON form (every field explicit); exit 2 if it is invalid.")
  static final class Convert implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE", description = "IIS XML or the JSON form.")
    Path file;

    @Override
    public Integer call() throws IOException {
      PrintWriter out = spec.commandLine().getOut();
      try {
        out.print(RuleJson.write(load(file, out).ruleSet()));
        return 0;
      } catch (InvalidRules e) {
        return Main.INVALID;
      }
    }
  }

  @Command(name = "eval", mixinStandardHelpOptions = true,
      description = {"Evaluate requests against a rule file: one JSON request per input line, one JSON decision per output line.",
          "Input: {\"id\":\"a1\",\"method\":\"GET\",\"target\":\"/owa/?x=1\",\"headers\":[[\"Cookie\",\"a=b\"]],\"remoteAddr\":\"203.0.113.7\",\"https\":true}",
          "  (target is the raw request-target; optional serverPort; optional \"response\":{\"status\":200,\"headers\":[[…]]} runs outbound rules).",
          "Output: {\"id\":\"a1\",\"decision\":\"allow\"}; decisions allow, abort (rule), respond (rule, status, reason),",
          "  redirect (rule, status, location), rewrite (rule, rewrittenTarget), and error (error) for a line that is not a valid request.",
          "With a response, the output adds \"responseHeaders\":[[name,value],…] as they leave the server."})
  static final class Eval implements Callable<Integer> {
    /** A request line longer than this is answered with an error instead of being parsed. */
    static final int MAX_LINE = 1 << 20;

    @Spec
    CommandSpec spec;

    @Option(names = "--rules", required = true, paramLabel = "FILE", description = "The rule file (IIS XML or JSON form).")
    Path rulesFile;

    @Option(names = "--requests", paramLabel = "FILE", defaultValue = "-",
        description = "JSON lines of requests; '-' (the default) reads standard input.")
    String requests;

    private final ObjectMapper json = new ObjectMapper();

    @Override
    public Integer call() throws IOException {
      PrintWriter out = spec.commandLine().getOut();
      CompiledRules rules;
      try {
        rules = load(rulesFile, spec.commandLine().getErr());
      } catch (InvalidRules e) {
        return Main.INVALID;
      }
      InputStream in = requests.equals("-") ? System.in : Files.newInputStream(Path.of(requests));
      try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        String line;
        int lineNumber = 0;
        while ((line = readBoundedLine(reader)) != null) {
          lineNumber++;
          if (line.isBlank()) {
            continue;
          }
          out.println(json.writeValueAsString(evaluate(rules, line, lineNumber)));
          out.flush();
        }
      }
      return 0;
    }

    /** Reads a line, or a marker for a line over {@link #MAX_LINE} (whose rest is skipped). */
    private static String readBoundedLine(Reader reader) throws IOException {
      StringBuilder line = new StringBuilder();
      boolean tooLong = false;
      int c;
      while ((c = reader.read()) != -1) {
        if (c == '\n') {
          break;
        }
        if (line.length() < MAX_LINE) {
          line.append((char) c);
        } else {
          tooLong = true;
        }
      }
      if (c == -1 && line.length() == 0 && !tooLong) {
        return null;
      }
      return tooLong ? "\0too-long" : line.toString();
    }

    private ObjectNode evaluate(CompiledRules rules, String line, int lineNumber) {
      ObjectNode result = json.createObjectNode();
      if (line.equals("\0too-long")) {
        result.putNull("id");
        return error(result, String.format(Locale.ROOT, "line %d is longer than %d characters", lineNumber, MAX_LINE));
      }
      JsonNode node;
      try {
        node = json.readTree(line);
      } catch (JsonProcessingException e) {
        result.putNull("id");
        return error(result, String.format(Locale.ROOT, "line %d is not valid JSON: %s", lineNumber,
            e.getOriginalMessage()));
      }
      if (node == null || !node.isObject()) {
        result.putNull("id");
        return error(result, String.format(Locale.ROOT, "line %d is not a JSON object; expected a request object", lineNumber));
      }
      JsonNode id = node.get("id");
      if (id == null) {
        result.putNull("id");
      } else {
        result.set("id", id);
      }
      HttpRequest request;
      HttpResponse response;
      try {
        request = RequestLines.request(node);
        response = RequestLines.response(node);
      } catch (RequestLines.Invalid e) {
        return error(result, e.getMessage());
      }
      try {
        Decision decision = rules.evaluate(request);
        RequestLines.write(decision, result);
        if (response != null && !decision.stopsRequest()) {
          ArrayNode headers = result.putArray("responseHeaders");
          for (Header h : rules.evaluateResponse(request, response)) {
            headers.addArray().add(h.name()).add(h.value());
          }
        }
        return result;
      } catch (RequestException e) {
        return error(result, e.getMessage());
      }
    }

    private static ObjectNode error(ObjectNode result, String message) {
      result.put("decision", "error");
      result.put("error", message);
      return result;
    }
  }

  private static String plural(int n) {
    return n == 1 ? "" : "s";
  }
}
