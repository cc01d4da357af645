package dev.tourniquet.rules;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * An IIS input or action string such as <code>{UrlDecode:{REQUEST_URI}}</code> or
 * <code>https://{HTTP_HOST}/{R:1}</code>: literal text with server variables, back-references
 * <code>{R:n}</code> and <code>{C:n}</code>, and the functions <code>ToLower</code>, <code>UrlEncode</code>
 * and <code>UrlDecode</code>, nested to any depth up to {@link #MAX_DEPTH}. Whitespace around a function's
 * argument is ignored, as IIS accepts <code>{UrlDecode: {REQUEST_URI}}</code>.
 */
final class Template {
  static final int MAX_DEPTH = 8;

  /** Request variables every inbound rule may use; {@code HTTP_*} (any request header) comes on top. */
  static final Set<String> REQUEST_VARIABLES = Set.of(
      "URL", "QUERY_STRING", "REQUEST_URI", "UNENCODED_URL", "HTTPS", "HTTP_HOST", "SERVER_PORT",
      "REMOTE_ADDR", "REQUEST_METHOD", "SERVER_PROTOCOL", "HTTP_URL", "HTTP_METHOD", "HTTP_VERSION");

  /**
   * IIS server variables that look like request headers but are not: the raw URL, the method and the
   * protocol as sent (IIS Server Variables reference). A header named {@code URL} must not stand in for
   * them, and a rule reading them must not see an absent header's empty value.
   */
  static final Set<String> NON_HEADER_HTTP_VARIABLES = Set.of("HTTP_URL", "HTTP_METHOD", "HTTP_VERSION");

  /**
   * {@code HTTP_X_ORIGINAL_URL} is where IIS URL Rewrite keeps the original URL, decoded, once it rewrites
   * (URL Rewrite Module Configuration Reference, "Preserving Original URL"); a rule written for IIS may
   * rely on it. Here nothing sets it: the name could only read an {@code X-Original-URL} request header,
   * which any client can send with any value or leave out, so such a rule could be steered or skipped by
   * the very request it is meant to stop. Refused, naming the variables that hold the original target.
   */
  static final String ORIGINAL_URL = "HTTP_X_ORIGINAL_URL";

  /** Where a template is used, which decides the variables it may name. */
  enum Scope {
    /** Inbound rules: request variables only. */
    REQUEST,
    /** Outbound rules and preconditions: request variables and {@code RESPONSE_*}. */
    RESPONSE
  }

  enum Function {
    TO_LOWER("ToLower"),
    URL_ENCODE("UrlEncode"),
    URL_DECODE("UrlDecode");

    final String iisName;

    Function(String iisName) {
      this.iisName = iisName;
    }
  }

  sealed interface Part {}

  record Text(String text) implements Part {}

  /**
   * A server variable, upper-cased; for a request header ({@code HTTP_*}), the hash of its suffix,
   * computed once here rather than on every lookup ({@link RequestContext#keyHash}).
   */
  record Variable(String name, boolean header, int headerHash) implements Part {
    Variable(String name) {
      this(name, isHeader(name), isHeader(name) ? RequestContext.keyHash(name, 5) : 0);
    }

    private static boolean isHeader(String name) {
      return name.startsWith("HTTP_") && !NON_HEADER_HTTP_VARIABLES.contains(name);
    }
  }

  /** {@code {R:n}} (kind 'R') or {@code {C:n}} (kind 'C'). */
  record BackReference(char kind, int index) implements Part {}

  record Call(Function function, Template argument) implements Part {}

  /** What a template expands against. */
  interface Environment {
    String variable(String name);

    /** The variable's value; an environment may use what the variable precomputed. */
    default String variable(Variable variable) {
      return variable(variable.name());
    }

    String ruleGroup(int index);

    String conditionGroup(int index);
  }

  private final List<Part> parts;
  private final String canonical;

  private Template(List<Part> parts) {
    this.parts = List.copyOf(parts);
    this.canonical = canonical(parts);
  }

  List<Part> parts() {
    return parts;
  }

  /** A normal form: two templates with the same canonical form expand to the same value. */
  String canonical() {
    return canonical;
  }

  /** True when the template is a single literal text (or empty). */
  boolean isConstant() {
    return parts.stream().allMatch(p -> p instanceof Text);
  }

  /** True when the template refers to {@code {R:n}} or {@code {C:n}}, so its value depends on earlier matches. */
  boolean usesBackReferences() {
    for (Part part : parts) {
      if (part instanceof BackReference) {
        return true;
      }
      if (part instanceof Call call && call.argument().usesBackReferences()) {
        return true;
      }
    }
    return false;
  }

  /** True when the template reads {@code {URL}}, the request's decoded path, at any depth of nesting. */
  boolean readsUrl() {
    for (Part part : parts) {
      if (part instanceof Variable v && v.name().equals("URL")) {
        return true;
      }
      if (part instanceof Call call && call.argument().readsUrl()) {
        return true;
      }
    }
    return false;
  }

  /** The highest index of a back-reference of the given kind, or -1. */
  int maxBackReference(char kind) {
    int max = -1;
    for (Part part : parts) {
      if (part instanceof BackReference ref && ref.kind() == kind) {
        max = Math.max(max, ref.index());
      } else if (part instanceof Call call) {
        max = Math.max(max, call.argument().maxBackReference(kind));
      }
    }
    return max;
  }

  String expand(Environment env) {
    if (parts.size() == 1) {
      return expandPart(parts.get(0), env);
    }
    StringBuilder out = new StringBuilder();
    for (Part part : parts) {
      out.append(expandPart(part, env));
    }
    return out.toString();
  }

  private static String expandPart(Part part, Environment env) {
    if (part instanceof Text text) {
      return text.text();
    }
    if (part instanceof Variable variable) {
      return env.variable(variable);
    }
    if (part instanceof BackReference ref) {
      return ref.kind() == 'R' ? env.ruleGroup(ref.index()) : env.conditionGroup(ref.index());
    }
    Call call = (Call) part;
    String value = call.argument().expand(env);
    switch (call.function()) {
      case TO_LOWER:
        return value.toLowerCase(Locale.ROOT);
      case URL_ENCODE:
        return UrlCodec.encode(value);
      default:
        return UrlCodec.decodeLenient(value);
    }
  }

  /**
   * Parses a template.
   *
   * @throws RegexSyntaxException (reused as "this string is malformed") naming the problem and the offset
   */
  static Template parse(String source, Scope scope) throws RegexSyntaxException {
    return new Parser(source, scope).parse(0, source.length(), 0);
  }

  private static final class Parser {
    private final String source;
    private final Scope scope;

    Parser(String source, Scope scope) {
      this.source = source;
      this.scope = scope;
    }

    Template parse(int from, int to, int depth) throws RegexSyntaxException {
      if (depth > MAX_DEPTH) {
        throw new RegexSyntaxException("functions nested deeper than " + MAX_DEPTH + " levels in '" + source
            + "'; expected at most " + MAX_DEPTH);
      }
      List<Part> parts = new ArrayList<>();
      StringBuilder text = new StringBuilder();
      int i = from;
      while (i < to) {
        char c = source.charAt(i);
        if (c != '{') {
          text.append(c);
          i++;
          continue;
        }
        int close = matchingBrace(i, to);
        if (text.length() > 0) {
          parts.add(new Text(text.toString()));
          text.setLength(0);
        }
        parts.add(token(i + 1, close, depth));
        i = close + 1;
      }
      if (text.length() > 0) {
        parts.add(new Text(text.toString()));
      }
      return new Template(parts);
    }

    private int matchingBrace(int open, int to) throws RegexSyntaxException {
      int depth = 0;
      for (int i = open; i < to; i++) {
        char c = source.charAt(i);
        if (c == '{') {
          depth++;
        } else if (c == '}') {
          depth--;
          if (depth == 0) {
            return i;
          }
        }
      }
      throw new RegexSyntaxException("unclosed '{' at offset " + open + " in '" + source
          + "'; expected {VARIABLE}, {R:n}, {C:n} or {Function:…} closed by '}'");
    }

    private Part token(int from, int to, int depth) throws RegexSyntaxException {
      String body = source.substring(from, to);
      int colon = body.indexOf(':');
      if (colon < 0) {
        return variable(body.trim(), from);
      }
      String head = body.substring(0, colon).trim();
      String rest = body.substring(colon + 1);
      if (head.equalsIgnoreCase("R") || head.equalsIgnoreCase("C")) {
        String digits = rest.trim();
        if (digits.isEmpty() || digits.length() > 2 || !digits.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
          throw new RegexSyntaxException("malformed back-reference '{" + body + "}' at offset " + (from - 1) + " in '"
              + source + "'; expected {R:n} or {C:n} with n from 0 to 99");
        }
        return new BackReference(Character.toUpperCase(head.charAt(0)), Integer.parseInt(digits));
      }
      for (Function f : Function.values()) {
        if (f.iisName.equalsIgnoreCase(head)) {
          int argFrom = from + colon + 1;
          int argTo = to;
          while (argFrom < argTo && Character.isWhitespace(source.charAt(argFrom))) {
            argFrom++;
          }
          while (argTo > argFrom && Character.isWhitespace(source.charAt(argTo - 1))) {
            argTo--;
          }
          return new Call(f, parse(argFrom, argTo, depth + 1));
        }
      }
      throw new RegexSyntaxException("unknown function or rewrite map '" + head + "' at offset " + (from - 1) + " in '"
          + source + "'; expected ToLower, UrlEncode or UrlDecode (rewrite maps are not supported)");
    }

    private Part variable(String name, int from) throws RegexSyntaxException {
      if (name.isEmpty() || !name.chars().allMatch(ch -> (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
          || (ch >= '0' && ch <= '9') || ch == '_')) {
        throw new RegexSyntaxException("malformed server variable '{" + name + "}' at offset " + (from - 1) + " in '"
            + source + "'; expected a name of letters, digits and _");
      }
      String upper = name.toUpperCase(Locale.ROOT);
      if (upper.equals(ORIGINAL_URL)) {
        throw new RegexSyntaxException("server variable {" + name + "} at offset " + (from - 1) + " in '" + source
            + "' is set by IIS URL Rewrite to the original URL when it rewrites; here it would be the client's own "
            + "X-Original-URL header, which a client can forge or leave out; expected {UrlDecode:{REQUEST_URI}} for the "
            + "original request target decoded, {REQUEST_URI} for it as sent, or {URL} for the current path");
      }
      if (REQUEST_VARIABLES.contains(upper) || (upper.startsWith("HTTP_") && upper.length() > 5)) {
        return new Variable(upper);
      }
      if (upper.startsWith("RESPONSE_") && upper.length() > 9) {
        if (scope == Scope.RESPONSE) {
          return new Variable(upper);
        }
        throw new RegexSyntaxException("server variable {" + name + "} at offset " + (from - 1)
            + " names a response header, which inbound rules cannot see; expected a request variable");
      }
      throw new RegexSyntaxException("unknown server variable {" + name + "} at offset " + (from - 1) + " in '" + source
          + "'; expected one of " + String.join(", ", REQUEST_VARIABLES.stream().sorted().toList())
          + ", HTTP_<HEADER>" + (scope == Scope.RESPONSE ? ", RESPONSE_<HEADER>" : ""));
    }
  }

  private static String canonical(List<Part> parts) {
    StringBuilder out = new StringBuilder();
    for (Part part : parts) {
      if (part instanceof Text text) {
        out.append(text.text().replace("{", "{{"));
      } else if (part instanceof Variable variable) {
        out.append('{').append(variable.name()).append('}');
      } else if (part instanceof BackReference ref) {
        out.append('{').append(ref.kind()).append(':').append(ref.index()).append('}');
      } else {
        Call call = (Call) part;
        out.append('{').append(call.function().iisName).append(':').append(call.argument().canonical()).append('}');
      }
    }
    return out.toString();
  }

  @Override
  public String toString() {
    return canonical;
  }
}
