package dev.tourniquet.rules;

/**
 * Case folding for the prefilter. {@code fold(c)} maps every character that any case-insensitive match
 * could equate with an ASCII letter onto that letter's lower case: besides ASCII, the Kelvin sign
 * (U+212A, which RE2 folds to {@code k}) and the long s (U+017F, folded to {@code s}), and the Turkish
 * dotted and dotless i. Folding an input and the literals alike keeps "the literal occurs in the input"
 * a necessary condition for a match, case-sensitive or not.
 */
final class Folding {
  private Folding() {}

  static char fold(char c) {
    if (c < 0x80) {
      return c >= 'A' && c <= 'Z' ? (char) (c + 32) : c;
    }
    return Character.toLowerCase(Character.toUpperCase(c));
  }
}
