package dev.tourniquet.server;

import org.junit.jupiter.api.Nested;

/** {@link ServerNameUpgradeContract} on embedded H2 and on PostgreSQL. */
class ServerNameUpgradeTest {
  @Nested
  class OnH2 extends ServerNameUpgradeContract {
    @Override
    Backend backend() {
      return Backend.h2();
    }
  }

  @Nested
  class OnPostgres extends ServerNameUpgradeContract {
    @Override
    Backend backend() {
      return Backend.postgres();
    }
  }
}
