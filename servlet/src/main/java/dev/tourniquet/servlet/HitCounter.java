package dev.tourniquet.servlet;

import dev.tourniquet.rules.json.Json;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts matches per mitigation, revision, mode and rule, without contention between request threads.
 * Counts live outside the snapshots, so they survive reloads; they start at zero when the filter starts,
 * which {@code since} in the hits file records.
 */
final class HitCounter {
  /** The value of the hits file's {@code format} key. */
  static final String FORMAT = "tourniquet-hits/1";

  private record Key(String mitigation, int revision, Mode mode, String rule) {}

  private final Map<Key, LongAdder> counts = new ConcurrentHashMap<>();
  private final LongAdder changes = new LongAdder();
  private final Instant since;

  HitCounter(Instant since) {
    this.since = since;
  }

  void hit(ActiveMitigation m, String rule) {
    counts.computeIfAbsent(new Key(m.id(), m.revision(), m.mode(), rule), k -> new LongAdder()).increment();
    changes.increment();
  }

  /** A number that grows whenever a count does, to skip writing an unchanged file. */
  long changes() {
    return changes.sum();
  }

  List<RuleHit> snapshot() {
    List<RuleHit> hits = new ArrayList<>();
    counts.forEach((k, v) -> hits.add(new RuleHit(k.mitigation(), k.revision(), k.mode(), k.rule(), v.sum())));
    hits.sort(Comparator.comparing(RuleHit::mitigation).thenComparingInt(RuleHit::revision)
        .thenComparing(RuleHit::mode).thenComparing(RuleHit::rule));
    return hits;
  }

  String toJson(Instant written) {
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("format", FORMAT);
    root.put("since", since.toString());
    root.put("written", written.toString());
    List<Object> list = new ArrayList<>();
    for (RuleHit h : snapshot()) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("mitigation", h.mitigation());
      o.put("revision", (long) h.revision());
      o.put("mode", h.mode().jsonName());
      o.put("rule", h.rule());
      o.put("count", h.count());
      list.add(o);
    }
    root.put("hits", list);
    return Json.write(root);
  }
}
