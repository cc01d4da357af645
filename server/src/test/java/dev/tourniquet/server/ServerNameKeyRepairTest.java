package dev.tourniquet.server;

import org.junit.jupiter.api.Nested;

/** {@link ServerNameKeyRepairContract} on embedded H2 and on PostgreSQL. */
class ServerNameKeyRepairTest {
  @Nested
  class OnH2 extends ServerNameKeyRepairContract {
    @Override
    Backend backend() {
      return Backend.h2();
    }
  }

  @Nested
  class OnPostgres extends ServerNameKeyRepairContract {
    @Override
    Backend backend() {
      return Backend.postgres();
    }
  }
}
