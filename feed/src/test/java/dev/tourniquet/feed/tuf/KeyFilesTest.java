package dev.tourniquet.feed.tuf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyFilesTest {
  @TempDir Path temp;
  final SigningKey key = SigningKey.generate();

  @Test
  void privateKeyIsWrittenOwnerOnlyAsPkcs8Pem() throws Exception {
    Path file = temp.resolve("root.key");
    KeyFiles.writePrivateKey(file, key, null);

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    assertThat(Files.readString(file)).startsWith("-----BEGIN PRIVATE KEY-----\n");
    assertThat(KeyFiles.isEncrypted(file)).isFalse();
    assertThat(KeyFiles.readPrivateKey(file, null).keyId()).isEqualTo(key.keyId());
  }

  @Test
  void encryptedKeyReadsBackWithItsPassphrase() throws Exception {
    Path file = temp.resolve("targets.key");
    KeyFiles.writePrivateKey(file, key, "correct horse ⚡ battery".toCharArray(), KeyFiles.MIN_ITERATIONS);

    assertThat(KeyFiles.isEncrypted(file)).isTrue();
    assertThat(Files.readString(file)).contains("\"format\" : \"tourniquet-encrypted-private-key/1\"")
        .doesNotContain("PRIVATE KEY");
    SigningKey read = KeyFiles.readPrivateKey(file, "correct horse ⚡ battery".toCharArray());
    assertThat(read.keyId()).isEqualTo(key.keyId());
    byte[] data = "signed".getBytes(StandardCharsets.UTF_8);
    assertThat(KeyInfo.parse("k", "k", null, key.verificationKey().toJson()).verifies(read.signHex(data), data)).isTrue();
  }

  @Test
  void encryptedKeyWithTheWrongPassphraseIsRefused() throws Exception {
    Path file = temp.resolve("targets.key");
    KeyFiles.writePrivateKey(file, key, "right".toCharArray(), KeyFiles.MIN_ITERATIONS);

    assertThatThrownBy(() -> KeyFiles.readPrivateKey(file, "wrong".toCharArray()))
        .isInstanceOf(WrongPassphraseException.class).hasMessageContaining("expected a passphrase that decrypts the key");
    assertThatThrownBy(() -> KeyFiles.readPrivateKey(file, null))
        .isInstanceOf(WrongPassphraseException.class).hasMessageContaining("but found none");
  }

  @Test
  void encryptedKeyWhoseParametersWereAlteredIsRefused() throws Exception {
    Path file = temp.resolve("targets.key");
    KeyFiles.writePrivateKey(file, key, "right".toCharArray(), KeyFiles.MIN_ITERATIONS);
    String altered = Files.readString(file).replace("\"iterations\" : 10000", "\"iterations\" : 10001");
    Files.writeString(file, altered);

    assertThatThrownBy(() -> KeyFiles.readPrivateKey(file, "right".toCharArray()))
        .isInstanceOf(WrongPassphraseException.class);
  }

  @Test
  void existingKeyFileIsNeverOverwritten() throws Exception {
    Path file = temp.resolve("root.key");
    KeyFiles.writePrivateKey(file, key, null);
    String before = Files.readString(file);

    assertThatThrownBy(() -> KeyFiles.writePrivateKey(file, SigningKey.generate(), null))
        .isInstanceOf(FileAlreadyExistsException.class);
    assertThat(Files.readString(file)).isEqualTo(before);
  }

  @Test
  void keyFileReadableByOthersIsRefused() throws Exception {
    Path file = temp.resolve("root.key");
    KeyFiles.writePrivateKey(file, key, null);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

    assertThatThrownBy(() -> KeyFiles.readPrivateKey(file, null)).isInstanceOf(InsecureKeyFileException.class)
        .hasMessageContaining("expected rw------- (owner only) but found rw-r--r--");
  }

  @Test
  void publicKeyFileRoundTripsWithItsKeyId() throws Exception {
    Path file = temp.resolve("root.pub.json");
    key.verificationKey().write(file);

    VerificationKey read = VerificationKey.read(file);
    assertThat(read).isEqualTo(key.verificationKey());
    assertThat(read.keyId()).isEqualTo(Hashes.hex(Hashes.SHA256,
        ("{\"keytype\":\"ed25519\",\"keyval\":{\"public\":\"" + read.publicValue()
            + "\"},\"scheme\":\"ed25519\"}").getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void keyFileInAnotherFormatIsRefused() throws Exception {
    Path file = temp.resolve("other.key");
    Files.writeString(file, "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));

    assertThatThrownBy(() -> KeyFiles.readPrivateKey(file, null)).isInstanceOf(KeyFileException.class)
        .hasMessageContaining("expected a PEM PRIVATE KEY block");
  }
}
