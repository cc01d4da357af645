package dev.tourniquet.agent.enforce.nginx;

import dev.tourniquet.feed.mitigation.Mitigation;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Counts the audit log's lines per key, from its bytes as they are handed over, a piece at a time; no I/O
 * ({@link AuditLogReader} reads the file). The counts only grow.
 *
 * <p>The log is writable by any local user (nginx's unprivileged workers append to it), so its content is
 * not trusted. A line counts only if it is exactly what the include makes njs write ({@link NginxRenderer}'s
 * {@code answer}): {@code <id>/<action>/<rule>} and a newline, the id a valid mitigation id
 * ({@link Mitigation#idProblem}), the action and rule 1-based numbers without leading zeros, of at most 3
 * and 5 digits ({@link NginxRenderer#auditName}'s bounds). Anything else (blank, padded, {@code \r\n}, not
 * ASCII) is ignored and counted in {@link #ignored}. Memory is bounded whatever the file holds:
 *
 * <ul>
 *   <li>A line longer than {@link #MAX_LINE_BYTES} is skipped as its bytes go by, never held whole; a
 *       key is at most 74 bytes.
 *   <li>At most {@link #MAX_KEYS} distinct keys are kept. Beyond that, a new key is kept only if the caller
 *       names it (a rule of a mitigation being audited), so forged keys cannot crowd out the real ones; any
 *       other new key is ignored.
 * </ul>
 *
 * A line's bytes may arrive in several pieces: the unfinished line is kept until its newline comes.
 */
final class AuditTally {
  /** The longest line considered, newline excluded; a longer one is ignored. */
  static final int MAX_LINE_BYTES = 128;
  /** The distinct keys kept beyond which only keys the caller names are added. */
  static final int MAX_KEYS = 4096;

  private static final Pattern KEY = Pattern.compile("([^/]+)/[1-9][0-9]{0,2}/[1-9][0-9]{0,4}");

  private final Map<String, Long> counts = new HashMap<>();
  private final byte[] line = new byte[MAX_LINE_BYTES];
  private int length;
  /** Inside a line longer than the cap: its bytes are dropped up to its newline. */
  private boolean skipping;
  private long ignored;

  /**
   * Counts the complete lines in {@code bytes[from, to)}, together with the unfinished line from before.
   *
   * @param named tells whether a key names a rule of a mitigation being audited: such a key is kept even
   *     when {@link #MAX_KEYS} keys are
   */
  void accept(byte[] bytes, int from, int to, Predicate<String> named) {
    for (int i = from; i < to; i++) {
      byte b = bytes[i];
      if (b == '\n') {
        if (!skipping) {
          line(new String(line, 0, length, StandardCharsets.ISO_8859_1), named);
        }
        skipping = false;
        length = 0;
      } else if (!skipping) {
        if (length == MAX_LINE_BYTES) {
          skipping = true;
          ignored++;
        } else {
          line[length++] = b;
        }
      }
    }
  }

  /** Drops the unfinished line: the file it came from was truncated or replaced. The counts stay. */
  void startOver() {
    length = 0;
    skipping = false;
  }

  /** The counts per key: a copy. */
  Map<String, Long> counts() {
    return Map.copyOf(counts);
  }

  /** The lines ignored so far: not a key, too long, or a new key beyond the cap. */
  long ignored() {
    return ignored;
  }

  /** Tells whether {@link #MAX_KEYS} keys are kept, so that only named keys are added. */
  boolean full() {
    return counts.size() >= MAX_KEYS;
  }

  /**
   * The mitigation id of a counted key.
   *
   * @param key a key of {@link #counts}
   */
  static String idOf(String key) {
    return key.substring(0, key.indexOf('/'));
  }

  // Bytes were decoded as ISO-8859-1, one char each: a byte above 0x7F becomes a char the pattern and the
  // id rule refuse, so such a line is ignored.
  private void line(String text, Predicate<String> named) {
    Long count = counts.get(text);
    if (count != null) {
      counts.put(text, count + 1);
      return;
    }
    Matcher m = KEY.matcher(text);
    if (!m.matches() || Mitigation.idProblem(m.group(1)).isPresent() || (full() && !named.test(text))) {
      ignored++;
      return;
    }
    counts.put(text, 1L);
  }
}
