package dev.tourniquet.server;

import java.util.Locale;

/**
 * What an administrator may do. Each role includes the ones before it: a viewer reads; an operator also
 * changes policy (block, unblock, enable, disable, mode, approve a rollout ring, labels); an admin also
 * manages users, enrolment tokens and enrolled servers.
 */
enum Role {
  VIEWER, OPERATOR, ADMIN;

  String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  boolean allows(Role required) {
    return compareTo(required) >= 0;
  }

  static Role parse(String label) throws HttpException {
    for (Role r : values()) {
      if (r.label().equals(label)) {
        return r;
      }
    }
    throw HttpException.badRequest("role: expected viewer, operator or admin but found %s", JsonBodies.quote(label));
  }
}
