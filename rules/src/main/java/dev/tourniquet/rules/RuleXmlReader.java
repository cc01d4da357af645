package dev.tourniquet.rules;

import java.io.StringReader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

/**
 * Reads IIS URL Rewrite configuration as it appears on a server: a whole {@code web.config} or
 * {@code applicationHost.config} ({@code <configuration><system.webServer><rewrite>}, also inside a
 * {@code <location>}), or a bare {@code <rewrite>} element. Everything outside the {@code <rewrite>}
 * section is ignored; everything inside it is read strictly: an unknown element or attribute, a malformed
 * boolean or a feature the engine does not implement (rewrite maps, {@code IsFile}, content rewriting) is
 * a {@link Problem} with its line, never silently dropped.
 *
 * <p>Enumerated attributes accept IIS's names case-insensitively and its numeric values
 * ({@code matchType="0"}, {@code patternSyntax="1"}, {@code redirectType="302"}…). DTDs and external
 * entities are refused.
 */
public final class RuleXmlReader {
  private static final int MAX_DEPTH = 32;
  /** Elements that IIS's schema allows once in their parent. */
  private static final Set<String> SINGLE = Set.of("rules", "globalRules", "outboundRules", "preConditions", "match",
      "conditions", "action", "serverVariables");
  /** The elements of a rule. */
  private static final Set<String> RULE_PARTS = Set.of("match", "conditions", "action", "serverVariables");
  /**
   * The JDK's own StAX parser, configured once. Always the JDK's: looking up the configured implementation
   * on every read cost more than parsing a rule, and a parser that another library on an application's
   * class path provides would be one the DTD and external-entity refusals were never tested with. A factory
   * need not be thread-safe, so readers are created under its lock; each reader is used by one thread.
   */
  private static final XMLInputFactory FACTORY = newFactory();

  private RuleXmlReader() {}

  /** A parsed element with its line, for error messages. */
  private record Element(String name, Map<String, String> attributes, List<Element> children, int line) {}

  /**
   * Reads a rule set from XML text.
   *
   * @param xml the document
   * @param source a name for the document in error messages, such as its file name
   * @return the rule set
   * @throws RuleValidationException if the document is not well-formed or its rewrite section is invalid
   */
  public static RuleSet read(String xml, String source) {
    Element root = parse(xml, source);
    List<Problem> problems = new ArrayList<>();
    List<Element> sections = new ArrayList<>();
    // Rewrite sections inside a <location> that names a directory below the site, with that location.
    Map<Element, Element> scopedBy = new IdentityHashMap<>();
    if (root.name().equals("rewrite")) {
      sections.add(root);
    } else if (root.name().equals("configuration")) {
      // In applicationHost.config a location's path begins with the site's name; in a web.config it is a
      // directory of the site.
      boolean applicationHost = root.children().stream().anyMatch(c -> c.name().equals("system.applicationHost"));
      for (Element child : root.children()) {
        if (child.name().equals("system.webServer")) {
          collectRewrite(child, sections);
        } else if (child.name().equals("location")) {
          List<Element> found = new ArrayList<>();
          for (Element inner : child.children()) {
            if (inner.name().equals("system.webServer")) {
              collectRewrite(inner, found);
            }
          }
          if (belowSite(child.attributes().getOrDefault("path", ""), applicationHost)) {
            found.forEach(r -> scopedBy.put(r, child));
          }
          sections.addAll(found);
        }
      }
    } else {
      throw single(source, root.line(), "root element <" + root.name()
          + ">; expected <configuration> (a web.config or applicationHost.config) or <rewrite>");
    }
    if (sections.isEmpty()) {
      throw single(source, root.line(), "no <rewrite> section; expected <configuration><system.webServer><rewrite>");
    }
    if (sections.size() > 1) {
      throw single(source, sections.get(1).line(), "a second <rewrite> section (the first is on line "
          + sections.get(0).line() + "); expected one section per file, since each applies to a different site");
    }
    Element location = scopedBy.get(sections.get(0));
    if (location != null) {
      // IIS URL Rewrite reference, "Rules scope": rules in a <location> apply to URLs under its path, and
      // match the path relative to it. Read as site rules, ^auth/ in <location path="owa"> would never
      // block /owa/auth/…, which IIS blocks.
      throw single(source, location.line(), "rules in <location path=\"" + location.attributes().get("path")
          + "\"> apply on IIS only to URLs under that path, matched relative to it, which is not supported; expected "
          + "the rules at the site level (outside <location>, or in <location path=\".\">) with patterns on the whole path");
    }
    RuleSet ruleSet = new Reader(source, problems).rewrite(sections.get(0));
    if (!problems.isEmpty()) {
      throw new RuleValidationException(problems);
    }
    return ruleSet;
  }

