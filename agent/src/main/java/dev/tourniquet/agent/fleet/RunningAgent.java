package dev.tourniquet.agent.fleet;

import dev.tourniquet.agent.Agent;
import dev.tourniquet.agent.AgentConfig;
import dev.tourniquet.agent.ConfigException;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An agent started from its configuration the way {@code tourniquet agent --config FILE} runs it, joined to
 * its fleet server when the configuration has a {@code fleet:} section:
 *
 * <ol>
 *   <li>enrol once, if the state directory holds no credential yet, with the one-time token from
 *       {@code fleet.enrolmentTokenFile} (the credential is kept in {@code <stateDir>/fleet.credential},
 *       owner-only);
 *   <li>open the {@link FleetClient} with the credential and {@code dataCollection}, and give it to the agent
 *       as its policy source and reporter;
 *   <li>start the agent, then the {@link PushListener} on it, so that the server's push hints make it check
 *       at once.
 * </ol>
 *
 * <pre>{@code
 * AgentConfig config = AgentConfig.load(Path.of("/etc/tourniquet/agent.yaml"));
 * try (RunningAgent running = RunningAgent.start(config)) {
 *   ... // running.agent() until shutdown
 * }
 * }</pre>
 *
 * <p>Without a {@code fleet:} section the agent runs alone, with the default organisation policy. Enrolment
 * happens before the agent starts: if it fails, nothing starts and nothing is written (the agent's earlier
 * state and applied mitigations, if any, stay as they were).
 */
public final class RunningAgent implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(RunningAgent.class);
  private final Agent agent;
  private final Optional<FleetClient> fleet;
  private final PushListener push;

  private RunningAgent(Agent agent, Optional<FleetClient> fleet, PushListener push) {
    this.agent = agent;
    this.fleet = fleet;
    this.push = push;
  }

  /**
   * Validates a configuration as far as possible without the network or changing anything: builds every
   * target's enforcer, and for a fleet checks that the credential is readable by its owner only or else
   * that the enrolment token file exists and holds one token.
   *
   * @param config the configuration
   * @return one line per part checked beyond the file itself (e.g. how the agent joins its fleet), possibly
   *     none
   * @throws ConfigException if something is invalid, naming the key
   */
  public static List<String> check(AgentConfig config) throws ConfigException {
    Agent.builder(config).build();
    List<String> notes = new ArrayList<>();
    if (config.fleet().isPresent()) {
      notes.add(Enrolment.check(config, config.fleet().get()));
    }
    return List.copyOf(notes);
  }

  /**
   * Enrols if needed, builds and starts the agent, and starts the push listener.
   *
   * @param config the configuration
   * @return the running agent; close it to stop
   * @throws ConfigException if the configuration is invalid, or there is neither a credential nor a usable
   *     enrolment token file
   * @throws EnrolmentException if the fleet server refused the enrolment or could not be reached
   * @throws IOException if the credential cannot be read or written, or the agent cannot start
   */
  public static RunningAgent start(AgentConfig config) throws ConfigException, IOException {
    return start(config, b -> {});
  }

  /**
   * As {@link #start(AgentConfig)}, letting the caller adjust the builder first (target factories, admin
   * API, clock); the fleet client is set as policy source and reporter after {@code customise} runs.
   *
   * @param config the configuration
   * @param customise adjusts the builder
   * @return the running agent; close it to stop
   * @throws ConfigException if the configuration is invalid, or there is neither a credential nor a usable
   *     enrolment token file
   * @throws EnrolmentException if the fleet server refused the enrolment or could not be reached
   * @throws IOException if the credential cannot be read or written, or the agent cannot start
   */
  public static RunningAgent start(AgentConfig config, Consumer<Agent.Builder> customise)
      throws ConfigException, IOException {
    Objects.requireNonNull(customise, "customise");
    Agent.Builder builder = Agent.builder(config);
    customise.accept(builder);
    Optional<FleetClient> fleet = Optional.empty();
    if (config.fleet().isPresent()) {
      AgentConfig.Fleet f = config.fleet().get();
      builder.build(); // a configuration error is reported before anything is sent to the server
      warnIfPlainHttp(f);
      Enrolment.ensure(config, f);
      FleetClient client = FleetClient.open(f.url(), f.credentialFile(), config.dataCollection(),
          FleetClient.httpClient(f.proxy()));
      builder.policySource(client).reporter(client);
      fleet = Optional.of(client);
    }
    Agent agent = builder.build();
    try {
      agent.start();
    } catch (IOException | RuntimeException e) {
      agent.close();
      throw e;
    }
    PushListener push = fleet.map(client -> client.listen(agent)).orElse(null);
    return new RunningAgent(agent, fleet, push);
  }

  private static void warnIfPlainHttp(AgentConfig.Fleet fleet) {
    String host = fleet.url().getHost() == null ? "" : fleet.url().getHost().toLowerCase(Locale.ROOT);
    boolean loopback = host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]");
    if (fleet.url().getScheme().equalsIgnoreCase("http") && !loopback) {
      LOG.warn("fleet.url {} is plain http to another host: the agent's credential crosses the network unencrypted;"
          + " use https", fleet.url());
    }
  }

  /**
   * Returns the agent.
   *
   * @return the running agent
   */
  public Agent agent() {
    return agent;
  }

  /**
   * Returns the fleet client, if the configuration has a fleet.
   *
   * @return the client the agent uses for its policy and reports
   */
  public Optional<FleetClient> fleetClient() {
    return fleet;
  }

  /** The push listener, if the agent has a fleet (for tests). */
  Optional<PushListener> push() {
    return Optional.ofNullable(push);
  }

  /** Stops the push listener, then the agent (after the check in progress, if any). */
  @Override
  public void close() throws IOException {
    if (push != null) {
      push.close();
    }
    agent.close();
  }
}
