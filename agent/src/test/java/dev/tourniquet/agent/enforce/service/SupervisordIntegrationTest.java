package dev.tourniquet.agent.enforce.service;

import static dev.tourniquet.agent.enforce.service.ServiceMitigations.disable;
import static dev.tourniquet.agent.enforce.service.ServiceMitigations.enforce;
import static dev.tourniquet.feed.mitigation.Action.DisableService.Manager.SUPERVISORD;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.tourniquet.agent.enforce.ActiveMitigation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The service enforcer against a real supervisord: a private one per test, run in the foreground as a
 * child of the test, its socket and logs in a temporary directory, with three programs ({@code sleep}
 * processes): {@code web} (autostart), {@code idle} (not started), and the group {@code pool} of two.
 * Every command of the agent goes through the real {@code supervisorctl}; a recording wrapper keeps the argv
 * so the tests can tell which commands a converge issued. What an administrator does behind the agent's back
 * goes through supervisorctl too; the tests' own looks at what runs, and the shutdown, go straight to
 * supervisord's XML-RPC interface ({@link SupervisorRpc}), since a supervisorctl costs a Python start and the
 * tests look dozens of times. Each test shuts supervisord down with a bounded wait and checks that no process
 * it started is left.
 */
class SupervisordIntegrationTest {
  private static final Path SUPERVISORD_BIN = Path.of("/usr/bin/supervisord");
  private static final Path SUPERVISORCTL_BIN = Path.of("/usr/bin/supervisorctl");
  private static final Duration DEADLINE = Duration.ofSeconds(30);
  /** The socket's password; '%' checks the escaping in the private file written for serverUrl. */
  private static final String PASSWORD = "s3cret%42";

  @TempDir Path dir;
  Path config;
  Process supervisord;
  SupervisorRpc rpc;
  /** Handles, not pids: a handle knows its process's start time, so a pid reused since is never killed. */
  final Set<ProcessHandle> processesSeen = new HashSet<>();
  final List<List<String>> issued = new ArrayList<>();
  ServiceEnforcer enforcer;

  @BeforeEach
  void startSupervisord() throws Exception {
    assumeThat(Files.isExecutable(SUPERVISORD_BIN) && Files.isExecutable(SUPERVISORCTL_BIN))
        .as("supervisor is installed (apt-get install supervisor)").isTrue();
    config = dir.resolve("supervisord.conf");
    Files.writeString(config, """
        [unix_http_server]
        file=%(here)s/supervisor.sock
        username=agent
        password=s3cret%%42

        [supervisord]
        nodaemon=true
        logfile=%(here)s/supervisord.log
        pidfile=%(here)s/supervisord.pid
        childlogdir=%(here)s

        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

        [supervisorctl]
        serverurl=unix://%(here)s/supervisor.sock
        username=agent
        password=s3cret%%42

        [program:web]
        command=/bin/sleep 1000
        startsecs=0
        stopwaitsecs=5

        [program:idle]
        command=/bin/sleep 1000
        autostart=false
        startsecs=0

        [program:pool]
        command=/bin/sleep 1000
        process_name=%(program_name)s_%(process_num)02d
        numprocs=2
        startsecs=0
        """);
    rpc = new SupervisorRpc(dir.resolve("supervisor.sock"), "agent", PASSWORD, DEADLINE);
    supervisord = new ProcessBuilder(SUPERVISORD_BIN.toString(), "-c", config.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("supervisord.out").toFile()).start();
    Map<String, Proc> processes = awaitProcesses(p -> p.containsKey("web") && running(p) == 3);
    assertThat(running(processes)).as("running: %s", processes).isEqualTo(3);
    enforcer = new ServiceEnforcer("programs", manager(Map.of("configFile", config.toString())), dir.resolve("state"));
  }

  @AfterEach
  void stopSupervisord() throws Exception {
    if (supervisord == null) {
      return;
    }
    try {
      try {
        processes(); // their pids, for the check below
        rpc.shutdown();
      } catch (IOException notAnswering) {
        // stopped by force below
      }
      if (!supervisord.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
        supervisord.descendants().forEach(ProcessHandle::destroyForcibly);
        supervisord.destroyForcibly().waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      }
    } finally {
      // Nothing this test started may outlive it.
      for (ProcessHandle p : processesSeen) {
        if (p.isAlive()) {
          p.destroyForcibly();
          p.onExit().orTimeout(DEADLINE.toSeconds(), TimeUnit.SECONDS).join();
        }
      }
    }
    assertThat(supervisord.isAlive()).isFalse();
  }

  ServiceManager manager(Map<String, String> options) {
    ProcessCommandRunner real = new ProcessCommandRunner();
    CommandRunner recording = (argv, timeout) -> {
      issued.add(List.copyOf(argv));
      return real.run(argv, timeout);
    };
    return ServiceManagers.create("supervisord", options, recording, Duration.ofMillis(100));
  }