  /** Whether a location's path names a directory below a site rather than the site itself. */
  private static boolean belowSite(String path, boolean applicationHost) {
    String p = path.trim().replaceAll("^[/\\\\]+|[/\\\\]+$", "");
    if (p.isEmpty() || p.equals(".")) {
      return false;
    }
    return !applicationHost || p.contains("/") || p.contains("\\");
  }

  private static void collectRewrite(Element webServer, List<Element> sections) {
    for (Element e : webServer.children()) {
      if (e.name().equals("rewrite")) {
        sections.add(e);
      }
    }
  }

  private static RuleValidationException single(String source, int line, String message) {
    return new RuleValidationException(List.of(new Problem(source + ":" + line, message)));
  }

  private static XMLInputFactory newFactory() {
    XMLInputFactory factory = XMLInputFactory.newDefaultFactory();
    factory.setProperty(XMLInputFactory.SUPPORT_DTD, false);
    factory.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
    factory.setProperty(XMLInputFactory.IS_NAMESPACE_AWARE, false);
    factory.setProperty(XMLInputFactory.IS_COALESCING, true);
    return factory;
  }

  private static Element parse(String xml, String source) {
    XMLStreamReader reader = null;
    try {
      synchronized (FACTORY) {
        reader = FACTORY.createXMLStreamReader(new StringReader(xml));
      }
      List<Element> stack = new ArrayList<>();
      Element root = null;
      while (reader.hasNext()) {
        int event = reader.next();
        switch (event) {
          case XMLStreamConstants.DTD:
            throw single(source, reader.getLocation().getLineNumber(), "document type declaration; expected none (DTDs are refused)");
          case XMLStreamConstants.START_ELEMENT: {
            if (stack.size() >= MAX_DEPTH) {
              throw single(source, reader.getLocation().getLineNumber(), "elements nested deeper than " + MAX_DEPTH
                  + " levels; expected a flatter document");
            }
            Map<String, String> attributes = new LinkedHashMap<>();
            for (int i = 0; i < reader.getAttributeCount(); i++) {
              attributes.put(reader.getAttributeLocalName(i), reader.getAttributeValue(i));
            }
            Element e = new Element(reader.getLocalName(), attributes, new ArrayList<>(), reader.getLocation().getLineNumber());
            if (stack.isEmpty()) {
              root = e;
            } else {
              stack.get(stack.size() - 1).children().add(e);
            }
            stack.add(e);
            break;
          }
          case XMLStreamConstants.END_ELEMENT:
            stack.remove(stack.size() - 1);
            break;
          case XMLStreamConstants.ENTITY_REFERENCE:
            throw single(source, reader.getLocation().getLineNumber(), "entity reference &" + reader.getLocalName()
                + "; expected only the predefined XML entities");
          default:
            break;
        }
      }
      if (root == null) {
        throw single(source, 1, "empty document; expected <configuration> or <rewrite>");
      }
      return root;
    } catch (XMLStreamException e) {
      int line = e.getLocation() == null ? 1 : e.getLocation().getLineNumber();
      String message = e.getMessage() == null ? "malformed XML" : e.getMessage().replaceAll("(?s)^ParseError at \\[row,col\\]:\\[\\d+,\\d+\\]\\s*Message:\\s*", "")
          .replaceAll("\\s+", " ");
      throw single(source, line, "not well-formed XML: " + message.strip() + "; expected a well-formed document");
    } finally {
      if (reader != null) {
        try {
          reader.close();
        } catch (XMLStreamException ignored) {
          // Nothing was held open beyond the string.
        }
      }
    }
  }

  /** Walks the rewrite section, recording problems instead of stopping at the first. */
  private static final class Reader {
    private final String source;
    private final List<Problem> problems;

    Reader(String source, List<Problem> problems) {
      this.source = source;
      this.problems = problems;
    }

