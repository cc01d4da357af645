package dev.tourniquet.cli;

import dev.tourniquet.feed.tuf.KeyFiles;
import dev.tourniquet.feed.tuf.SigningKey;
import dev.tourniquet.feed.tuf.VerificationKey;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tourniquet keys …}: create and inspect the feed's signing keys. */
@Command(
    name = "keys",
    mixinStandardHelpOptions = true,
    description = "Create and inspect ed25519 signing keys for a feed (see docs/publishing.md).",
    subcommands = {KeysCommand.Generate.class, KeysCommand.Show.class})
final class KeysCommand {
  private KeysCommand() {}

  /** Reads a public key file, or the public half of a private key file. */
  static VerificationKey publicKey(Path file, Passphrases passphrases) throws Exception {
    String text = Files.readString(file);
    if (text.stripLeading().startsWith("-----BEGIN") || text.contains("\"ciphertext\"")) {
      return passphrases.readKey(file).verificationKey();
    }
    return VerificationKey.read(file);
  }

  @Command(name = "generate", mixinStandardHelpOptions = true,
      description = {"Generate an ed25519 key pair: PREFIX.key (private, owner-only permissions) and PREFIX.pub.json (public).",
          "Generate each root and targets key on its holder's machine; only the .pub.json travels.",
          "With --encrypt the private key is encrypted with a passphrase (PBKDF2-HMAC-SHA256, AES-256-GCM) read from",
          "--passphrase-env, --passphrase-file or the console (typed twice). Existing files are never overwritten."})
  static final class Generate extends Verb {
    @Option(names = "--out", required = true, paramLabel = "PREFIX",
        description = "Where to write: PREFIX.key and PREFIX.pub.json, e.g. keys/root-1.")
    String out;

    @Option(names = "--encrypt", description = "Encrypt the private key with a passphrase.")
    boolean encrypt;

    @Mixin
    Passphrases passphrases;

    @Override
    void run() throws Exception {
      // keys/ (or an existing directory) would write keys.key beside the directory, not in it.
      if (out.endsWith("/") || out.endsWith(java.io.File.separator) || Files.isDirectory(Path.of(out))) {
        throw new Invalid("tourniquet: --out: expected a PREFIX to which .key and .pub.json are added but found the"
            + " directory " + out + "; use --out " + Path.of(out).resolve("NAME") + ", e.g. "
            + Path.of(out).resolve("root-1"));
      }
      Path prefix = Path.of(out);
      String base = prefix.getFileName().toString();
      // --out root-1.key would write root-1.key.key, and --key root-1.key would later find no file.
      for (String extension : List.of(".pub.json", ".key")) {
        if (base.endsWith(extension) && base.length() > extension.length()) {
          throw new Invalid("tourniquet: --out: expected a PREFIX to which .key and .pub.json are added but found "
              + prefix + "; use --out " + prefix.resolveSibling(base.substring(0, base.length() - extension.length())));
        }
      }
      Path privateFile = prefix.resolveSibling(base + ".key");
      Path publicFile = prefix.resolveSibling(base + ".pub.json");
      for (Path p : List.of(privateFile, publicFile)) {
        if (Files.exists(p)) {
          throw new FileAlreadyExistsException(p.toString(), null, "keys are never overwritten");
        }
      }
      if (privateFile.getParent() != null) {
        Files.createDirectories(privateFile.getParent());
      }
      char[] passphrase = encrypt ? passphrases.readNew(privateFile.toString()) : null;
      SigningKey key = SigningKey.generate();
      try {
        KeyFiles.writePrivateKey(privateFile, key, passphrase);
      } finally {
        if (passphrase != null) {
          Arrays.fill(passphrase, '\0');
        }
      }
      key.verificationKey().write(publicFile);
      out().println("generated ed25519 key " + key.keyId());
      out().println("  private: " + privateFile + " (owner only" + (encrypt ? ", encrypted" : ", not encrypted") + ")");
      out().println("  public:  " + publicFile);
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true,
      description = "Print the key id and type of public key files (*.pub.json) or private key files.")
  static final class Show extends Verb {
    @Parameters(paramLabel = "FILE", arity = "1..*", description = "Key files.")
    List<Path> files;

    @Mixin
    Passphrases passphrases;

    @Override
    void run() throws Exception {
      for (Path file : files) {
        VerificationKey key = publicKey(file, passphrases);
        out().println(key.keyId() + "  " + key.keytype() + "  " + file);
      }
    }
  }
}
