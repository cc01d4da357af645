package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** How policy notices reach the push worker. */
class EventStreamsTest {
  final AtomicInteger ran = new AtomicInteger();
  /** The push worker, counting the tasks it runs. */
  final ThreadPoolExecutor worker = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>()) {
    @Override
    protected void beforeExecute(Thread t, Runnable r) {
      ran.incrementAndGet();
    }
  };
  final EventStreams streams = new EventStreams(2, 10, worker);

  @AfterEach
  void stop() {
    worker.shutdownNow();
  }

  @Test
  void aBurstOfFleetWideNoticesWhileOneIsQueuedIsServedByThatOne() throws Exception {
    CountDownLatch busy = new CountDownLatch(1);
    worker.execute(() -> await(busy)); // the worker is recomputing something else meanwhile

    for (int i = 0; i < 1000; i++) {
      streams.policyMayHaveChanged("*", id -> Optional.of("same"));
    }
    busy.countDown();
    drain();

    assertThat(ran.get()).as("the busy task and one recomputation for all").isEqualTo(2);
  }

  @Test
  void aFleetWideNoticeAfterTheRecomputationStartedQueuesAnother() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    streams.policyMayHaveChanged("*", id -> Optional.of("same"));
    worker.execute(() -> {
      started.countDown();
      await(release);
    });
    drainUntil(started);

    streams.policyMayHaveChanged("*", id -> Optional.of("same"));
    release.countDown();
    drain();

    assertThat(ran.get()).as("two recomputations and the task between them").isEqualTo(3);
  }

  @Test
  void noticesForOneAgentAreNotCoalescedWithEachOther() throws Exception {
    CountDownLatch busy = new CountDownLatch(1);
    worker.execute(() -> await(busy));

    streams.policyMayHaveChanged("agent-a", id -> Optional.of("same"));
    streams.policyMayHaveChanged("agent-b", id -> Optional.of("same"));
    busy.countDown();
    drain();

    assertThat(ran.get()).isEqualTo(3);
  }

  private void drain() throws InterruptedException {
    worker.shutdown();
    assertThat(worker.awaitTermination(10, TimeUnit.SECONDS)).as("the worker finished its queue").isTrue();
  }

  private static void drainUntil(CountDownLatch latch) throws InterruptedException {
    assertThat(latch.await(10, TimeUnit.SECONDS)).as("the worker reached the task").isTrue();
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
