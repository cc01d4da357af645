package dev.tourniquet.rules;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Reads a rule set in either form, telling them apart by their first character: {@code <} for IIS XML,
 * <code>{</code> for the native JSON form.
 */
public final class RuleSets {
  private RuleSets() {}

  /**
   * Reads a rule set from text in either form.
   *
   * @param text the XML or JSON text
   * @param source a name for the text in error messages
   * @return the rule set
   * @throws RuleValidationException if the text is in neither form, or is invalid in its form
   */
  public static RuleSet read(String text, String source) {
    String s = text.startsWith("\uFEFF") ? text.substring(1) : text;
    int i = 0;
    while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
      i++;
    }
    if (i < s.length() && s.charAt(i) == '<') {
      return RuleXmlReader.read(s, source);
    }
    if (i < s.length() && s.charAt(i) == '{') {
      return RuleJson.read(s, source);
    }
    throw new RuleValidationException(List.of(new Problem(source,
        "neither XML nor JSON; expected IIS <rewrite> XML (starting with '<') or the JSON form (starting with '{')")));
  }

  /**
   * Reads a rule set from a file, refusing files over the limit before reading them whole.
   *
   * @param file the file
   * @param limits the limits; {@link Limits#maxRuleFileBytes()} caps the file
   * @return the rule set
   * @throws RuleValidationException if the file is too large, not UTF-8, or invalid
   * @throws IOException if the file cannot be read
   */
  public static RuleSet read(Path file, Limits limits) throws IOException {
    String source = file.getFileName() == null ? file.toString() : file.getFileName().toString();
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(limits.maxRuleFileBytes() + 1);
    }
    if (bytes.length > limits.maxRuleFileBytes()) {
      throw new RuleValidationException(List.of(new Problem(source, String.format(Locale.ROOT,
          "file larger than the limit of %d bytes; expected a smaller rule file", limits.maxRuleFileBytes()))));
    }
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(java.nio.ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw new RuleValidationException(List.of(new Problem(source, "not valid UTF-8; expected a UTF-8 text file")));
    }
    return read(text, source);
  }
}
