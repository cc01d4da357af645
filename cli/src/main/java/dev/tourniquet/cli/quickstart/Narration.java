package dev.tourniquet.cli.quickstart;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * What the quickstart tells the person watching: headings, plain lines, and events stamped with the time
 * since the start. Once {@link #close(String)} has printed the last line nothing else is printed, so a
 * step still running when Ctrl-C arrives cannot add to the output.
 */
final class Narration {
  private final PrintWriter out;
  private final long start = System.nanoTime();
  private boolean closed;

  Narration(PrintWriter out) {
    this.out = out;
  }

  /** Seconds since the start. */
  double elapsed() {
    return (System.nanoTime() - start) / 1e9;
  }

  synchronized void line(String text) {
    if (!closed) {
      out.println(text);
      out.flush();
    }
  }

  /** An event, stamped with the time since the start, e.g. {@code   +18.9s  agent: M1.1 Applied}. */
  synchronized void event(String text) {
    line(String.format(Locale.ROOT, "  %7s  %s", String.format(Locale.ROOT, "+%.1fs", elapsed()), text));
  }

  /** A line continuing the event above, aligned with its text. */
  synchronized void more(String text) {
    line("            " + text);
  }

  /** Prints nothing more. */
  synchronized void mute() {
    closed = true;
  }

  /** Prints one last line; nothing is printed after it. */
  synchronized void close(String last) {
    line(last);
    closed = true;
  }

  static String seconds(double s) {
    return String.format(Locale.ROOT, "%.1f s", s);
  }
}
