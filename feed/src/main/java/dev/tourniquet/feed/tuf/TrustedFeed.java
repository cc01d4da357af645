package dev.tourniquet.feed.tuf;

import java.time.Instant;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The result of a successful update: the versions of the four trusted metadata files and the target
 * files they list. Download a target's verified bytes with {@link TufClient#download(String)}.
 *
 * @param rootVersion trusted root version
 * @param timestampVersion trusted timestamp version
 * @param snapshotVersion trusted snapshot version
 * @param targetsVersion trusted targets version
 * @param expires the earliest expiry of the four: after it the next update must bring fresh metadata
 * @param updated whether this update changed any trusted metadata (false: nothing new)
 * @param targets every target listed, by name
 */
public record TrustedFeed(long rootVersion, long timestampVersion, long snapshotVersion, long targetsVersion,
    Instant expires, boolean updated, Map<String, TargetFile> targets) {

  /**
   * Copies the target map.
   *
   * @throws NullPointerException if a field is null
   */
  public TrustedFeed {
    java.util.Objects.requireNonNull(expires, "expires");
    targets = Collections.unmodifiableMap(new TreeMap<>(targets));
  }
}