  /** Runs supervisorctl behind the agent's back (not recorded), as an administrator would, and returns its output. */
  String ctl(String... args) throws IOException {
    List<String> argv = new ArrayList<>(List.of(SUPERVISORCTL_BIN.toString(), "-c", config.toString()));
    argv.addAll(List.of(args));
    return new ProcessCommandRunner().run(argv, DEADLINE).stdout();
  }

  /** A process as supervisord reports it; pid 0 when it does not run. */
  record Proc(String state, long pid) {}

  /** Every process supervisord knows, by the name supervisorctl gives it ({@code web}, {@code pool:pool_00}). */
  Map<String, Proc> processes() throws IOException {
    Map<String, Proc> processes = new TreeMap<>();
    for (Map<String, Object> info : rpc.allProcessInfo()) {
      String name = (String) info.get("name");
      String group = (String) info.get("group");
      long pid = ((Integer) info.get("pid")).longValue();
      if (pid != 0) {
        ProcessHandle.of(pid).ifPresent(processesSeen::add);
      }
      processes.put(group.equals(name) ? name : group + ":" + name, new Proc((String) info.get("statename"), pid));
    }
    return processes;
  }

  /** Asks supervisord until {@code ready} holds (a socket not there yet counts as not ready), at most {@link #DEADLINE}. */
  Map<String, Proc> awaitProcesses(java.util.function.Predicate<Map<String, Proc>> ready) throws Exception {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    Map<String, Proc> processes = Map.of();
    IOException last = null;
    while (System.nanoTime() - deadline < 0) {
      assertThat(supervisord.isAlive()).as("supervisord is running (see %s)", dir.resolve("supervisord.out")).isTrue();
      try {
        processes = processes();
        if (ready.test(processes)) {
          return processes;
        }
      } catch (IOException e) {
        last = e; // starting: no socket yet
      }
      LockSupport.parkNanos(20_000_000);
    }
    throw new AssertionError("expected supervisord's processes to be ready within " + DEADLINE + " but found "
        + processes, last);
  }

  static long running(Map<String, Proc> processes) {
    return processes.values().stream().filter(p -> p.state().equals("RUNNING")).count();
  }

  long running() throws IOException {
    return running(processes());
  }

  String state(String name) throws IOException {
    Map<String, Proc> processes = processes();
    assertThat(processes).as("supervisord's processes").containsKey(name);
    return processes.get(name).state();
  }

  Optional<Long> pid(String name) throws IOException {
    Proc p = processes().get(name);
    return p == null || !p.state().equals("RUNNING") ? Optional.empty() : Optional.of(p.pid());
  }

  List<String> status(String name) {
    return List.of(SUPERVISORCTL_BIN.toString(), "-c", config.toString(), "status", name);
  }

  Path recordFile() {
    return dir.resolve("state/services/programs.json");
  }

  /** The start commands among those issued, by the name they start. */
  List<String> started() {
    return issued.stream().filter(argv -> argv.get(argv.size() - 2).equals("start")).map(argv -> argv.get(argv.size() - 1))
        .toList();
  }

  static final ActiveMitigation M5 = enforce("M5", disable("web", SUPERVISORD));

  @Test
  void convergeStopsTheProgramAndAgainIssuesOnlyStatus() throws Exception {
    long before = pid("web").orElseThrow();

    enforcer.converge(List.of(M5));

    assertThat(state("web")).isEqualTo("STOPPED");
    assertThat(ProcessHandle.of(before).map(ProcessHandle::isAlive)).isNotEqualTo(Optional.of(true));
    assertThat(issued).contains(List.of(SUPERVISORCTL_BIN.toString(), "-c", config.toString(), "stop", "web"));
    issued.clear();

    enforcer.converge(List.of(M5));

    // Once: the status that resolves the name to the process also says the process is stopped.
    assertThat(issued).containsExactly(status("web"));
    assertThat(state("web")).isEqualTo("STOPPED");
  }

  @Test
  void aSteadyStateConvergeIssuesOneStatusPerServiceNamed() throws Exception {
    List<ActiveMitigation> active = List.of(M5, enforce("M6", disable("idle", SUPERVISORD)),
        enforce("M7", disable("pool:", SUPERVISORD)), enforce("M8", disable("web", SUPERVISORD)));
    enforcer.converge(active);
    assertThat(running()).isZero();
    issued.clear();

    enforcer.converge(active);

    // The status that resolves a name also reports each process's state; a group's one status covers its
    // processes, and two mitigations writing one name share its status.
    assertThat(issued).containsExactlyInAnyOrder(status("web"), status("idle"), status("pool:"));
    assertThat(running()).isZero();
  }

