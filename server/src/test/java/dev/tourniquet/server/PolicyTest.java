package dev.tourniquet.server;

import org.junit.jupiter.api.Nested;

/** {@link PolicyContract} on embedded H2 and on PostgreSQL. */
class PolicyTest {
  @Nested
  class OnH2 extends PolicyContract {
    @Override
    Backend backend() {
      return Backend.h2();
    }
  }

  @Nested
  class OnPostgres extends PolicyContract {
    @Override
    Backend backend() {
      return Backend.postgres();
    }
  }
}
