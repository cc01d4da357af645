package dev.tourniquet.feed.tuf;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Ed25519 verification as the TUF client does it, checked against the JDK's own verifier. */
class KeyInfoTest {
  static final BigInteger GROUP_ORDER =
      BigInteger.TWO.pow(252).add(new BigInteger("27742317777372353535851937790883648493"));

  final SigningKey key = SigningKey.generate();
  final KeyInfo info = read(key);
  final byte[] data = "{\"signed\":{\"_type\":\"timestamp\",\"version\":7}}".getBytes(StandardCharsets.UTF_8);

  @Test
  void aSignatureTheJdkAcceptsVerifiesAndAnyChangeToDataOrSignatureDoesNot() throws Exception {
    String sig = key.signHex(data);
    assertThat(jdkVerifies(sig, data)).isTrue();
    assertThat(info.usable()).isTrue();
    assertThat(info.verifies(sig, data)).isTrue();

    byte[] otherData = data.clone();
    otherData[otherData.length - 3] ^= 1;
    assertThat(info.verifies(sig, otherData)).isFalse();
    for (int bit : new int[] {0, 100, 255, 256, 400, 511}) {
      byte[] flipped = Hex.decode(sig).orElseThrow();
      flipped[bit / 8] ^= (byte) (1 << (bit % 8));
      assertThat(info.verifies(Hex.encode(flipped), data)).as("bit %d flipped", bit).isFalse();
      assertThat(jdkVerifies(Hex.encode(flipped), data)).as("bit %d flipped (JDK)", bit).isFalse();
    }
  }

  @Test
  void aSignatureWhoseScalarIsNotReducedIsRejectedAsTheJdkRejectsIt() throws Exception {
    byte[] sig = Hex.decode(key.signHex(data)).orElseThrow();
    // S + L is the same point multiple, so a lax verifier would accept it (signature malleability).
    byte[] s = Arrays.copyOfRange(sig, 32, 64);
    BigInteger malleable = littleEndian(s).add(GROUP_ORDER);
    byte[] sPlusL = toLittleEndian(malleable);
    System.arraycopy(sPlusL, 0, sig, 32, 32);

    assertThat(jdkVerifies(Hex.encode(sig), data)).isFalse();
    assertThat(info.verifies(Hex.encode(sig), data)).isFalse();
  }

  @Test
  void signaturesOfTheWrongLengthOrNotHexAreInvalidNotErrors() {
    String sig = key.signHex(data);
    assertThat(info.verifies(sig.substring(2), data)).isFalse();
    assertThat(info.verifies(sig + "00", data)).isFalse();
    assertThat(info.verifies("", data)).isFalse();
    assertThat(info.verifies("zz" + sig.substring(2), data)).isFalse();
  }

  @Test
  void aPublicKeyThatIsNotAPointOnTheCurveIsUnusableAndSaysWhy() throws Exception {
    // y = 2^255 - 1 is not below the field prime 2^255 - 19: no canonical encoding of a point.
    String notAPoint = "ff".repeat(31) + "7f";
    KeyInfo bad = KeyInfo.parse("root.json", "signed.keys.x", null,
        Json.parseObject("root.json", ("{\"keytype\":\"ed25519\",\"scheme\":\"ed25519\",\"keyval\":{\"public\":\""
            + notAPoint + "\"}}").getBytes(StandardCharsets.UTF_8)));

    assertThat(bad.usable()).isFalse();
    assertThat(bad.unusableReason()).contains("ed25519 public key does not decode");
    assertThat(bad.verifies(key.signHex(data), data)).isFalse();
  }

  @Test
  void oneKeyHasOneIdentityWhateverItIsListedUnder() {
    assertThat(read(key).identity()).isEqualTo(info.identity());
    assertThat(read(SigningKey.generate()).identity()).isNotEqualTo(info.identity());
  }

  private static KeyInfo read(SigningKey signingKey) {
    try {
      return KeyInfo.parse("root.json", "signed.keys.k", null, signingKey.verificationKey().toJson());
    } catch (MalformedMetadataException e) {
      throw new AssertionError(e);
    }
  }

  private boolean jdkVerifies(String sigHex, byte[] message) throws Exception {
    Signature verify = Signature.getInstance("Ed25519");
    verify.initVerify(KeyFactory.getInstance("Ed25519").generatePublic(
        new X509EncodedKeySpec(spki(key.verificationKey().publicValue()))));
    verify.update(message);
    try {
      return verify.verify(Hex.decode(sigHex).orElseThrow());
    } catch (SignatureException e) {
      return false;
    }
  }

  private static BigInteger littleEndian(byte[] bytes) {
    byte[] big = bytes.clone();
    for (int i = 0; i < big.length / 2; i++) {
      byte t = big[i];
      big[i] = big[big.length - 1 - i];
      big[big.length - 1 - i] = t;
    }
    return new BigInteger(1, big);
  }

  private static byte[] toLittleEndian(BigInteger value) {
    byte[] big = value.toByteArray();
    byte[] out = new byte[32];
    for (int i = 0; i < big.length && i < 32; i++) {
      out[i] = big[big.length - 1 - i];
    }
    return out;
  }

  /** The X.509 SubjectPublicKeyInfo of a raw Ed25519 key (RFC 8410), for the JDK's verifier. */
  private static byte[] spki(String publicHex) {
    byte[] prefix = Hex.decode("302a300506032b6570032100").orElseThrow();
    byte[] raw = Hex.decode(publicHex).orElseThrow();
    byte[] spki = Arrays.copyOf(prefix, prefix.length + raw.length);
    System.arraycopy(raw, 0, spki, prefix.length, raw.length);
    return spki;
  }
}
