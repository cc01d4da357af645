package dev.tourniquet.rules;

import java.util.Objects;

/**
 * One header field, as sent: the name keeps its case, and a field repeated on the wire is several headers.
 *
 * @param name the field name
 * @param value the field value
 */
public record Header(String name, String value) {
  /**
   * Creates a header.
   *
   * @throws NullPointerException if an argument is null
   */
  public Header {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(value, "value");
  }
}