    RuleSet rewrite(Element rewrite) {
      attributes(rewrite, Set.of());
      List<InboundRule> global = new ArrayList<>();
      List<InboundRule> rules = new ArrayList<>();
      List<PreCondition> preConditions = new ArrayList<>();
      List<OutboundRule> outbound = new ArrayList<>();
      Map<String, Element> seen = new HashMap<>();
      for (Element e : rewrite.children()) {
        switch (e.name()) {
          case "rules":
            if (once(seen, e, "<rewrite>")) {
              inboundRules(e, rules);
            }
            break;
          case "globalRules":
            if (once(seen, e, "<rewrite>")) {
              inboundRules(e, global);
            }
            break;
          case "outboundRules":
            if (once(seen, e, "<rewrite>")) {
              outboundRules(e, preConditions, outbound);
            }
            break;
          case "allowedServerVariables":
            // Only declares which variables rules may set; it changes nothing about matching.
            break;
          case "rewriteMaps":
          case "providers":
            if (!e.children().isEmpty()) {
              problem(e, "<" + e.name() + "> is not supported; expected rules that do not use rewrite maps or providers");
            }
            break;
          default:
            problem(e, "unknown element <" + e.name()
                + "> in <rewrite>; expected <rules>, <globalRules> or <outboundRules>");
        }
      }
      return new RuleSet(global, rules, preConditions, outbound);
    }

    private void inboundRules(Element collection, List<InboundRule> out) {
      attributes(collection, Set.of());
      for (Element e : collection.children()) {
        if (e.name().equals("clear")) {
          clear(e);
          continue;
        }
        if (!e.name().equals("rule")) {
          problem(e, "unknown element <" + e.name() + "> in <" + collection.name() + ">; expected <rule> or <clear>");
          continue;
        }
        InboundRule rule = inboundRule(e);
        if (rule != null) {
          out.add(rule);
        }
      }
    }

    private InboundRule inboundRule(Element e) {
      Map<String, String> a = attributes(e, Set.of("name", "enabled", "patternSyntax", "stopProcessing"));
      String name = required(e, a, "name");
      boolean enabled = bool(e, a, "enabled", true);
      PatternSyntax syntax = enumValue(e, a, "patternSyntax", PatternSyntax.values(), PatternSyntax.ECMA_SCRIPT);
      boolean stop = bool(e, a, "stopProcessing", false);
      UrlMatch match = null;
      Conditions conditions = Conditions.NONE;
      InboundAction action = null;
      Map<String, Element> seen = new HashMap<>();
      for (Element child : e.children()) {
        if (!once(seen, child, "rule \"" + name + "\"")) {
          continue;
        }
        switch (child.name()) {
          case "match": {
            noChildren(child);
            Map<String, String> m = attributes(child, Set.of("url", "ignoreCase", "negate"));
            String url = required(child, m, "url");
            if (url != null) {
              match = new UrlMatch(url, bool(child, m, "ignoreCase", true), bool(child, m, "negate", false));
            }
            break;
          }
          case "conditions":
            conditions = conditions(child);
            break;
          case "action":
            action = inboundAction(child);
            break;
          case "serverVariables":
            if (!child.children().isEmpty()) {
              problem(child, "<serverVariables> is not supported; expected a rule that sets no server variables");
            }
            break;
          default:
            problem(child, "unknown element <" + child.name() + "> in <rule>; expected <match>, <conditions> or <action>");
        }
      }
      if (match == null && e.children().stream().noneMatch(c -> c.name().equals("match"))) {
        problem(e, "rule \"" + name + "\" has no <match>; expected <match url=\"…\"/>");
      }
      if (action == null && e.children().stream().noneMatch(c -> c.name().equals("action"))) {
        problem(e, "rule \"" + name + "\" has no <action>; expected <action type=\"…\"/>");
      }
      if (name == null || match == null || action == null) {
        return null;
      }
      return new InboundRule(name, enabled, syntax, stop, match, conditions, action);
    }

    private Conditions conditions(Element e) {
      Map<String, String> a = attributes(e, Set.of("logicalGrouping", "trackAllCaptures"));
      LogicalGrouping grouping = enumValue(e, a, "logicalGrouping", LogicalGrouping.values(), LogicalGrouping.MATCH_ALL);
      boolean trackAll = bool(e, a, "trackAllCaptures", false);
      return new Conditions(grouping, trackAll, adds(e));
    }

