package dev.tourniquet.server;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * Base of the contract tests that run unchanged against both databases: each concrete test class nests
 * one subclass per backend.
 */
abstract class ContractBase {
  @TempDir
  Path dir;
  Fixture fleet;

  abstract Backend backend();

  @BeforeEach
  void startFleet() throws Exception {
    fleet = new Fixture(dir, backend());
  }

  @AfterEach
  void stopFleet() {
    if (fleet != null) {
      fleet.close();
    }
  }
}
