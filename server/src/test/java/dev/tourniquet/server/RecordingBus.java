package dev.tourniquet.server;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;

/** A bus that only records what is published, for tests of what announces what. */
final class RecordingBus implements Bus {
  private final List<Notice> published = new CopyOnWriteArrayList<>();
  private final BlockingQueue<Notice> unseen = new LinkedBlockingQueue<>();

  @Override
  public void publish(Notice notice) {
    published.add(notice);
    unseen.add(notice);
  }

  @Override
  public void subscribe(Consumer<Notice> receiver) {}

  @Override
  public void close() {}

  /** Every notice published so far of that kind, in order. */
  List<Notice> published(Notice.Kind kind) {
    return published.stream().filter(n -> n.kind() == kind).toList();
  }

  void clear() {
    published.clear();
    unseen.clear();
  }

  /** Waits up to {@code timeout} for a notice not awaited before that matches. */
  Optional<Notice> await(Predicate<Notice> matching, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (long left = timeout.toNanos(); left > 0; left = deadline - System.nanoTime()) {
      Notice n = unseen.poll(left, TimeUnit.NANOSECONDS);
      if (n != null && matching.test(n)) {
        return Optional.of(n);
      }
    }
    return Optional.empty();
  }
}