    private List<Condition> adds(Element parent) {
      List<Condition> items = new ArrayList<>();
      for (Element add : parent.children()) {
        if (add.name().equals("clear")) {
          clear(add);
          continue;
        }
        if (!add.name().equals("add")) {
          problem(add, "unknown element <" + add.name() + "> in <" + parent.name() + ">; expected <add>");
          continue;
        }
        noChildren(add);
        Map<String, String> a = attributes(add, Set.of("input", "pattern", "ignoreCase", "negate", "matchType"));
        String input = required(add, a, "input");
        String pattern = required(add, a, "pattern");
        String matchType = a.getOrDefault("matchType", "Pattern");
        switch (normalise(matchType)) {
          case "pattern", "0":
            break;
          case "isfile", "1", "isdirectory", "2":
            problem(add, "matchType \"" + matchType.trim() + "\" needs the server's file system and is not supported; "
                + "expected Pattern (or 0)");
            continue;
          default:
            problem(add, "matchType=\"" + matchType + "\" is unknown; expected one of Pattern (0), IsFile (1), "
                + "IsDirectory (2), of which only Pattern is supported");
            continue;
        }
        if (input != null && pattern != null) {
          items.add(new Condition(input, pattern, bool(add, a, "ignoreCase", true), bool(add, a, "negate", false)));
        }
      }
      return items;
    }

    private InboundAction inboundAction(Element e) {
      noChildren(e);
      Map<String, String> a = attributes(e, Set.of("type", "url", "appendQueryString", "logRewrittenUrl", "redirectType",
          "statusCode", "subStatusCode", "statusReason", "statusDescription"));
      String type = required(e, a, "type");
      if (type == null) {
        return null;
      }
      boolean append = bool(e, a, "appendQueryString", true);
      bool(e, a, "logRewrittenUrl", false);
      switch (normalise(type)) {
        case "none":
        case "0":
          return new InboundAction.None();
        case "rewrite":
        case "1": {
          String url = required(e, a, "url");
          return url == null ? null : new InboundAction.Rewrite(url, append);
        }
        case "redirect":
        case "2": {
          String url = required(e, a, "url");
          RedirectType redirectType = redirectType(e, a);
          return url == null || redirectType == null ? null : new InboundAction.Redirect(url, append, redirectType);
        }
        case "customresponse":
        case "3": {
          Integer status = integer(e, a, "statusCode", null);
          Integer sub = integer(e, a, "subStatusCode", 0);
          if (status == null || sub == null) {
            return null;
          }
          return new InboundAction.CustomResponse(status, sub, a.getOrDefault("statusReason", ""),
              a.getOrDefault("statusDescription", ""));
        }
        case "abortrequest":
        case "4":
          return new InboundAction.AbortRequest();
        default:
          problem(e, "action type \"" + type + "\"; expected None, Rewrite, Redirect, CustomResponse or AbortRequest");
          return null;
      }
    }

    private RedirectType redirectType(Element e, Map<String, String> a) {
      String value = a.get("redirectType");
      if (value == null) {
        return RedirectType.PERMANENT;
      }
      for (RedirectType t : RedirectType.values()) {
        if (normalise(t.iisName()).equals(normalise(value)) || Integer.toString(t.status()).equals(value.trim())) {
          return t;
        }
      }
      problem(e, "redirectType \"" + value + "\"; expected Permanent, Found, SeeOther or Temporary (or 301, 302, 303, 307)");
      return null;
    }

