package dev.tourniquet.agent;

import dev.tourniquet.feed.mitigation.Mitigation;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The mitigations of the last verified feed: every target that verified and validated, by id, and every
 * target that verified but failed validation (or whose id does not match its name), with the reason.
 *
 * @param targetsVersion the trusted targets metadata version the view comes from; 0 for none yet
 * @param mitigations valid mitigations by id
 * @param rejected ids of targets that failed validation, with why
 */
record FeedView(long targetsVersion, Map<String, Mitigation> mitigations, Map<String, String> rejected) {

  /** No feed verified yet. */
  static final FeedView EMPTY = new FeedView(0, Map.of(), Map.of());

  FeedView {
    mitigations = Collections.unmodifiableMap(new TreeMap<>(mitigations));
    rejected = Collections.unmodifiableMap(new TreeMap<>(rejected));
  }
}
