package dev.tourniquet.rules;

/** A pattern that does not parse or uses a construct the engine rejects; the compiler turns it into a {@link Problem}. */
final class RegexSyntaxException extends Exception {
  RegexSyntaxException(String message) {
    super(message, null, false, false);
  }
}
