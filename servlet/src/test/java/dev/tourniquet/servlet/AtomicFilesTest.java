package dev.tourniquet.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The atomic writer's chmod, in a directory the application's user may also write to. */
class AtomicFilesTest {
  @TempDir
  Path dir;

  @Test
  void linkPutInPlaceOfTheTemporaryFileIsRefusedAndWhatItPointsToKeepsItsPermissions() throws Exception {
    Path secret = Files.writeString(dir.resolve("secret"), "root only");
    Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
    // What a compromised application could do between the creation of the temporary file and its chmod.
    Path temp = Files.createSymbolicLink(dir.resolve(".web.json.123.tmp"), secret);

    assertThatThrownBy(() -> AtomicFiles.setPermissions(temp, PosixFilePermissions.fromString("rw-r--r--")))
        .isInstanceOf(IOException.class).hasMessageContaining("expected the temporary file just created");

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(secret))).isEqualTo("rw-------");
  }

  @Test
  void writtenFileIsReadableByOthers() throws Exception {
    Path file = dir.resolve("web.json");

    AtomicFiles.write(file, "{}".getBytes(java.nio.charset.StandardCharsets.UTF_8));

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-r--r--");
    assertThat(Files.readString(file)).isEqualTo("{}");
  }
}
