package dev.tourniquet.agent.fleet;

import dev.tourniquet.agent.AgentConfig;
import dev.tourniquet.agent.ConfigException;
import dev.tourniquet.feed.tuf.Fetchers;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Enrols the agent once: when its state directory holds no fleet credential yet, the one-time token from
 * {@code fleet.enrolmentTokenFile} is exchanged for one (written owner-only, atomically); afterwards the
 * credential alone is used and the token file is no longer read. The log names the token file, never the
 * token.
 */
final class Enrolment {
  private static final Logger LOG = LoggerFactory.getLogger(Enrolment.class);
  /** A token is short; a larger file is not a token file. */
  static final int MAX_TOKEN_BYTES = 1024;
  /** Beside the credential: the server name it was issued for (not a secret). */
  static final String ENROLLED_NAME_FILE = "fleet.server-name";

  private Enrolment() {}

  /**
   * Checks without the network that the agent can join its fleet: an existing credential is readable by
   * its owner only, or else a token file exists and holds one token.
   *
   * @return what the agent will do, for {@code --check-config}
   */
  static String check(AgentConfig config, AgentConfig.Fleet fleet) throws ConfigException {
    Path credential = fleet.credentialFile();
    if (Files.exists(credential)) {
      try {
        CredentialFile.read(credential);
      } catch (IOException e) {
        throw new ConfigException(config.source() + ": fleet: " + e.getMessage(), e);
      }
      checkName(config, fleet);
      return "fleet " + fleet.url() + ": enrolled (credential in " + credential + ")";
    }
    Path tokenFile = tokenFile(config, fleet);
    readToken(config, tokenFile);
    return "fleet " + fleet.url() + ": enrols at first start with the token in " + tokenFile;
  }

  /**
   * Enrols if no credential exists yet.
   *
   * @return whether this call enrolled (false: the credential was already there)
   * @throws ConfigException if there is no credential and no usable token file
   * @throws EnrolmentException if the server refused or could not be reached; nothing was written
   * @throws IOException if the credential cannot be written after the server accepted the enrolment
   */
  static boolean ensure(AgentConfig config, AgentConfig.Fleet fleet) throws ConfigException, IOException {
    Path credential = fleet.credentialFile();
    if (Files.exists(credential)) {
      checkName(config, fleet);
      fleet.enrolmentTokenFile().ifPresent(t -> LOG.info("fleet: already enrolled (credential in {}); the token file {}"
          + " is not read and can be deleted", credential, t));
      return false;
    }
    Path tokenFile = tokenFile(config, fleet);
    String token = readToken(config, tokenFile);
    LOG.info("fleet: enrolling {} with {} using the one-time enrolment token in {}", config.serverName(), fleet.url(),
        tokenFile);
    FleetClient.Enrolled enrolled;
    try {
      enrolled = FleetClient.exchange(fleet.url(), token, config.serverName(), config.labels(),
          FleetClient.httpClient(fleet.proxy()));
    } catch (IOException e) {
      throw new EnrolmentException("fleet.enrolmentTokenFile " + tokenFile + ": enrolling " + config.serverName()
          + " with the fleet server " + fleet.url() + " failed; no credential was written: " + Fetchers.describe(e), e);
    }
    try {
      CredentialFile.write(credential, enrolled.credential());
    } catch (IOException e) {
      throw new IOException(credential + ": the fleet server enrolled " + config.serverName() + " (agent "
          + enrolled.agentId() + ") but the credential could not be written (" + e.getMessage() + "); an admin must"
          + " remove the server (DELETE /api/v1/admin/servers/" + config.serverName() + ") before it can enrol again", e);
    }
    try {
      CredentialFile.write(nameFile(fleet), config.serverName());
    } catch (IOException e) {
      LOG.warn("fleet: {}: could not record the enrolled server name ({}); a later change of server.name will"
          + " not be caught at start", nameFile(fleet), e.toString());
    }
    LOG.info("fleet: enrolled {} as agent {}; credential saved in {}; the token in {} is used up and can be deleted",
        config.serverName(), enrolled.agentId(), credential, tokenFile);
    return true;
  }

  private static Path nameFile(AgentConfig.Fleet fleet) {
    return fleet.credentialFile().resolveSibling(ENROLLED_NAME_FILE);
  }

  /**
   * A credential is bound to the name it was enrolled with: the server refuses (403) every report under
   * another name. Say so at start rather than in a warning after every check.
   */
  private static void checkName(AgentConfig config, AgentConfig.Fleet fleet) throws ConfigException {
    Path file = nameFile(fleet);
    String enrolled;
    try {
      if (!Files.exists(file) || Files.size(file) > 1024) {
        return; // enrolled by other means; the server still refuses a wrong name
      }
      enrolled = Files.readString(file, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      return;
    }
    if (!enrolled.isEmpty() && !enrolled.equals(config.serverName())) {
      throw new ConfigException(config.source() + ": server.name: expected \"" + enrolled + "\", the name this agent"
          + " enrolled with at " + fleet.url() + " (the fleet server refuses reports under another name), but found \""
          + config.serverName() + "\"; to rename it, remove " + enrolled + " on the fleet server, delete "
          + fleet.credentialFile() + " and enrol again with a new token");
    }
  }

  private static Path tokenFile(AgentConfig config, AgentConfig.Fleet fleet) throws ConfigException {
    Optional<Path> tokenFile = fleet.enrolmentTokenFile();
    if (tokenFile.isEmpty()) {
      throw new ConfigException(config.source() + ": fleet.enrolmentTokenFile: expected a one-time enrolment token"
          + " file to enrol with, since " + fleet.credentialFile() + " does not exist yet, but the key is missing");
    }
    return tokenFile.get();
  }

  private static String readToken(AgentConfig config, Path file) throws ConfigException {
    String where = config.source() + ": fleet.enrolmentTokenFile " + file;
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_TOKEN_BYTES + 1);
    } catch (NoSuchFileException e) {
      throw new ConfigException(where + ": expected a file holding a one-time enrolment token (there is no fleet"
          + " credential yet) but there is no such file");
    } catch (IOException e) {
      throw new ConfigException(where + ": expected a readable file holding a one-time enrolment token but "
          + e.getMessage(), e);
    }
    if (bytes.length > MAX_TOKEN_BYTES) {
      throw new ConfigException(where + ": expected one enrolment token (at most " + MAX_TOKEN_BYTES
          + " bytes) but the file is larger");
    }
    String token = new String(bytes, StandardCharsets.UTF_8).strip();
    if (token.isEmpty()) {
      throw new ConfigException(where + ": expected a one-time enrolment token but the file is empty");
    }
    if (!token.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new ConfigException(where + ": expected one enrolment token (printable characters, one line) but found"
          + " spaces, line breaks or other characters");
    }
    warnIfOthersCanRead(file);
    return token;
  }

  private static void warnIfOthersCanRead(Path file) {
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      if (perms.contains(PosixFilePermission.OTHERS_READ)) {
        LOG.warn("fleet: the enrolment token file {} is readable by every user; until it is used, anyone who reads it"
            + " can enrol a server in its place (chmod 600)", file);
      }
    } catch (IOException | UnsupportedOperationException e) {
      // not POSIX, or unreadable attributes: the read above succeeded, nothing to add
    }
  }
}
