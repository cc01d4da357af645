package dev.tourniquet.bench;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.math.ec.rfc8032.Ed25519;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * One Ed25519 signature verification over 2 KiB (the size of a small {@code timestamp.json} or
 * {@code snapshot.json}), with the JDK's {@code Signature.getInstance("Ed25519")} (the baseline, what the
 * feed client used before) and with Bouncy Castle's RFC 8032 code on a public point decoded once (what
 * {@code KeyInfo} does now). An agent verifies three signatures for every new revision it takes.
 *
 * <p>Run: {@code java -jar bench/target/benchmarks.jar SignatureVerificationBenchmark -f 1 -wi 3 -i 5 -w 1s -r 1s}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class SignatureVerificationBenchmark {
  private byte[] message;
  private byte[] signature;
  private PublicKey jdkKey;
  private Ed25519.PublicPoint point;

  /**
   * Signs a random message with a fresh key and checks that both verifiers accept it.
   *
   * @throws Exception if the JDK lacks Ed25519 (every JDK 15+ has it)
   */
  @Setup
  public void setUp() throws Exception {
    KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    message = new byte[2048];
    new Random(20261129).nextBytes(message);
    Signature signer = Signature.getInstance("Ed25519");
    signer.initSign(pair.getPrivate());
    signer.update(message);
    signature = signer.sign();
    jdkKey = pair.getPublic();
    byte[] spki = jdkKey.getEncoded();
    point = Ed25519.validatePublicKeyPartialExport(Arrays.copyOfRange(spki, spki.length - 32, spki.length), 0);
    if (!jdk() || !bouncyCastle()) {
      throw new IllegalStateException("expected both verifiers to accept the signature but one did not");
    }
  }

  /**
   * The baseline.
   *
   * @return whether the signature verified
   * @throws Exception never, for a valid key
   */
  @Benchmark
  public boolean jdk() throws Exception {
    Signature verify = Signature.getInstance("Ed25519");
    verify.initVerify(jdkKey);
    verify.update(message);
    return verify.verify(signature);
  }

  /**
   * What the feed client does.
   *
   * @return whether the signature verified
   */
  @Benchmark
  public boolean bouncyCastle() {
    return Ed25519.verify(signature, 0, point, message, 0, message.length);
  }
}
