package dev.tourniquet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./tourniquet} launcher at the root of a build, which docs/publishing.md has the publisher put
 * on the {@code PATH}. It runs {@code cli/target/tourniquet.jar} beside it; here a copy of it sits in a
 * build directory of its own whose jar is an empty file, so the JVM refusing that jar shows which jar the
 * launcher chose.
 */
class LauncherTest {
  private static final Path ROOT = Path.of(System.getProperty("tourniquet.repo.root", "..")).toAbsolutePath().normalize();

  @TempDir
  Path tmp;

  private Path build() throws Exception {
    Path build = tmp.resolve("build");
    Files.createDirectories(build.resolve("cli/target"));
    Files.write(build.resolve("cli/target/tourniquet.jar"), new byte[0]);
    Path launcher = build.resolve("tourniquet");
    Files.copy(ROOT.resolve("tourniquet"), launcher);
    Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
    return build;
  }

  private String run(Path command) throws Exception {
    Process p = new ProcessBuilder(command.toString(), "--version").redirectErrorStream(true).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
  }

  @Test
  void launcherRunByItsPathRunsTheJarBesideIt() throws Exception {
    assumeTrue(ROOT.getFileSystem().supportedFileAttributeViews().contains("posix"));
    Path build = build();

    assertThat(run(build.resolve("tourniquet"))).contains(build.resolve("cli/target/tourniquet.jar").toString())
        .doesNotContain("not found");
  }

  @Test
  void launcherPutOnThePathThroughASymbolicLinkRunsTheJarBesideTheLinkedFile() throws Exception {
    assumeTrue(ROOT.getFileSystem().supportedFileAttributeViews().contains("posix"));
    Path build = build();
    Path bin = Files.createDirectories(tmp.resolve("bin"));
    // A relative link, as `ln -s ../build/tourniquet bin/` makes, and a link to that link.
    Files.createSymbolicLink(bin.resolve("tourniquet"), Path.of("../build/tourniquet"));
    Files.createSymbolicLink(bin.resolve("tq"), bin.resolve("tourniquet"));

    // Before, the launcher looked for bin/cli/target/tourniquet.jar and answered "not found; build it first".
    assertThat(run(bin.resolve("tourniquet"))).contains(build.resolve("cli/target/tourniquet.jar").toString())
        .doesNotContain("not found");
    assertThat(run(bin.resolve("tq"))).contains(build.resolve("cli/target/tourniquet.jar").toString())
        .doesNotContain("not found");
  }
}
