package dev.tourniquet.cli;

import dev.tourniquet.feed.tuf.KeyFiles;
import dev.tourniquet.feed.tuf.PublisherException;
import dev.tourniquet.feed.tuf.SigningKey;
import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import picocli.CommandLine.Option;

/**
 * Where the passphrase of encrypted private keys comes from: an environment variable named by
 * {@code --passphrase-env}, the first line of a file named by {@code --passphrase-file}, or else the
 * console. Never from the command line itself, where other users see it in the process list and it lands
 * in shell history.
 */
final class Passphrases {
  @Option(names = "--passphrase-env", paramLabel = "VAR",
      description = "Read the passphrase of encrypted keys from the environment variable VAR (not from the command line).")
  String environmentVariable;

  @Option(names = "--passphrase-file", paramLabel = "FILE",
      description = "Read the passphrase of encrypted keys from the first line of FILE.")
  Path file;

  /** Reads a private key file, asking for its passphrase if it is encrypted. */
  SigningKey readKey(Path keyFile) throws PublisherException, IOException, Verb.Invalid {
    char[] passphrase = KeyFiles.isEncrypted(keyFile) ? read("Passphrase for " + keyFile + ": ") : null;
    try {
      return KeyFiles.readPrivateKey(keyFile, passphrase);
    } finally {
      if (passphrase != null) {
        Arrays.fill(passphrase, '\0');
      }
    }
  }

  /** Reads the passphrase for an existing key. */
  char[] read(String prompt) throws IOException, Verb.Invalid {
    char[] given = given();
    if (given != null) {
      return given;
    }
    Console console = System.console();
    if (console == null) {
      throw noSource();
    }
    char[] typed = console.readPassword("%s", prompt);
    if (typed == null || typed.length == 0) {
      throw new Verb.Invalid("tourniquet: passphrase: expected a passphrase but found none");
    }
    return typed;
  }

  /** Reads a new passphrase; on the console, typed twice. */
  char[] readNew(String what) throws IOException, Verb.Invalid {
    char[] given = given();
    if (given != null) {
      return given;
    }
    Console console = System.console();
    if (console == null) {
      throw noSource();
    }
    char[] first = console.readPassword("New passphrase for %s: ", what);
    char[] second = console.readPassword("Repeat it: ");
    try {
      if (first == null || first.length == 0) {
        throw new Verb.Invalid("tourniquet: passphrase: expected a passphrase but found none");
      }
      if (!Arrays.equals(first, second)) {
        throw new Verb.Invalid("tourniquet: passphrase: expected the same passphrase twice but found two different ones");
      }
      return first.clone();
    } finally {
      Arrays.fill(first == null ? new char[0] : first, '\0');
      Arrays.fill(second == null ? new char[0] : second, '\0');
    }
  }

  private char[] given() throws IOException, Verb.Invalid {
    if (environmentVariable != null) {
      String value = System.getenv(environmentVariable);
      if (value == null || value.isEmpty()) {
        throw new Verb.Invalid("tourniquet: --passphrase-env: expected the environment variable " + environmentVariable
            + " to hold a passphrase but found it " + (value == null ? "unset" : "empty"));
      }
      return value.toCharArray();
    }
    if (file != null) {
      String line;
      try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        line = reader.readLine();
      }
      if (line == null || line.isEmpty()) {
        throw new Verb.Invalid("tourniquet: --passphrase-file: expected a passphrase on the first line of " + file
            + " but found none");
      }
      return line.toCharArray();
    }
    return null;
  }

  private static Verb.Invalid noSource() {
    return new Verb.Invalid("tourniquet: passphrase: expected --passphrase-env, --passphrase-file or a console to"
        + " type it on but found none");
  }
}
