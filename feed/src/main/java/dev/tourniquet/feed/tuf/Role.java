package dev.tourniquet.feed.tuf;

import java.util.Locale;

/**
 * The four top-level roles of The Update Framework (TUF specification 1.0, section 2.1).
 *
 * <p>Each role signs one metadata file, named after the role ({@code root.json}, {@code timestamp.json},
 * {@code snapshot.json}, {@code targets.json}); the {@code _type} field of the signed part carries the same
 * name.
 */
public enum Role {
  /** Signs the keys and thresholds of every role, itself included. */
  ROOT,
  /** Signs a frequently refreshed statement naming the current snapshot (online key). */
  TIMESTAMP,
  /** Signs the versions of the targets metadata (online key). */
  SNAPSHOT,
  /** Signs the lengths and hashes of the target files (offline key). */
  TARGETS;

  /**
   * Returns the role's name as written in metadata ({@code "root"}, {@code "timestamp"} ...).
   *
   * @return the lower-case role name
   */
  public String typeName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Returns the role's metadata file name without a version prefix, e.g. {@code "snapshot.json"}.
   *
   * @return the file name
   */
  public String fileName() {
    return typeName() + ".json";
  }
}
