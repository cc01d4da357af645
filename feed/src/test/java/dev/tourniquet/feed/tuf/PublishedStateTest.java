package dev.tourniquet.feed.tuf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a publisher's tools read back from a repository: target content and the published versions. */
class PublishedStateTest {
  @TempDir Path temp;

  @Test
  void readTargetReturnsThePublishedContentOrTheStagedRevision() throws Exception {
    TestRepository repo = new TestRepository(temp);

    assertThat(repo.repo.readTarget("mitigations/M1.json")).contains(TestRepository.mitigation("M1", 1));
    repo.repo.addTarget("mitigations/M1.json", TestRepository.mitigation("M1", 2));
    assertThat(repo.repo.readTarget("mitigations/M1.json")).contains(TestRepository.mitigation("M1", 2));
    assertThat(repo.repo.readTarget("mitigations/M9.json")).isEmpty();
  }

  @Test
  void readPublishedTargetIgnoresStagedChanges() throws Exception {
    TestRepository repo = new TestRepository(temp);
    repo.repo.addTarget("mitigations/M1.json", TestRepository.mitigation("M1", 2));
    repo.repo.removeTarget("mitigations/M2.json");

    assertThat(repo.repo.readPublishedTarget("mitigations/M1.json")).contains(TestRepository.mitigation("M1", 1));
    assertThat(repo.repo.readPublishedTarget("mitigations/M2.json")).contains(TestRepository.mitigation("M2", 1));
    assertThat(repo.repo.readTarget("mitigations/M2.json")).isEmpty();
  }

  @Test
  void readTargetRefusesContentThatNoLongerMatchesItsListing() throws Exception {
    TestRepository repo = new TestRepository(temp);
    try (var files = Files.walk(repo.published().resolve("targets"))) {
      for (Path p : files.filter(p -> p.getFileName().toString().endsWith(".M1.json")).toList()) {
        Files.write(p, "tampered".getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
    }

    assertThatThrownBy(() -> repo.repo.readTarget("mitigations/M1.json"))
        .isInstanceOf(RepositoryStateException.class)
        .hasMessageContaining("mitigations/M1.json: expected content with sha256");
  }

  @Test
  void publishedListsEachRoleWithItsVersionAndExpiry() throws Exception {
    TestRepository repo = new TestRepository(temp);
    repo.publishRevision(2);

    assertThat(repo.repo.published()).extracting(FeedRepository.PublishedRole::role, FeedRepository.PublishedRole::version)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(Role.ROOT, 1L),
            org.assertj.core.groups.Tuple.tuple(Role.TIMESTAMP, 2L),
            org.assertj.core.groups.Tuple.tuple(Role.SNAPSHOT, 2L),
            org.assertj.core.groups.Tuple.tuple(Role.TARGETS, 2L));
    assertThat(repo.repo.published().get(1).expires()).isEqualTo(TestRepository.START.plus(java.time.Duration.ofDays(1)));
  }

  @Test
  void publishedFilesBundlesAndPublicKeysAreReadableByOthersWhilePrivateKeysAreNot() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.getFileStore(temp).supportsFileAttributeView("posix"));
    TestRepository repo = new TestRepository(temp);
    repo.repo.writeBundle(temp.resolve("feed.bundle"));
    repo.targetsKey.verificationKey().write(temp.resolve("targets.pub.json"));
    KeyFiles.writePrivateKey(temp.resolve("targets.key"), repo.targetsKey, null);

    try (var files = Files.walk(repo.published())) {
      for (Path p : files.filter(Files::isRegularFile).toList()) {
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(p)))
            .as(p.toString()).matches("rw-r..r..");
      }
    }
    assertThat(Files.getPosixFilePermissions(temp.resolve("feed.bundle")))
        .contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ);
    assertThat(Files.getPosixFilePermissions(temp.resolve("targets.pub.json")))
        .contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ);
    assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(temp.resolve("targets.key"))))
        .isEqualTo("rw-------");
  }
}
