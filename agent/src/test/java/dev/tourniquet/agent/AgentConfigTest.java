package dev.tourniquet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tourniquet.agent.enforce.nginx.NginxEnforcer;
import dev.tourniquet.agent.enforce.service.ServiceEnforcer;
import dev.tourniquet.agent.enforce.servlet.ServletEnforcer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The agent's YAML configuration and the built-in target types. */
class AgentConfigTest {
  @TempDir
  Path dir;

  private static final String BASE = String.join("\n",
      "server: {name: mail01, labels: {site: paris, ring: '2'}}",
      "product: {name: microsoft-exchange-server, version: 15.2.1118.7}",
      "feed: {url: 'https://feed.example.org/tourniquet/', trustedRoot: root.json, proxy: 'http://proxy.example.org:3128'}",
      "stateDir: state",
      "");

  private AgentConfig load(String yaml) throws Exception {
    Path file = dir.resolve("agent.yaml");
    Files.writeString(file, yaml);
    return AgentConfig.load(file);
  }

  @Test
  void readsEveryKeyAndResolvesRelativePathsAgainstTheFile() throws Exception {
    AgentConfig c = load(BASE + String.join("\n",
        "interval: 30m",
        "dataCollection: false",
        "admin: {port: 7400}",
        "targets:",
        "  - {name: app, type: servlet, enforcementFile: /var/lib/tourniquet/app.json,",
        "     healthProbe: {url: 'http://127.0.0.1:8080/health', status: 204, timeout: 3s}}",
        ""));

    assertThat(c.serverName()).isEqualTo("mail01");
    assertThat(c.labels()).containsEntry("site", "paris").containsEntry("ring", "2");
    assertThat(c.version()).isEqualTo(new AgentConfig.VersionSource.Fixed(dev.tourniquet.feed.mitigation.Version.parse("15.2.1118.7")));
    assertThat(c.feed()).isEqualTo(new AgentConfig.FeedLocation.Http(java.net.URI.create("https://feed.example.org/tourniquet/")));
    assertThat(c.proxy()).contains(java.net.URI.create("http://proxy.example.org:3128"));
    assertThat(c.trustedRoot()).isEqualTo(dir.resolve("root.json").toAbsolutePath());
    assertThat(c.stateDir()).isEqualTo(dir.resolve("state").toAbsolutePath());
    assertThat(c.interval()).isEqualTo(Duration.ofMinutes(30));
    assertThat(c.dataCollection()).isFalse();
    assertThat(c.adminPort()).isEqualTo(7400);
    assertThat(c.targets()).hasSize(1);
    assertThat(c.targets().get(0).probe()).contains(
        new AgentConfig.ProbeConfig(java.net.URI.create("http://127.0.0.1:8080/health"), 204, Duration.ofSeconds(3), 3));
  }

  @Test
  void relativeEnforcementFileIsRelativeToTheConfigurationFileNotToTheWorkingDirectory() throws Exception {
    AgentConfig c = load(BASE + String.join("\n",
        "targets:",
        "  - {name: app, type: servlet, enforcementFile: enforcement/app.json}",
        ""));

    AgentConfig.TargetConfig app = c.targets().get(0);
    ServletEnforcer enforcer = (ServletEnforcer) TargetFactories.builtIn().get("servlet")
        .create(app, dir.resolve("state/targets/app"), Clock.systemUTC());
    assertThat(enforcer.file()).isEqualTo(dir.resolve("enforcement/app.json").toAbsolutePath());
  }

  @Test
  void defaultsAreHourlyWithDataCollectionAndAnAdminPortChosenByTheSystem() throws Exception {
    AgentConfig c = load(BASE);

    assertThat(c.interval()).isEqualTo(Duration.ofHours(1));
    assertThat(c.dataCollection()).isTrue();
    assertThat(c.adminPort()).as("0: any free port, nothing for another user to take first").isZero();
    assertThat(c.targets()).isEmpty();
  }

