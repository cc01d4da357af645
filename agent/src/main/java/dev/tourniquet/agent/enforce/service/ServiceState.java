package dev.tourniquet.agent.enforce.service;

import java.util.Objects;

/**
 * A service's state as its manager reports it, in the manager's own words, so that it can be recorded
 * before a change and put back exactly on removal.
 *
 * <ul>
 *   <li>systemd: {@code startup} is the {@code UnitFileState} ({@code enabled}, {@code disabled},
 *       {@code static}, {@code masked}, …) and {@code activity} the {@code ActiveState} ({@code active},
 *       {@code inactive}, {@code failed}, …).
 *   <li>Windows: {@code startup} is the start type in {@code sc.exe config} words ({@code auto},
 *       {@code delayed-auto}, {@code demand}, {@code disabled}, {@code boot}, {@code system}) and
 *       {@code activity} the {@code STATE} ({@code RUNNING}, {@code STOPPED}, {@code STOP_PENDING}, …).
 *   <li>supervisord: {@code startup} is always {@link #SUPERVISORD_STARTUP} (supervisord cannot change a
 *       program's {@code autostart} at runtime) and {@code activity} the process state ({@code RUNNING},
 *       {@code STOPPED}, {@code EXITED}, {@code FATAL}, …), or for a group every process's state as
 *       {@code group:name=STATE} separated by commas.
 * </ul>
 *
 * @param startup how the service starts
 * @param activity what it is doing now
 */
public record ServiceState(String startup, String activity) {
  /** The startup value of every supervisord program: its configuration file decides, and stays as it is. */
  public static final String SUPERVISORD_STARTUP = "config";

  /** The longest value kept; real ones are a few words. */
  static final int MAX_LENGTH = 4096;

  /**
   * Validates the values.
   *
   * @throws IllegalArgumentException if a value is empty, too long or spans lines
   */
  public ServiceState {
    Objects.requireNonNull(startup, "startup");
    Objects.requireNonNull(activity, "activity");
    check("startup", startup);
    check("activity", activity);
  }

  private static void check(String field, String value) {
    if (value.isEmpty() || value.length() > MAX_LENGTH || value.contains("\n") || value.contains("\r")) {
      throw new IllegalArgumentException(field + ": expected one line of 1 to " + MAX_LENGTH
          + " characters but found " + (value.isEmpty() ? "an empty value" : "\"" + value.lines().findFirst().orElse("")
          + "\"" + (value.length() > MAX_LENGTH ? " (" + value.length() + " characters)" : "")));
    }
  }

  @Override
  public String toString() {
    return "startup " + startup + ", " + activity;
  }
}
