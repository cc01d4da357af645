package dev.tourniquet.server;

import org.junit.jupiter.api.Nested;

/** {@link AdminContract} on embedded H2 and on PostgreSQL. */
class AdminApiTest {
  @Nested
  class OnH2 extends AdminContract {
    @Override
    Backend backend() {
      return Backend.h2();
    }
  }

  @Nested
  class OnPostgres extends AdminContract {
    @Override
    Backend backend() {
      return Backend.postgres();
    }
  }
}