  @Test
  void versionFromACommandIsAList() throws Exception {
    AgentConfig c = load(BASE.replace("version: 15.2.1118.7", "versionCommand: [/usr/bin/cat, /etc/product-version]"));

    assertThat(c.version()).isEqualTo(new AgentConfig.VersionSource.FromCommand(List.of("/usr/bin/cat", "/etc/product-version")));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "unknown top-level key | colour: red | colour: unknown key",
      "interval under a minute | interval: 30s | interval: expected from 1m to 30d but found 30s",
      "interval over a month (longer overflowed the schedule) | interval: 200000d | interval: expected from 1m to 30d but found 200000d",
      "key given twice | stateDir: other | expected YAML with each key once but it does not parse: Duplicate field 'stateDir' (line",
      "bad interval | interval: soon | interval: expected a duration such as 90s, 30m, 1h or PT1H but found \"soon\"",
      "admin port out of range | admin: {port: 70000} | admin.port: expected a whole number from 0 to 65535",
      "data collection not boolean | dataCollection: yes please | dataCollection: expected true or false",
      "duplicate target | targets: [{name: a, type: servlet}, {name: a, type: servlet}] | targets[1].name: expected a unique name but found \"a\" again",
      "bad target name | targets: [{name: '../x', type: servlet}] | targets[0].name: expected 1 to 64 letters",
      "probe without url | targets: [{name: a, type: servlet, healthProbe: {status: 200}}] | targets[0].healthProbe.url: expected a value but it is missing",
  })
  void invalidConfigurationNamesTheKeyAndWhatWasExpected(String name, String line, String message) throws Exception {
    assertThatThrownBy(() -> load(BASE + line + "\n")).isInstanceOf(ConfigException.class).hasMessageContaining(message);
  }

  @Test
  void feedNeedsExactlyOneLocation() {
    assertThatThrownBy(() -> load(BASE.replace("url: 'https://feed.example.org/tourniquet/'", "directory: feed, bundle: f.bundle")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("feed: expected exactly one of url, directory, bundle, fleetFeed but found 2");
  }

  @Test
  void fleetSectionKeepsTheCredentialInTheStateDirectoryAndResolvesTheTokenFile() throws Exception {
    AgentConfig c = load(BASE + "fleet: {url: 'https://fleet.example.org:8420', enrolmentTokenFile: enrol.token}\n");

    assertThat(c.fleet()).contains(new AgentConfig.Fleet(java.net.URI.create("https://fleet.example.org:8420/"),
        java.util.Optional.of(dir.resolve("enrol.token").toAbsolutePath()),
        dir.resolve("state").resolve("fleet.credential").toAbsolutePath(), java.util.Optional.empty()));
    assertThat(load(BASE).fleet()).isEmpty();
  }

  @Test
  void theFleetServerIsReachedThroughFleetProxyOrElseTheProxyOfTheFeedItHosts() throws Exception {
    String fleetFeed = BASE.replace("url: 'https://feed.example.org/tourniquet/'",
        "fleetFeed: default");
    java.net.URI feedProxy = java.net.URI.create("http://proxy.example.org:3128");
    java.net.URI fleetProxy = java.net.URI.create("http://fleet-proxy.example.org:8080");

    assertThat(load(fleetFeed + "fleet: {url: 'https://fleet.example.org/'}\n").fleet().orElseThrow().proxy())
        .contains(feedProxy);
    assertThat(load(fleetFeed + "fleet: {url: 'https://fleet.example.org/', proxy: 'http://fleet-proxy.example.org:8080'}\n")
        .fleet().orElseThrow().proxy()).contains(fleetProxy);
    // A feed of its own, through its own proxy: the fleet server is reached directly unless fleet.proxy says so.
    assertThat(load(BASE + "fleet: {url: 'https://fleet.example.org/'}\n").fleet().orElseThrow().proxy()).isEmpty();
  }

  @Test
  void fleetFeedIsTheFeedTheFleetServerHostsUnderItsName() throws Exception {
    AgentConfig c = load(BASE.replace("url: 'https://feed.example.org/tourniquet/'", "fleetFeed: default")
        + "fleet: {url: 'http://127.0.0.1:8420/tq/'}\n");

    assertThat(c.feed()).isEqualTo(new AgentConfig.FeedLocation.Http(java.net.URI.create("http://127.0.0.1:8420/tq/feeds/default/")));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "url not http | fleet: {url: 'ftp://fleet.example.org/'} | fleet.url: expected an absolute http or https URL but found \"ftp://fleet.example.org/\"",
      "url missing | fleet: {enrolmentTokenFile: t} | fleet.url: expected a value but it is missing",
      "url with a query | fleet: {url: 'https://fleet.example.org/?x=1'} | fleet.url: expected the fleet server's base URL without user, query or fragment",
      "url with a user | fleet: {url: 'https://me:pw@fleet.example.org/'} | fleet.url: expected the fleet server's base URL without user",
      "unknown fleet key | fleet: {url: 'https://f.example.org/', token: abc} | fleet.token: unknown key; expected one of [enrolmentTokenFile, proxy, url]",
      "proxy not http | fleet: {url: 'https://f.example.org/', proxy: 'socks5://p:1080'} | fleet.proxy: expected an absolute http URL but found \"socks5://p:1080\"",
      "fleet not a mapping | fleet: https://f.example.org/ | fleet: expected a mapping but found STRING",
      "label key the server refuses | fleet: {url: 'https://f.example.org/'}\\nserver: {name: mail01, labels: {Site: paris}} | server.labels.Site: expected a key of 1 to 63 lowercase",
      "server name the server refuses | fleet: {url: 'https://f.example.org/'}\\nserver: {name: 'mail 01'} | server.name: expected 1 to 253 letters",
  })
  void invalidFleetSectionNamesTheKey(String name, String lines, String message) {
    String yaml = lines.contains("server:") ? BASE.replace("server: {name: mail01, labels: {site: paris, ring: '2'}}\n", "") : BASE;
    assertThatThrownBy(() -> load(yaml + lines.replace("\\n", "\n") + "\n")).isInstanceOf(ConfigException.class)
        .hasMessageContaining(message);
  }

  @Test
  void fleetFeedNeedsAFleetAndAFeedName() {
    assertThatThrownBy(() -> load(BASE.replace("url: 'https://feed.example.org/tourniquet/'", "fleetFeed: default")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("feed.fleetFeed: expected a fleet section (fleet.url) to take the hosted feed from but found none");
    assertThatThrownBy(() -> load(BASE.replace("url: 'https://feed.example.org/tourniquet/'", "fleetFeed: '../x'")
        + "fleet: {url: 'https://f.example.org/'}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("feed.fleetFeed: expected a hosted feed's name (1 to 64 letters, digits, '.', '_' or '-') but found \"../x\"");
  }

  @Test
  void productNeedsExactlyOneVersionSource() {
    assertThatThrownBy(() -> load(BASE.replace("version: 15.2.1118.7", "versionFile: v.txt, version: 1.0")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("product: expected exactly one of version, versionFile, versionCommand but found 2");
  }

  private Agent.Builder builder(String targets) throws Exception {
    return Agent.builder(load(BASE + "targets:\n" + targets + "\n")).clock(Clock.systemUTC());
  }

  @Test
  void everyBuiltInTypeMakesItsEnforcer() throws Exception {
    var factories = TargetFactories.builtIn();
    AgentConfig c = load(BASE + String.join("\n", "targets:",
        "  - {name: app, type: servlet, enforcementFile: /srv/app/enforcement.json}",
        "  - {name: web, type: nginx, includeFile: /etc/nginx/tourniquet/enforce.conf, njs: true, commandTimeout: 20s}",
        "  - {name: units, type: systemd}",
        "  - {name: programs, type: supervisord, serverUrl: 'unix:///run/supervisor.sock'}",
        "  - {name: scm, type: windows}", ""));

    List<Class<?>> types = new java.util.ArrayList<>();
    for (AgentConfig.TargetConfig t : c.targets()) {
      types.add(factories.get(t.type()).create(t, dir.resolve("state/targets").resolve(t.name()), Clock.systemUTC()).getClass());
    }

    assertThat(types).containsExactly(ServletEnforcer.class, NginxEnforcer.class, ServiceEnforcer.class,
        ServiceEnforcer.class, ServiceEnforcer.class);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "unknown type | - {name: a, type: iis} | targets.a.type: expected one of [nginx, servlet, supervisord, systemd, windows] but found \"iis\"",
      "servlet without file | - {name: a, type: servlet} | targets.a.enforcementFile: expected a value for a servlet target but it is missing",
      "unknown servlet key | - {name: a, type: servlet, enforcementFile: /x.json, colour: red} | targets.a: unknown keys [colour] for type servlet",
      "nginx relative include | - {name: a, type: nginx, includeFile: enforce.conf} | targets.a: includeFile: expected an absolute path",
      "nginx njs not boolean | - {name: a, type: nginx, includeFile: /e.conf, njs: maybe} | targets.a.njs: expected true or false but found \"maybe\"",
      "unknown systemd option | - {name: a, type: systemd, colour: red} | targets.a: ",
  })
  void invalidTargetNamesItAndTheKey(String name, String target, String message) {
    assertThatThrownBy(() -> builder("  " + target).build()).isInstanceOf(ConfigException.class).hasMessageContaining(message);
  }
}
