package dev.tourniquet.servlet;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What the filter enforces right now, and why it may not be what the file says.
 *
 * @param file the enforcement file watched
 * @param generated when the agent wrote the file being enforced; empty until a file has loaded
 * @param mitigations the applied ids being enforced, such as {@code M1.1 enforce}, in evaluation order
 * @param lastError why the latest version of the file was not loaded (missing, unreadable, invalid);
 *     empty once a version loads. While it is set, the previous snapshot is still enforced.
 * @param loads how many versions of the file have loaded since the filter started
 */
public record EnforcementStatus(Path file, Optional<Instant> generated, List<String> mitigations, Optional<String> lastError, long loads) {
  /**
   * Creates a status; the list is copied.
   *
   * @throws NullPointerException if an argument is null
   */
  public EnforcementStatus {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(generated, "generated");
    Objects.requireNonNull(lastError, "lastError");
    mitigations = List.copyOf(mitigations);
  }
}
