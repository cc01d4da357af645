package dev.tourniquet.servlet;

import java.util.Locale;

/** Whether a mitigation acts on requests or only counts the requests it would act on. */
public enum Mode {
  /** Block, answer, redirect, rewrite and change headers as the mitigation says. */
  ENFORCE,
  /** Evaluate and count matches; never block or change a request or a response. */
  AUDIT;

  /**
   * Returns the name as the enforcement file writes it.
   *
   * @return {@code enforce} or {@code audit}
   */
  public String jsonName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Returns the mode of a name as the enforcement file writes it.
   *
   * @param name {@code enforce} or {@code audit}
   * @return the mode
   * @throws IllegalArgumentException for any other name
   */
  public static Mode ofJsonName(String name) {
    for (Mode m : values()) {
      if (m.jsonName().equals(name)) {
        return m;
      }
    }
    throw new IllegalArgumentException("expected \"enforce\" or \"audit\" but found \"" + name + "\"");
  }
}
