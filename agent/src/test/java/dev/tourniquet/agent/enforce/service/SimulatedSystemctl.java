package dev.tourniquet.agent.enforce.service;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@link CommandRunner} that plays systemd for the commands the enforcer issues ({@code show}, {@code mask},
 * {@code unmask}, {@code start}, {@code stop}), with units that have aliases, so that a test can check where
 * a sequence of converges leaves a unit, whatever commands it took. What it models, as systemd does it: every
 * name of a unit (its id or an alias) reaches the same unit; {@code show} reports the unit's id
 * ({@code Id=}) whatever name it was asked by; a masked unit does not start. A unit it does not know is
 * {@code LoadState=not-found}. The exact commands are checked by {@link SystemdTest}'s scripted tests.
 */
final class SimulatedSystemctl implements CommandRunner {
  /** One unit: its enablement as systemctl reports it, whether the agent's mask is on, and whether it runs. */
  private static final class Unit {
    final String id;
    String unitFileState;
    boolean masked;
    boolean active;

    Unit(String id, String unitFileState, boolean active) {
      this.id = id;
      this.unitFileState = unitFileState;
      this.active = active;
    }
  }

  private final Map<String, Unit> byName = new HashMap<>();
  private final List<List<String>> issued = new ArrayList<>();

  /** Adds a unit with its aliases. */
  SimulatedSystemctl unit(String id, String unitFileState, boolean active, String... aliases) {
    Unit unit = new Unit(id, unitFileState, active);
    byName.put(id, unit);
    for (String alias : aliases) {
      byName.put(alias, unit);
    }
    return this;
  }

  /** The unit's UnitFileState and ActiveState, e.g. {@code enabled active}. */
  String state(String name) {
    Unit unit = byName.get(name);
    return (unit.masked ? "masked" : unit.unitFileState) + " " + (unit.active ? "active" : "inactive");
  }

  List<List<String>> issued() {
    return List.copyOf(issued);
  }

  void clear() {
    issued.clear();
  }

  @Override
  public Result run(List<String> argv, Duration timeout) {
    issued.add(List.copyOf(argv));
    String verb = argv.get(1);
    String name = argv.get(argv.size() - 1);
    if (!argv.get(argv.size() - 2).equals("--")) {
      throw new AssertionError("expected the unit after --: " + argv);
    }
    Unit unit = byName.get(name);
    if (verb.equals("show")) {
      Set<String> wanted = Set.of(argv.get(2).substring("--property=".length()).split(","));
      Map<String, String> properties = new LinkedHashMap<>();
      properties.put("Id", unit == null ? name : unit.id);
      properties.put("LoadState", unit == null ? "not-found" : "loaded");
      properties.put("ActiveState", unit != null && unit.active ? "active" : "inactive");
      properties.put("UnitFileState", unit == null ? "" : unit.masked ? "masked" : unit.unitFileState);
      StringBuilder out = new StringBuilder();
      properties.forEach((key, value) -> {
        if (wanted.contains(key)) {
          out.append(key).append('=').append(value).append('\n');
        }
      });
      return new Result(0, out.toString(), "");
    }
    if (unit == null) {
      return new Result(5, "", "Unit " + name + " not found.\n");
    }
    switch (verb) {
      case "mask" -> {
        unit.masked = true;
        if (argv.contains("--now")) {
          unit.active = false;
        }
      }
      case "unmask" -> unit.masked = false;
      case "stop" -> unit.active = false;
      case "start" -> {
        if (unit.masked) {
          return new Result(1, "", "Failed to start " + name + ": Unit " + unit.id + " is masked.\n");
        }
        unit.active = true;
      }
      default -> throw new AssertionError("a command the simulation does not know: " + argv);
    }
    return new Result(0, "", "");
  }
}
