package dev.tourniquet.feed.tuf;

import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A target file as listed in verified targets metadata (TUF section 4.5, TARGETS): its path on the
 * repository, its length, its hashes, and the publisher's optional {@code custom} object.
 *
 * @param name the target path, e.g. {@code mitigations/M1.json}
 * @param length the exact length in bytes
 * @param hashes hex digests by algorithm name, e.g. {@code sha256}
 * @param customJson the {@code custom} object in canonical JSON, or null when absent
 */
public record TargetFile(String name, long length, Map<String, String> hashes, String customJson) {

  /**
   * Validates and copies the fields.
   *
   * @throws IllegalArgumentException if the name is not a safe relative path, the length is negative or
   *     no hash is listed
   */
  public TargetFile {
    String unsafe = Metadata.unsafeTargetPath(name);
    if (unsafe != null) {
      throw new IllegalArgumentException("target name: expected a relative path of safe segments but found " + unsafe);
    }
    if (length < 0) {
      throw new IllegalArgumentException("target length: expected at least 0 but found " + length);
    }
    if (hashes.isEmpty()) {
      throw new IllegalArgumentException("target hashes: expected at least one but found none");
    }
    hashes = java.util.Collections.unmodifiableMap(new TreeMap<>(hashes));
  }

  /**
   * Returns the {@code custom} object in canonical JSON, if the publisher set one.
   *
   * @return the custom object
   */
  public Optional<String> custom() {
    return Optional.ofNullable(customJson);
  }
}
