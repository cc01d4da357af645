package dev.tourniquet.feed.tuf;

import dev.tourniquet.feed.tuf.Metadata.RoleKeys;
import dev.tourniquet.feed.tuf.Metadata.RootInfo;
import dev.tourniquet.feed.tuf.Metadata.Sig;
import java.util.HashSet;
import java.util.Set;

/**
 * Counts valid signatures toward a role's threshold. A signature counts when its key id is one of the
 * role's key ids, the key is listed and usable, the signature verifies over the canonical {@code signed}
 * bytes, and neither that key id nor the same key material has counted already: several signatures by
 * one key, under one id or two, count once. Everything else — unknown keys, keys of other roles, empty or
 * non-hex signatures — is skipped, never fatal, so that one bad entry cannot hide the good ones.
 */
final class Signatures {
  private Signatures() {}

  static int countValid(Metadata metadata, RootInfo root, Role role) {
    RoleKeys roleKeys = root.roles().get(role);
    Set<String> authorised = new HashSet<>(roleKeys.keyIds());
    Set<String> countedIds = new HashSet<>();
    Set<String> countedKeys = new HashSet<>();
    int valid = 0;
    for (Sig sig : metadata.signatures) {
      if (!authorised.contains(sig.keyId()) || countedIds.contains(sig.keyId())) {
        continue;
      }
      KeyInfo key = root.keys().get(sig.keyId());
      if (key == null || !key.usable() || countedKeys.contains(key.identity())) {
        continue;
      }
      if (key.verifies(sig.sig(), metadata.canonicalSigned)) {
        valid++;
        countedIds.add(sig.keyId());
        countedKeys.add(key.identity());
      }
    }
    return valid;
  }

  /**
   * Requires a threshold of valid signatures by the role's keys as listed in {@code root}.
   *
   * @throws ThresholdNotMetException if fewer verify
   */
  static void requireThreshold(Metadata metadata, Metadata rootMetadata, String rootDescription, Role role,
      String step) throws ThresholdNotMetException {
    RootInfo root = rootMetadata.root();
    int threshold = root.roles().get(role).threshold();
    int valid = countValid(metadata, root, role);
    if (valid < threshold) {
      throw new ThresholdNotMetException(metadata.file, role,
          rootDescription + " (version " + rootMetadata.version + ")", step, threshold, valid);
    }
  }
}