    private void outboundRules(Element e, List<PreCondition> preConditions, List<OutboundRule> out) {
      attributes(e, Set.of());
      Map<String, Element> seen = new HashMap<>();
      for (Element child : e.children()) {
        switch (child.name()) {
          case "preConditions":
            if (!once(seen, child, "<outboundRules>")) {
              break;
            }
            attributes(child, Set.of());
            for (Element pc : child.children()) {
              if (pc.name().equals("clear")) {
                clear(pc);
                continue;
              }
              if (!pc.name().equals("preCondition")) {
                problem(pc, "unknown element <" + pc.name() + "> in <preConditions>; expected <preCondition>");
                continue;
              }
              Map<String, String> a = attributes(pc, Set.of("name", "logicalGrouping", "patternSyntax"));
              String name = required(pc, a, "name");
              LogicalGrouping grouping = enumValue(pc, a, "logicalGrouping", LogicalGrouping.values(), LogicalGrouping.MATCH_ALL);
              PatternSyntax syntax = enumValue(pc, a, "patternSyntax", PatternSyntax.values(), PatternSyntax.ECMA_SCRIPT);
              List<Condition> items = adds(pc);
              if (name != null) {
                preConditions.add(new PreCondition(name, grouping, syntax, items));
              }
            }
            break;
          case "rule": {
            OutboundRule rule = outboundRule(child);
            if (rule != null) {
              out.add(rule);
            }
            break;
          }
          case "customTags":
            if (!child.children().isEmpty()) {
              problem(child, "<customTags> is for response content rewriting, which is not supported; expected none");
            }
            break;
          case "clear":
            clear(child);
            break;
          default:
            problem(child, "unknown element <" + child.name() + "> in <outboundRules>; expected <preConditions> or <rule>");
        }
      }
    }

    private OutboundRule outboundRule(Element e) {
      Map<String, String> a = attributes(e, Set.of("name", "enabled", "patternSyntax", "stopProcessing", "preCondition"));
      String name = required(e, a, "name");
      boolean enabled = bool(e, a, "enabled", true);
      PatternSyntax syntax = enumValue(e, a, "patternSyntax", PatternSyntax.values(), PatternSyntax.ECMA_SCRIPT);
      boolean stop = bool(e, a, "stopProcessing", false);
      Optional<String> preCondition = Optional.ofNullable(a.get("preCondition")).filter(s -> !s.isEmpty());
      HeaderMatch match = null;
      Conditions conditions = Conditions.NONE;
      OutboundAction action = null;
      Map<String, Element> seen = new HashMap<>();
      for (Element child : e.children()) {
        if (!once(seen, child, "outbound rule \"" + name + "\"")) {
          continue;
        }
        switch (child.name()) {
          case "match": {
            noChildren(child);
            Map<String, String> m = attributes(child, Set.of("serverVariable", "pattern", "ignoreCase", "negate",
                "filterByTags", "customTags"));
            String variable = m.get("serverVariable");
            if (variable == null || variable.isEmpty()) {
              problem(child, "<match> without serverVariable rewrites response content, which is not supported; "
                  + "expected serverVariable=\"RESPONSE_<Header_Name>\"");
              break;
            }
            if (!m.getOrDefault("filterByTags", "").isEmpty() || !m.getOrDefault("customTags", "").isEmpty()) {
              problem(child, "filterByTags and customTags apply to content rewriting; expected neither with serverVariable");
              break;
            }
            String pattern = required(child, m, "pattern");
            if (pattern != null) {
              match = new HeaderMatch(variable, pattern, bool(child, m, "ignoreCase", true), bool(child, m, "negate", false));
            }
            break;
          }
          case "conditions":
            conditions = conditions(child);
            break;
          case "action": {
            noChildren(child);
            Map<String, String> m = attributes(child, Set.of("type", "value", "replace"));
            String type = required(child, m, "type");
            if (!bool(child, m, "replace", true)) {
              problem(child, "replace=\"false\" is not supported; expected replace=\"true\" (the default)");
            }
            if (type == null) {
              break;
            }
            switch (normalise(type)) {
              case "none":
              case "0":
                action = new OutboundAction.None();
                break;
              case "rewrite":
              case "1":
                action = new OutboundAction.Rewrite(m.getOrDefault("value", ""));
                break;
              default:
                problem(child, "outbound action type \"" + type + "\"; expected Rewrite or None");
            }
            break;
          }
          default:
            problem(child, "unknown element <" + child.name() + "> in outbound <rule>; expected <match>, <conditions> or <action>");
        }
      }
      if (match == null || action == null || name == null) {
        if (name != null && action == null && e.children().stream().noneMatch(c -> c.name().equals("action"))) {
          problem(e, "outbound rule \"" + name + "\" has no <action>; expected <action type=\"Rewrite\" value=\"…\"/>");
        }
        if (name != null && e.children().stream().noneMatch(c -> c.name().equals("match"))) {
          problem(e, "outbound rule \"" + name + "\" has no <match>; expected <match serverVariable=\"RESPONSE_…\" pattern=\"…\"/>");
        }
        return null;
      }
      return new OutboundRule(name, enabled, syntax, stop, preCondition, match, conditions, action);
    }

