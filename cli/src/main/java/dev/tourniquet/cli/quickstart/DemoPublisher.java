package dev.tourniquet.cli.quickstart;

import dev.tourniquet.cli.Main;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The demo feed's publisher. It runs the very verbs a publisher types ({@code tourniquet keys generate},
 * {@code feed init}, {@code feed add}, {@code feed sign}, {@code feed publish}; docs/publishing.md) in
 * this JVM, so the keys and the repository are exactly what those commands make, and a person can go on
 * with them by hand afterwards.
 *
 * <p>The demo keeps one unencrypted key per role in {@code keys/}, which is fine for a demo on loopback
 * and nothing else: real root and targets keys are encrypted and kept offline.
 */
final class DemoPublisher {
  private static final List<String> ROLES = List.of("root", "targets", "snapshot", "timestamp");

  private final Path dir;
  private final Path keys;
  private final Path repo;

  private DemoPublisher(Path dir) {
    this.dir = dir;
    this.keys = dir.resolve("keys");
    this.repo = dir.resolve("repo");
  }

  /**
   * Generates the keys and publishes a signed feed without mitigations.
   *
   * @param dir an empty directory for the keys, the repository and the mitigation documents
   * @return the publisher
   * @throws QuickstartException if a verb fails (its error is in the message)
   */
  static DemoPublisher create(Path dir) throws QuickstartException {
    DemoPublisher p = new DemoPublisher(dir);
    List<String> init = new ArrayList<>(List.of("feed", "init", "--repo", p.repo.toString()));
    for (String role : ROLES) {
      p.run("keys", "generate", "--out", p.keys.resolve(role).toString());
      init.add("--" + role + "-key");
      init.add(p.keys.resolve(role + ".pub.json").toString());
    }
    p.run(init.toArray(String[]::new));
    p.run("feed", "sign", "--repo", p.repo.toString(), "--role", "root", "--key", p.key("root"));
    p.run("feed", "sign", "--repo", p.repo.toString(), "--role", "targets", "--key", p.key("targets"));
    p.publish();
    return p;
  }

  /** The directory to serve: the repository's {@code published/}. */
  Path published() {
    return repo.resolve("published");
  }

  /** The root metadata an agent trusts at first start, obtained out of band. */
  Path firstRoot() {
    return published().resolve("1.root.json");
  }

  Path repository() {
    return repo;
  }

  /**
   * Writes a mitigation document from the quickstart's resources next to the repository, then adds it,
   * signs the targets and publishes.
   *
   * @param resource the resource name beside this class, e.g. {@code M1.json}
   * @return the verbs as a publisher types them, for the narration
   * @throws QuickstartException if the resource is missing or a verb fails
   * @throws IOException if the document cannot be written
   */
  List<String> publishResource(String resource) throws QuickstartException, IOException {
    Path document = dir.resolve(resource);
    try (InputStream in = DemoPublisher.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new QuickstartException("expected the mitigation " + resource + " inside the tourniquet jar but it is missing;"
            + " rebuild with mvn -DskipTests package");
      }
      Files.write(document, in.readAllBytes());
    }
    run("feed", "add", "--repo", repo.toString(), document.toString());
    run("feed", "sign", "--repo", repo.toString(), "--role", "targets", "--key", key("targets"));
    publish();
    return List.of("tourniquet feed add " + resource, "feed sign --role targets --key keys/targets.key",
        "feed publish --snapshot-key … --timestamp-key …");
  }

  private void publish() throws QuickstartException {
    run("feed", "publish", "--repo", repo.toString(), "--snapshot-key", key("snapshot"), "--timestamp-key", key("timestamp"));
  }

  private String key(String role) {
    return keys.resolve(role + ".key").toString();
  }

  /** Runs a verb of the tourniquet command; its output is discarded, its error becomes the exception. */
  private void run(String... args) throws QuickstartException {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(new PrintWriter(out), new PrintWriter(err), args);
    if (code != 0) {
      throw new QuickstartException("the demo publisher's `tourniquet " + String.join(" ", args) + "` exited with " + code
          + ": " + err.toString().strip());
    }
  }
}
