package dev.tourniquet.server;

import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Fans change notices out to every server process of the fleet: in one process directly, across
 * processes on PostgreSQL with LISTEN/NOTIFY. A notice carries no content, only what changed; each
 * process reads the current state itself. Subscribers receive the notices of this process too.
 */
interface Bus extends AutoCloseable {

  /** What changed. */
  record Notice(Kind kind, String subject, String detail) {
    enum Kind { FEED, POLICY }

    /** A hosted feed's timestamp changed; detail is the new timestamp's hash (to drop repeats). */
    static Notice feed(String feed, String hash) {
      return new Notice(Kind.FEED, feed, hash);
    }

    /** Effective policy may have changed for one agent, or for all ({@code *}). */
    static Notice policy(Optional<String> agentId) {
      return new Notice(Kind.POLICY, agentId.orElse("*"), "");
    }

    String encode() {
      return kind.name().toLowerCase(Locale.ROOT) + " " + subject + " " + detail;
    }

    static Optional<Notice> decode(String payload) {
      String[] parts = payload.split(" ", 3);
      if (parts.length < 2) {
        return Optional.empty();
      }
      return switch (parts[0]) {
        case "feed" -> Optional.of(new Notice(Kind.FEED, parts[1], parts.length > 2 ? parts[2] : ""));
        case "policy" -> Optional.of(new Notice(Kind.POLICY, parts[1], ""));
        default -> Optional.empty();
      };
    }
  }

  /** Sends a notice to every process, this one included. */
  void publish(Notice notice);

  /** Registers the single receiver of notices; call once before {@link #publish}. */
  void subscribe(Consumer<Notice> receiver);

  @Override
  void close();

  /** The bus of a single process. */
  final class Local implements Bus {
    private volatile Consumer<Notice> receiver = n -> {};

    @Override
    public void publish(Notice notice) {
      receiver.accept(notice);
    }

    @Override
    public void subscribe(Consumer<Notice> receiver) {
      this.receiver = receiver;
    }

    @Override
    public void close() {}
  }
}
