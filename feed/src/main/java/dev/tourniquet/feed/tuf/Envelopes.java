package dev.tourniquet.feed.tuf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds the metadata a publisher writes: {@code signed} objects for the four roles (TUF sections 4.3 to
 * 4.6) and signed envelopes. Signatures are always made over the canonical JSON of the {@code signed}
 * object as it stands in the tree, so that any field in it — ours or a later version's — is covered.
 */
final class Envelopes {
  /** The specification version Tourniquet writes. */
  static final String SPEC_VERSION = "1.0.31";

  private Envelopes() {}

  static ObjectNode envelope(ObjectNode signed) {
    ObjectNode envelope = Json.object();
    envelope.putArray("signatures");
    envelope.set("signed", signed);
    return envelope;
  }

  static ObjectNode signedBase(Role role, long version, Instant expires) {
    ObjectNode signed = Json.object();
    signed.put("_type", role.typeName());
    signed.put("spec_version", SPEC_VERSION);
    signed.put("version", version);
    signed.put("expires", Metadata.formatExpires(expires));
    return signed;
  }

  static ObjectNode root(long version, Instant expires, Map<Role, List<VerificationKey>> keys,
      Map<Role, Integer> thresholds) {
    ObjectNode signed = signedBase(Role.ROOT, version, expires);
    signed.put("consistent_snapshot", true);
    ObjectNode keysNode = signed.putObject("keys");
    Map<String, VerificationKey> all = new TreeMap<>();
    keys.values().forEach(list -> list.forEach(k -> all.put(k.keyId(), k)));
    all.forEach((id, key) -> keysNode.set(id, key.toJson()));
    ObjectNode roles = signed.putObject("roles");
    for (Role role : Role.values()) {
      ObjectNode roleNode = roles.putObject(role.typeName());
      ArrayNode ids = roleNode.putArray("keyids");
      keys.get(role).stream().map(VerificationKey::keyId).sorted().distinct().forEach(ids::add);
      roleNode.put("threshold", thresholds.get(role));
    }
    return signed;
  }

  static ObjectNode metaEntry(long version, byte[] file) {
    ObjectNode entry = Json.object();
    entry.put("version", version);
    entry.put("length", file.length);
    entry.putObject("hashes").put(Hashes.SHA256, Hashes.hex(Hashes.SHA256, file));
    return entry;
  }

  static ObjectNode targetEntry(byte[] content) {
    ObjectNode entry = Json.object();
    entry.put("length", content.length);
    entry.putObject("hashes").put(Hashes.SHA256, Hashes.hex(Hashes.SHA256, content));
    return entry;
  }

  /** Adds or replaces the signature of {@code key} over the envelope's canonical {@code signed} bytes. */
  static void sign(ObjectNode envelope, SigningKey key) {
    byte[] canonical = CanonicalJson.encode(envelope.get("signed"));
    putSignature(envelope, key.keyId(), key.signHex(canonical));
  }

  static void putSignature(ObjectNode envelope, String keyId, String sigHex) {
    List<ObjectNode> signatures = new ArrayList<>();
    for (JsonNode existing : envelope.withArray("signatures")) {
      if (!keyId.equals(existing.path("keyid").asText())) {
        signatures.add((ObjectNode) existing);
      }
    }
    ObjectNode signature = Json.object();
    signature.put("keyid", keyId);
    signature.put("sig", sigHex);
    signatures.add(signature);
    signatures.sort(Comparator.comparing(s -> s.path("keyid").asText()));
    ArrayNode array = envelope.putArray("signatures");
    signatures.forEach(array::add);
  }

  static void clearSignatures(ObjectNode envelope) {
    envelope.putArray("signatures");
  }
}
