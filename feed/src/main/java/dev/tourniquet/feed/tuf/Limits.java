package dev.tourniquet.feed.tuf;

/**
 * Size caps on every download, and the longest root chain followed in one update (TUF 5.3.3: the W and Y
 * of the specification). A download of unknown length that exceeds its cap is cut there and rejected; a
 * download whose length is listed by verified metadata is read to exactly that length, and refused if that
 * length is above the cap.
 *
 * @param rootBytes cap for each {@code N.root.json}
 * @param timestampBytes cap for {@code timestamp.json}
 * @param snapshotBytes cap for snapshot metadata when the timestamp lists no length
 * @param targetsBytes cap for targets metadata when the snapshot lists no length
 * @param targetFileBytes the largest target file the client accepts
 * @param maxRootRotations the most new root versions fetched in one update
 */
public record Limits(long rootBytes, long timestampBytes, long snapshotBytes, long targetsBytes,
    long targetFileBytes, int maxRootRotations) {

  /** The largest cap: downloads are held in memory. */
  public static final long MAX_CAP = 256L * 1024 * 1024;

  /**
   * Validates the caps.
   *
   * @throws IllegalArgumentException if a cap is not between 1 byte and {@link #MAX_CAP}, or
   *     {@code maxRootRotations} is below 1
   */
  public Limits {
    check("rootBytes", rootBytes);
    check("timestampBytes", timestampBytes);
    check("snapshotBytes", snapshotBytes);
    check("targetsBytes", targetsBytes);
    check("targetFileBytes", targetFileBytes);
    if (maxRootRotations < 1) {
      throw new IllegalArgumentException("maxRootRotations: expected at least 1 but found " + maxRootRotations);
    }
  }

  /**
   * The defaults, those of python-tuf: root 512,000 bytes, timestamp 16,384, snapshot 2,000,000, targets
   * 5,000,000; target files up to 16 MiB; up to 256 root versions per update.
   *
   * @return the default limits
   */
  public static Limits defaults() {
    return new Limits(512_000, 16_384, 2_000_000, 5_000_000, 16L * 1024 * 1024, 256);
  }

  /**
   * Returns a copy with another root cap.
   *
   * @param bytes the cap
   * @return the new limits
   * @throws IllegalArgumentException if the cap is out of range
   */
  public Limits withRootBytes(long bytes) {
    return new Limits(bytes, timestampBytes, snapshotBytes, targetsBytes, targetFileBytes, maxRootRotations);
  }

  /**
   * Returns a copy with another timestamp cap.
   *
   * @param bytes the cap
   * @return the new limits
   * @throws IllegalArgumentException if the cap is out of range
   */
  public Limits withTimestampBytes(long bytes) {
    return new Limits(rootBytes, bytes, snapshotBytes, targetsBytes, targetFileBytes, maxRootRotations);
  }

  /**
   * Returns a copy with another snapshot cap.
   *
   * @param bytes the cap
   * @return the new limits
   * @throws IllegalArgumentException if the cap is out of range
   */
  public Limits withSnapshotBytes(long bytes) {
    return new Limits(rootBytes, timestampBytes, bytes, targetsBytes, targetFileBytes, maxRootRotations);
  }

  /**
   * Returns a copy with another target file cap.
   *
   * @param bytes the cap
   * @return the new limits
   * @throws IllegalArgumentException if the cap is out of range
   */
  public Limits withTargetFileBytes(long bytes) {
    return new Limits(rootBytes, timestampBytes, snapshotBytes, targetsBytes, bytes, maxRootRotations);
  }

  private static void check(String name, long value) {
    if (value < 1 || value > MAX_CAP) {
      throw new IllegalArgumentException(name + ": expected 1 to " + MAX_CAP + " bytes but found " + value);
    }
  }
}