    /**
     * Whether {@code child} is the first element of its name among its siblings. IIS refuses a configuration
     * element defined twice; reading the second as well would silently replace the first (a rule's
     * {@code <conditions>}) or merge two sections, so it is a problem naming both lines.
     */
    private boolean once(Map<String, Element> seen, Element child, String where) {
      if (!SINGLE.contains(child.name())) {
        return true;
      }
      Element first = seen.putIfAbsent(child.name(), child);
      if (first == null) {
        return true;
      }
      problem(child, "a second <" + child.name() + "> in " + where + " (the first is on line " + first.line()
          + "); expected one <" + child.name() + "> at most");
      return false;
    }

    /**
     * Refuses what an empty element holds. {@code <match>}, {@code <action>}, {@code <add>} and
     * {@code <clear>} have attributes only; a {@code <match url="…">} left open around the rule's
     * {@code <conditions>} would otherwise read as a rule without conditions that matches every request.
     */
    private void noChildren(Element e) {
      for (Element child : e.children()) {
        String hint = RULE_PARTS.contains(child.name()) && RULE_PARTS.contains(e.name())
            ? "; close <" + e.name() + "> with \"/>\": <" + child.name() + "> belongs directly inside <rule>"
            : "";
        problem(child, "element <" + child.name() + "> inside <" + e.name() + ">; expected <" + e.name()
            + "> without child elements" + hint);
      }
    }

    /** {@code <clear/>}: nothing is inherited, so it has no effect; it takes no attributes and no content. */
    private void clear(Element e) {
      attributes(e, Set.of());
      noChildren(e);
    }

    private Map<String, String> attributes(Element e, Set<String> allowed) {
      for (String name : e.attributes().keySet()) {
        if (!allowed.contains(name)) {
          problem(e, "unknown attribute " + name + " on <" + e.name() + ">; expected "
              + (allowed.isEmpty() ? "no attributes" : "one of " + allowed.stream().sorted().toList()));
        }
      }
      return e.attributes();
    }

    private String required(Element e, Map<String, String> a, String name) {
      String value = a.get(name);
      if (value == null) {
        problem(e, "<" + e.name() + "> has no " + name + " attribute; expected " + name + "=\"…\"");
      }
      return value;
    }

    private boolean bool(Element e, Map<String, String> a, String name, boolean fallback) {
      String value = a.get(name);
      if (value == null) {
        return fallback;
      }
      String v = value.trim();
      if (v.equalsIgnoreCase("true")) {
        return true;
      }
      if (v.equalsIgnoreCase("false")) {
        return false;
      }
      problem(e, name + "=\"" + value + "\"; expected true or false");
      return fallback;
    }

    private Integer integer(Element e, Map<String, String> a, String name, Integer fallback) {
      String value = a.get(name);
      if (value == null) {
        if (fallback == null) {
          problem(e, "<" + e.name() + "> has no " + name + " attribute; expected " + name + "=\"…\"");
        }
        return fallback;
      }
      try {
        return Integer.parseInt(value.trim());
      } catch (NumberFormatException ex) {
        problem(e, name + "=\"" + value + "\"; expected a whole number");
        return null;
      }
    }

    private <T extends Enum<T>> T enumValue(Element e, Map<String, String> a, String name, T[] values, T fallback) {
      String value = a.get(name);
      if (value == null) {
        return fallback;
      }
      String v = value.trim();
      for (T t : values) {
        if (normalise(iisName(t)).equals(normalise(v)) || Integer.toString(t.ordinal()).equals(v)) {
          return t;
        }
      }
      List<String> names = new ArrayList<>();
      for (T t : values) {
        names.add(iisName(t) + " (" + t.ordinal() + ")");
      }
      problem(e, name + "=\"" + value + "\"; expected one of " + String.join(", ", names));
      return fallback;
    }

    private static String iisName(Enum<?> value) {
      if (value instanceof PatternSyntax p) {
        return p.iisName();
      }
      return ((LogicalGrouping) value).iisName();
    }

    private void problem(Element e, String message) {
      problems.add(new Problem(source + ":" + e.line(), message));
    }
  }

  private static String normalise(String s) {
    return s.trim().toLowerCase(Locale.ROOT);
  }
}
