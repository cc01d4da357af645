package dev.tourniquet.server;

import org.junit.jupiter.api.Nested;

/** {@link AgentContract} on embedded H2 and on PostgreSQL. */
class AgentApiTest {
  @Nested
  class OnH2 extends AgentContract {
    @Override
    Backend backend() {
      return Backend.h2();
    }
  }

  @Nested
  class OnPostgres extends AgentContract {
    @Override
    Backend backend() {
      return Backend.postgres();
    }
  }
}
