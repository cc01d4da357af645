package dev.tourniquet.agent.enforce.nginx;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads nginx configuration text the way nginx's own reader ({@code ngx_conf_read_token}) does, far
 * enough for the tests to check what a generated include really says: words, double- and single-quoted
 * strings (where {@code \"}, {@code \'} and {@code \\} stand for the character and {@code \t \r \n} for
 * control characters; any other backslash stays), {@code #} comments, {@code ;}, <code>{</code> and
 * <code>}</code>.
 */
final class NginxTokens {
  private NginxTokens() {}

  /** One directive: how deep in blocks it stands, and its tokens without the closing ';' or '{'. */
  record Statement(int depth, List<String> tokens) {
    String name() {
      return tokens.get(0);
    }
  }

  /** The tokens of the text, with ';', '{' and '}' as tokens of their own. */
  static List<String> read(String text) {
    List<String> out = new ArrayList<>();
    int i = 0;
    while (i < text.length()) {
      char c = text.charAt(i);
      if (Character.isWhitespace(c)) {
        i++;
      } else if (c == '#') {
        while (i < text.length() && text.charAt(i) != '\n') {
          i++;
        }
      } else if (c == ';' || c == '{' || c == '}') {
        out.add(String.valueOf(c));
        i++;
      } else if (c == '"' || c == '\'') {
        StringBuilder token = new StringBuilder();
        i++;
        while (true) {
          if (i >= text.length()) {
            throw new IllegalArgumentException("unterminated quoted string in: " + text);
          }
          char q = text.charAt(i);
          if (q == c) {
            i++;
            break;
          }
          if (q == '\\' && i + 1 < text.length()) {
            char e = text.charAt(i + 1);
            switch (e) {
              case '"', '\'', '\\' -> token.append(e);
              case 't' -> token.append('\t');
              case 'r' -> token.append('\r');
              case 'n' -> token.append('\n');
              default -> token.append('\\').append(e);
            }
            i += 2;
          } else {
            token.append(q);
            i++;
          }
        }
        out.add(token.toString());
      } else {
        StringBuilder token = new StringBuilder();
        while (i < text.length()) {
          char w = text.charAt(i);
          if (Character.isWhitespace(w) || w == ';' || w == '{' || w == '}' || w == '"' || w == '\'') {
            break;
          }
          if (w == '\\' && i + 1 < text.length()) {
            token.append(text.charAt(i + 1));
            i += 2;
            continue;
          }
          token.append(w);
          i++;
        }
        out.add(token.toString());
      }
    }
    return out;
  }

  /** Every directive of the text, nested ones included, in order. */
  static List<Statement> statements(String text) {
    List<Statement> out = new ArrayList<>();
    List<String> current = new ArrayList<>();
    int depth = 0;
    for (String token : read(text)) {
      switch (token) {
        case ";" -> {
          out.add(new Statement(depth, List.copyOf(current)));
          current.clear();
        }
        case "{" -> {
          out.add(new Statement(depth, List.copyOf(current)));
          current.clear();
          depth++;
        }
        case "}" -> {
          if (!current.isEmpty() || depth == 0) {
            throw new IllegalArgumentException("unbalanced block or unterminated directive in: " + text);
          }
          depth--;
        }
        default -> current.add(token);
      }
    }
    if (!current.isEmpty() || depth != 0) {
      throw new IllegalArgumentException("unterminated directive or block in: " + text);
    }
    return out;
  }
}
