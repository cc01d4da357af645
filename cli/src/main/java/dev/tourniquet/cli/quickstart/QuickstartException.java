package dev.tourniquet.cli.quickstart;

/** The quickstart cannot go on; the message says what it expected and what it found. */
final class QuickstartException extends Exception {
  private static final long serialVersionUID = 1L;

  QuickstartException(String message) {
    super(message, null, false, false);
  }
}
