package dev.tourniquet.feed.mitigation;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tourniquet.rules.RuleJson;
import dev.tourniquet.rules.RuleSet;
import java.nio.charset.StandardCharsets;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.Optional;

/**
 * Writes a mitigation as its canonical document: UTF-8 JSON, two-space indentation, fields in a fixed
 * order, every default written out ({@code mode}, {@code status}, empty {@code cves}), {@code expires} and
 * {@code extensions} only when present, and rules in the form they were read in (IIS XML text verbatim, or
 * the native JSON form with every field explicit). {@code MitigationParser.parse(write(m))} equals
 * {@code m}, and writing that again gives the same bytes.
 */
public final class MitigationWriter {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private MitigationWriter() {}

  /**
   * Writes the canonical document.
   *
   * @param mitigation the mitigation
   * @return the document's bytes, UTF-8, ending with a newline
   * @throws IllegalArgumentException if the document would exceed {@link MitigationParser#MAX_BYTES}, or
   *     a rule set holds text that is not Unicode (an unpaired surrogate)
   */
  public static byte[] write(Mitigation mitigation) {
    ObjectNode root = NODES.objectNode();
    root.put("schema", Mitigation.SCHEMA);
    root.put("id", mitigation.id());
    root.put("revision", mitigation.revision());
    root.put("title", mitigation.title());
    root.put("description", mitigation.description());
    root.put("severity", mitigation.severity().jsonName());
    ArrayNode cves = root.putArray("cves");
    mitigation.cves().forEach(cves::add);
    ArrayNode references = root.putArray("references");
    mitigation.references().forEach(references::add);
    ObjectNode applicability = root.putObject("applicability");
    applicability.put("product", mitigation.applicability().product());
    ArrayNode versions = applicability.putArray("versions");
    for (VersionRange range : mitigation.applicability().versions()) {
      ObjectNode r = versions.addObject();
      range.from().ifPresent(v -> r.put("from", v.toString()));
      range.before().ifPresent(v -> r.put("before", v.toString()));
      range.fixed().ifPresent(v -> r.put("fixed", v.toString()));
    }
    root.put("mode", mitigation.mode().jsonName());
    mitigation.expires().ifPresent(e -> root.put("expires", DateTimeFormatter.ISO_INSTANT.format(e)));
    ArrayNode actions = root.putArray("actions");
    for (Action action : mitigation.actions()) {
      action(action, actions.addObject());
    }
    if (!mitigation.extensions().isEmpty()) {
      ObjectNode extensions = root.putObject("extensions");
      for (Map.Entry<String, String> e : mitigation.extensions().entrySet()) {
        try {
          extensions.set(e.getKey(), JsonText.parse(e.getValue()));
        } catch (JsonProcessingException ex) {
          throw new IllegalStateException("extension values are validated JSON", ex);
        }
      }
    }
    String text = JsonText.pretty(root);
    String surrogate = Fields.unpairedSurrogate(text);
    if (surrogate != null) {
      throw new IllegalArgumentException("expected a document in Unicode text but found " + surrogate);
    }
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    if (bytes.length > MitigationParser.MAX_BYTES) {
      throw new IllegalArgumentException("expected a document of at most " + MitigationParser.MAX_BYTES
          + " bytes but found " + bytes.length);
    }
    return bytes;
  }

  private static void action(Action action, ObjectNode node) {
    node.put("kind", action.kind());
    if (action instanceof Action.RequestRules r) {
      rules(r.rules(), r.xml(), node);
    } else if (action instanceof Action.ResponseRules r) {
      rules(r.rules(), r.xml(), node);
    } else if (action instanceof Action.DisableService s) {
      node.put("service", s.service());
      ArrayNode managers = node.putArray("managers");
      s.managers().forEach(m -> managers.add(m.jsonName()));
    } else if (action instanceof Action.DisableEndpoint e) {
      node.put("path", e.path());
      node.put("status", e.status());
      e.appPool().ifPresent(p -> node.put("appPool", p));
    } else if (action instanceof Action.AuthPolicy a) {
      node.put("path", a.path());
      ArrayNode refuse = node.putArray("refuse");
      a.refuse().forEach(r -> refuse.add(r.jsonName()));
    }
  }

  private static void rules(RuleSet rules, Optional<String> xml, ObjectNode node) {
    if (xml.isPresent()) {
      node.put("rules", xml.get());
      return;
    }
    try {
      node.set("rules", JsonText.parse(RuleJson.write(rules)));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("RuleJson writes JSON", e);
    }
  }
}
