package dev.tourniquet.agent.enforce.nginx;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How the agent reaches one nginx: the include file it owns, the binary it runs, and whether njs may be
 * used. See {@code docs/nginx.md} for where the include line goes.
 *
 * @param includeFile the file the enforcer writes; the operator includes it once in every {@code server}
 *     block to protect, e.g. {@code /etc/nginx/tourniquet/enforce.conf}
 * @param nginxBinary the nginx executable, e.g. {@code /usr/sbin/nginx}
 * @param configFile the main configuration file, passed as {@code -c}; empty for nginx's compiled default
 * @param stateDir a directory the enforcer owns: the njs script lives there
 * @param commandTimeout how long one nginx command, or a reload taking effect, may take
 * @param njs whether the include may use njs ({@code libnginx-mod-http-js}, loaded by the operator), which
 *     rules on the decoded path ({@code <match url>} with a pattern, {@code {URL}}) and
 *     {@code {UrlDecode:…}} inputs (Microsoft's M1) need; without it such rules are refused
 */
public record NginxSettings(
    Path includeFile, Path nginxBinary, Optional<Path> configFile, Path stateDir, Duration commandTimeout, boolean njs) {

  /**
   * Validates the settings.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the timeout is not positive or a path is relative
   */
  public NginxSettings {
    Objects.requireNonNull(includeFile, "includeFile");
    Objects.requireNonNull(nginxBinary, "nginxBinary");
    Objects.requireNonNull(configFile, "configFile");
    Objects.requireNonNull(stateDir, "stateDir");
    Objects.requireNonNull(commandTimeout, "commandTimeout");
    if (commandTimeout.isNegative() || commandTimeout.isZero()) {
      throw new IllegalArgumentException("commandTimeout: expected a positive duration but found " + commandTimeout);
    }
    requireAbsolute("includeFile", includeFile);
    requireAbsolute("stateDir", stateDir);
    configFile.ifPresent(p -> requireAbsolute("configFile", p));
    if (stateDir.toString().indexOf('$') >= 0) {
      // The include names files under it in nginx strings, where '$' starts a variable and cannot be escaped.
      throw new IllegalArgumentException("stateDir: expected a path without '$' but found " + stateDir);
    }
  }

  /**
   * Settings without njs: core nginx only.
   *
   * @throws IllegalArgumentException as the canonical constructor
   */
  public NginxSettings(Path includeFile, Path nginxBinary, Optional<Path> configFile, Path stateDir, Duration commandTimeout) {
    this(includeFile, nginxBinary, configFile, stateDir, commandTimeout, false);
  }

  private static void requireAbsolute(String field, Path path) {
    if (!path.isAbsolute()) {
      throw new IllegalArgumentException(field + ": expected an absolute path but found " + path);
    }
  }
}
