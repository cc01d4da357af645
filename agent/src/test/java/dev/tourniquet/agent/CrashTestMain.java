package dev.tourniquet.agent;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.CountDownLatch;

/**
 * The agent in a child JVM for {@link CrashSafetyTest}: opens the state (recovering from whatever a kill
 * left), runs one check and exits. With a pause point it stops at that point of one change, prints
 * {@code PAUSED} and waits there for the parent to kill it.
 *
 * <p>Arguments: {@code CONFIG NOW [POINT TARGET APPLIED-ID]}.
 */
final class CrashTestMain {
  private CrashTestMain() {}

  public static void main(String[] args) throws Exception {
    AgentConfig config = AgentConfig.load(Path.of(args[0]));
    Clock clock = Clock.fixed(Instant.parse(args[1]), ZoneOffset.UTC);
    Converger.Hook hook = Converger.Hook.NONE;
    if (args.length == 5) {
      CountDownLatch never = new CountDownLatch(1);
      hook = (point, target, appliedId) -> {
        if (point.equals(args[2]) && target.equals(args[3]) && appliedId.equals(args[4])) {
          System.out.println("PAUSED " + point + " " + target + " " + appliedId);
          System.out.flush();
          try {
            never.await(); // until SIGKILL
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      };
    }
    try (Agent agent = Agent.builder(config).clock(clock).hook(hook).adminApi(false).build()) {
      agent.open();
      AgentStatus status = agent.check();
      System.out.println("DONE " + AgentFixture.statusById(status) + " feed " + status.feedHealth());
    }
  }
}
