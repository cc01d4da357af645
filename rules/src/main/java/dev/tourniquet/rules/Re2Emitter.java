package dev.tourniquet.rules;

/**
 * Writes a {@link RegexNode} tree in RE2 syntax, keeping .NET's ECMAScript meaning where the two
 * differ: {@code $} also matches before a final newline, {@code \s} is {@code [ \f\n\r\t\v]}, and every
 * character outside printable ASCII is written as {@code \x{…}}.
 *
 * <p>.NET's {@code $} (without {@code m}) is {@code (?=\n?\z)}; RE2 has no lookahead, so it is written
 * {@code (\n?)\z}, which consumes the final newline. That decides the same as long as nothing but the end
 * of the pattern follows the {@code $} ({@link PatternCompiler} refuses the rest), and with captures the
 * extra group tells {@link CompiledPattern} that the newline was consumed by a {@code $}, so it can leave
 * it out of every group that ends there, as .NET does.
 */
final class Re2Emitter {
  private Re2Emitter() {}

  /**
   * A pattern written for RE2 with its captures.
   *
   * @param pattern the RE2 pattern
   * @param re2OfCapture for each capturing group by position (index 0 for the first), its RE2 group number
   * @param finalNewlineGroups the RE2 groups, one per {@code $}, that hold the final newline a {@code $} consumed
   */
  record Emitted(String pattern, int[] re2OfCapture, int[] finalNewlineGroups) {}

  /** Counts RE2's groups as they are written. */
  private static final class Groups {
    final IntBuffer re2OfCapture = new IntBuffer(4);
    final IntBuffer finalNewline = new IntBuffer(4);
    int next;
  }

  static Emitted emit(RegexNode node) {
    StringBuilder out = new StringBuilder();
    Groups groups = new Groups();
    emit(node, out, false, groups);
    return new Emitted(out.toString(), groups.re2OfCapture.toArray(), groups.finalNewline.toArray());
  }

  /**
   * The same pattern for a yes/no search: groups do not capture and every quantifier is lazy. Both
   * change which match is reported, never whether one exists (the set of spans that can match is the
   * same); but RE2/J stops at the first match found instead of extending a greedy {@code .*} to the
   * end of the line to report the leftmost-first span.
   */
  static String emitForDecision(RegexNode node) {
    StringBuilder out = new StringBuilder();
    emit(node, out, true, new Groups());
    return out.toString();
  }

  private static void emit(RegexNode node, StringBuilder out, boolean decision, Groups groups) {
    if (node instanceof RegexNode.Empty) {
      out.append("(?:)");
    } else if (node instanceof RegexNode.Literal lit) {
      int[] orbit = lit.foldCase() ? CaseOrbits.orbit(lit.codePoint()) : null;
      if (orbit == null) {
        literal(lit.codePoint(), out);
      } else {
        CharRanges members = new CharRanges();
        for (int cp : orbit) {
          members.add(cp, cp);
        }
        charClass(members.toArray(), out);
      }
    } else if (node instanceof RegexNode.CharClass cls) {
      charClass(cls.foldCase() ? CaseOrbits.fold(cls) : cls.ranges(), out);
    } else if (node instanceof RegexNode.AnyChar any) {
      out.append(any.dotAll() ? "(?s:.)" : "(?-s:.)");
    } else if (node instanceof RegexNode.LineStart) {
      out.append('^');
    } else if (node instanceof RegexNode.LineEnd end) {
      // .NET's $ (without m) is (?=\n?\z); RE2 has no lookahead, and consuming the optional final
      // newline matches the same inputs when nothing follows (see the class comment). With m, RE2's and
      // .NET's $ agree.
      if (end.multiline()) {
        out.append("(?m:$)");
      } else if (decision) {
        out.append("(?:\\n?\\z)");
      } else {
        groups.finalNewline.add(++groups.next);
        out.append("(?:(\\n?)\\z)");
      }
    } else if (node instanceof RegexNode.TextStart) {
      out.append("\\A");
    } else if (node instanceof RegexNode.TextEnd) {
      out.append("\\z");
    } else if (node instanceof RegexNode.WordBoundary wb) {
      out.append(wb.negated() ? "\\B" : "\\b");
    } else if (node instanceof RegexNode.Group group) {
      if (group.capture() > 0 && !decision) {
        groups.re2OfCapture.add(++groups.next);
        out.append('(');
      } else if (!withoutCase(group.flags()).isEmpty()) {
        out.append("(?").append(withoutCase(group.flags())).append(':');
      } else {
        out.append("(?:");
      }
      emit(group.body(), out, decision, groups);
      out.append(')');
    } else if (node instanceof RegexNode.Flags flags) {
      if (!withoutCase(flags.flags()).isEmpty()) {
        out.append("(?").append(withoutCase(flags.flags())).append(')');
      }
    } else if (node instanceof RegexNode.Repeat rep) {
      out.append("(?:");
      emit(rep.body(), out, decision, groups);
      out.append(')');
      if (rep.min() == 0 && rep.max() == -1) {
        out.append('*');
      } else if (rep.min() == 1 && rep.max() == -1) {
        out.append('+');
      } else if (rep.min() == 0 && rep.max() == 1) {
        out.append('?');
      } else if (rep.max() == -1) {
        out.append('{').append(rep.min()).append(",}");
      } else if (rep.min() == rep.max()) {
        out.append('{').append(rep.min()).append('}');
      } else {
        out.append('{').append(rep.min()).append(',').append(rep.max()).append('}');
      }
      if (!rep.greedy() || decision) {
        out.append('?');
      }
    } else if (node instanceof RegexNode.Concat concat) {
      for (RegexNode item : concat.items()) {
        emit(item, out, decision, groups);
      }
    } else if (node instanceof RegexNode.Alternation alt) {
      out.append("(?:");
      for (int i = 0; i < alt.items().size(); i++) {
        if (i > 0) {
          out.append('|');
        }
        emit(alt.items().get(i), out, decision, groups);
      }
      out.append(')');
    } else if (node instanceof RegexNode.Lookahead) {
      throw new IllegalStateException("lookahead reached the emitter; the compiler must rewrite or reject it");
    } else {
      throw new IllegalStateException("unknown node " + node);
    }
  }