  @Test
  void aProgramStartedBehindTheAgentsBackIsStoppedAgainByTheNextConverge() throws Exception {
    enforcer.converge(List.of(M5));
    assertThat(ctl("start", "web")).contains("web: started");
    assertThat(state("web")).isEqualTo("RUNNING");

    enforcer.converge(List.of(M5));

    assertThat(state("web")).isEqualTo("STOPPED");
  }

  @Test
  void removalStartsTheProgramAgain() throws Exception {
    enforcer.converge(List.of(M5));
    assertThat(state("web")).isEqualTo("STOPPED");

    enforcer.converge(List.of());

    assertThat(state("web")).isEqualTo("RUNNING");
    long pid = pid("web").orElseThrow();
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).contains(true);
    assertThat(dir.resolve("state/services/programs.json")).doesNotExist();
  }

  @Test
  void aProgramThatWasNotRunningIsLeftStoppedOnRemoval() throws Exception {
    ActiveMitigation idle = enforce("M6", disable("idle", SUPERVISORD));
    assertThat(state("idle")).isEqualTo("STOPPED");

    enforcer.converge(List.of(idle));
    enforcer.converge(List.of());

    assertThat(state("idle")).isEqualTo("STOPPED");
    assertThat(issued).allSatisfy(argv -> assertThat(argv.get(3)).isEqualTo("status"));
  }

  @Test
  void aRecordWrittenBeforeACrashIsFinishedOnTheNextConverge() throws Exception {
    // The agent recorded web as RUNNING and died before stopping it.
    new ServiceRecords(dir.resolve("state/services/programs.json"), "programs", SUPERVISORD).write(Map.of("web",
        new ServiceRecords.Entry(new ServiceState("config", "RUNNING"), new TreeSet<>(Set.of("M5")))));
    assertThat(state("web")).isEqualTo("RUNNING");

    enforcer.converge(List.of(M5));
    assertThat(state("web")).isEqualTo("STOPPED");

    enforcer.converge(List.of());
    assertThat(state("web")).isEqualTo("RUNNING");
  }

  @Test
  void aGroupIsStoppedWholeAndOnlyTheProcessesThatRanAreStartedAgain() throws Exception {
    assertThat(ctl("stop", "pool:pool_01")).contains("pool:pool_01: stopped");
    ActiveMitigation pool = enforce("M7", disable("pool:", SUPERVISORD));

    enforcer.converge(List.of(pool));
    assertThat(state("pool:pool_00")).isEqualTo("STOPPED");
    assertThat(state("pool:pool_01")).isEqualTo("STOPPED");

    enforcer.converge(List.of());
    assertThat(state("pool:pool_00")).isEqualTo("RUNNING");
    assertThat(state("pool:pool_01")).isEqualTo("STOPPED");
  }

  @Test
  void aServerUrlWithCredentialsWorksAndAWrongPasswordIsReportedWithoutIt() throws Exception {
    String socket = "unix://" + dir.resolve("supervisor.sock");
    ServiceEnforcer byUrl = new ServiceEnforcer("programs",
        manager(Map.of("serverUrl", socket, "username", "agent", "password", PASSWORD)), dir.resolve("state"));
    byUrl.converge(List.of(M5));
    assertThat(state("web")).isEqualTo("STOPPED");
    assertThat(issued).allSatisfy(argv -> assertThat(String.join(" ", argv)).doesNotContain("s3cret"));

    ServiceEnforcer wrong = new ServiceEnforcer("other",
        manager(Map.of("serverUrl", socket, "username", "agent", "password", "wrong-password")), dir.resolve("state"));
    assertThat(wrong.refusal(M5)).hasValueSatisfying(reason -> assertThat(reason)
        .contains("could not query supervisord")
        .contains("Server requires authentication")
        .doesNotContain("wrong-password"));
  }

  @Test
  void aProgramNamedByItsGroupThatLeavesTheConfigurationOnlyWarnsAndOtherMitigationsStillApply() throws Exception {
    ActiveMitigation web = enforce("M5", disable("web:", SUPERVISORD));
    enforcer.converge(List.of(web));
    assertThat(state("web")).isEqualTo("STOPPED");

    // An administrator removes the program: supervisord knows neither web nor web: any more.
    Files.writeString(config, Files.readString(config).replaceAll("(?s)\\[program:web\\].*?(?=\\[program:idle\\])", ""));
    ctl("reread");
    ctl("update");
    awaitProcesses(p -> !p.containsKey("web"));

    ActiveMitigation idle = enforce("M6", disable("idle", SUPERVISORD));
    enforcer.converge(List.of(web, idle)); // before: "disable-service web: expected a service … but found none"
    assertThat(state("idle")).isEqualTo("STOPPED");
    assertThat(Files.readString(recordFile())).contains("\"web\"").contains("M5");
  }

  @Test
  void refusalNamesAProgramSupervisordDoesNotKnow() {
    assertThat(enforcer.refusal(enforce("M8", disable("nosuch", SUPERVISORD))))
        .hasValueSatisfying(reason -> assertThat(reason)
            .startsWith("disable-service nosuch: expected a service nosuch on supervisord (/usr/bin/supervisorctl -c ")
            .endsWith("but found none"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"web:", "web:web"})
  void twoSpellingsOfOneProgramAreOneRecordSoItRunsAgainOnlyWhenBothMitigationsAreGone(String spelling)
      throws Exception {
    ActiveMitigation other = enforce("M9", disable(spelling, SUPERVISORD));
    enforcer.converge(List.of(M5));
    enforcer.converge(List.of(M5, other));
    assertThat(state("web")).isEqualTo("STOPPED");
    issued.clear();

    // M5 goes first: M9 still wants web stopped, so nothing may start it, not even for a moment.
    enforcer.converge(List.of(other));

    assertThat(started()).isEmpty();
    assertThat(state("web")).isEqualTo("STOPPED");

    // M9 goes too: web ran before M5 stopped it, so it runs again.
    enforcer.converge(List.of());

    assertThat(state("web")).isEqualTo("RUNNING");
    assertThat(recordFile()).doesNotExist();
  }

  @Test
  void aGroupAndOneOfItsProcessesShareThatProcessAndEachProcessIsRestoredWhenTheLastMitigationForItGoes()
      throws Exception {
    ActiveMitigation group = enforce("M7", disable("pool:", SUPERVISORD));
    ActiveMitigation one = enforce("M9", disable("pool:pool_00", SUPERVISORD));
    enforcer.converge(List.of(group));
    enforcer.converge(List.of(group, one));
    issued.clear();

    enforcer.converge(List.of(one));

    assertThat(started()).containsExactly("pool:pool_01");
    assertThat(state("pool:pool_00")).isEqualTo("STOPPED");
    assertThat(state("pool:pool_01")).isEqualTo("RUNNING");

    enforcer.converge(List.of());

    assertThat(state("pool:pool_00")).isEqualTo("RUNNING");
    assertThat(state("pool:pool_01")).isEqualTo("RUNNING");
  }

  @Test
  void recordsAnEarlierVersionKeptPerSpellingAreMergedPerProcessAndRestoredWhenTheLastMitigationGoes()
      throws Exception {
    // What the earlier version left after M5 (web) and then M9 (web:web), which found web stopped by M5,
    // and after M7 (pool:), which found pool_00 running and pool_01 stopped.
    ctl("stop", "web");
    ctl("stop", "pool:");
    Files.createDirectories(recordFile().getParent());
    Files.writeString(recordFile(), """
        {
          "format" : "tourniquet-service-records/1",
          "target" : "programs",
          "manager" : "supervisord",
          "services" : {
            "pool:" : { "startup" : "config", "activity" : "pool:pool_00=RUNNING,pool:pool_01=STOPPED", "mitigations" : [ "M7" ] },
            "web" : { "startup" : "config", "activity" : "RUNNING", "mitigations" : [ "M5" ] },
            "web:web" : { "startup" : "config", "activity" : "web=STOPPED", "mitigations" : [ "M9" ] }
          }
        }
        """);
    ActiveMitigation m7 = enforce("M7", disable("pool:", SUPERVISORD));
    ActiveMitigation m9 = enforce("M9", disable("web:web", SUPERVISORD));

    enforcer.converge(List.of(m7, m9));

    assertThat(started()).isEmpty();
    assertThat(state("web")).isEqualTo("STOPPED");
    assertThat(new ServiceRecords(recordFile(), "programs", SUPERVISORD).read().entries()).containsExactly(
        Map.entry("pool:pool_00", new ServiceRecords.Entry(new ServiceState("config", "RUNNING"), new TreeSet<>(Set.of("M7")))),
        Map.entry("pool:pool_01", new ServiceRecords.Entry(new ServiceState("config", "STOPPED"), new TreeSet<>(Set.of("M7")))),
        Map.entry("web", new ServiceRecords.Entry(new ServiceState("config", "RUNNING"), new TreeSet<>(Set.of("M9")))));

    enforcer.converge(List.of());

    assertThat(state("web")).isEqualTo("RUNNING");
    assertThat(state("pool:pool_00")).isEqualTo("RUNNING");
    assertThat(state("pool:pool_01")).isEqualTo("STOPPED");
    assertThat(recordFile()).doesNotExist();
  }
}
