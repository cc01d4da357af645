package dev.tourniquet.server;

import org.junit.jupiter.api.Nested;

/** {@link DashboardContract} on embedded H2 and on PostgreSQL. */
class DashboardTest {
  @Nested
  class OnH2 extends DashboardContract {
    @Override
    Backend backend() {
      return Backend.h2();
    }
  }

  @Nested
  class OnPostgres extends DashboardContract {
    @Override
    Backend backend() {
      return Backend.postgres();
    }
  }
}