  /**
   * Inline flags without {@code i}: the parser has already recorded case-insensitivity on each literal
   * and class. Returns "" when nothing is left ({@code (?i)} or {@code (?-i)}).
   */
  private static String withoutCase(String flags) {
    String f = flags.replace("i", "");
    return f.endsWith("-") ? f.substring(0, f.length() - 1) : f;
  }

  private static void literal(int cp, StringBuilder out) {
    if (cp < 0x80 && (Character.isLetterOrDigit(cp) || cp == ' ' || cp == '_' || cp == '-' || cp == '/'
        || cp == ',' || cp == '=' || cp == ':' || cp == ';' || cp == '@' || cp == '&' || cp == '%'
        || cp == '\'' || cp == '"' || cp == '~' || cp == '!' || cp == '<' || cp == '>' || cp == '#')) {
      out.append((char) cp);
    } else if (cp < 0x80 && cp > 0x20 && cp != 0x7F) {
      out.append('\\').append((char) cp);
    } else {
      out.append("\\x{").append(Integer.toHexString(cp)).append('}');
    }
  }

  private static void charClass(int[] r, StringBuilder out) {
    if (r.length == 0) {
      // An empty class matches nothing; RE2 spells that [^\x{0}-\x{10ffff}].
      out.append("[^\\x{0}-\\x{10ffff}]");
      return;
    }
    if (r[r.length - 1] == CharRanges.MAX_CODE_POINT) {
      // A class reaching the top of Unicode is a negation: write it as [^complement], since RE2/J case
      // folds an explicit range code point by code point, which takes seconds for a range of a million.
      int[] complement = CharRanges.negate(r);
      if (complement.length == 0) {
        out.append("(?s:.)");
        return;
      }
      out.append("[^");
      ranges(complement, out);
      out.append(']');
      return;
    }
    out.append('[');
    ranges(r, out);
    out.append(']');
  }

  private static void ranges(int[] r, StringBuilder out) {
    for (int i = 0; i < r.length; i += 2) {
      classChar(r[i], out);
      if (r[i + 1] != r[i]) {
        out.append('-');
        classChar(r[i + 1], out);
      }
    }
  }

  private static void classChar(int cp, StringBuilder out) {
    if (cp < 0x80 && Character.isLetterOrDigit(cp)) {
      out.append((char) cp);
    } else {
      out.append("\\x{").append(Integer.toHexString(cp)).append('}');
    }
  }
}
