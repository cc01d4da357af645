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
 * A line's bytes may arrive in several pieces: the unfinished line is kept until its newline comes, and
 * {@link #pending} tells how many bytes it has so far, so that a position saved across an agent restart
 * ({@link AuditTallyFile}) can be the start of that line rather than its middle.
 */
final class AuditTally {
  /** The longest line considered, newline excluded; a longer one is ignored. */
  static final int MAX_LINE_BYTES = 128;
  /** The distinct keys kept beyond which only keys the caller names are added. */
  static final int MAX_KEYS = 4096;

  private static final Pattern KEY = Pattern.compile("([^/]+)/[1-9][0-9]{0,2}/[1-9][0-9]{0,4}");

  private final Map<String, Long> counts;
  private final byte[] line = new byte[MAX_LINE_BYTES];
  private int length;
  /** The bytes of the unfinished line so far, those skipped included. */
  private long pending;
  /** Inside a line longer than the cap: its bytes are dropped up to its newline. */
  private boolean skipping;
  private long ignored;

  /** A tally with no counts. */
  AuditTally() {
    this(Map.of());
  }

  /**
   * A tally that goes on from saved counts.
   *
   * @param saved counts per key, each key one {@link #isKey} accepts and each count positive
   * @throws IllegalArgumentException if a key or a count is not
   */
  AuditTally(Map<String, Long> saved) {
    counts = new HashMap<>();
    saved.forEach((key, count) -> {
      if (!isKey(key) || count == null || count < 1) {
        throw new IllegalArgumentException("expected keys <id>/<action>/<rule> with positive counts but found "
            + key + ": " + count);
      }
      counts.put(key, count);
    });
  }

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
        pending = 0;
      } else {
        pending++;
        if (!skipping && length == MAX_LINE_BYTES) {
          skipping = true;
          ignored++;
        } else if (!skipping) {
          line[length++] = b;
        }
      }
    }
  }

  /** Drops the unfinished line: the file it came from was truncated or replaced. The counts stay. */
  void startOver() {
    length = 0;
    pending = 0;
    skipping = false;
  }

  /** The bytes handed over since the last newline: the unfinished line, however long, not counted yet. */
  long pending() {
    return pending;
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

  /**
   * Tells whether a text is a key the enforcer writes: {@code <id>/<action>/<rule>}, a valid mitigation id
   * and numbers within {@link NginxRenderer#auditName}'s bounds.
   */
  static boolean isKey(String text) {
    Matcher m = KEY.matcher(text);
    return m.matches() && Mitigation.idProblem(m.group(1)).isEmpty();
  }

  // Bytes were decoded as ISO-8859-1, one char each: a byte above 0x7F becomes a char the pattern and the
  // id rule refuse, so such a line is ignored.
  private void line(String text, Predicate<String> named) {
    Long count = counts.get(text);
    if (count != null) {
      counts.put(text, count == Long.MAX_VALUE ? count : count + 1); // saturates: a count never goes down
      return;
    }
    if (!isKey(text) || (full() && !named.test(text))) {
      ignored++;
      return;
    }
    counts.put(text, 1L);
  }
}
