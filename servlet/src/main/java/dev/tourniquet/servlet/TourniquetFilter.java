package dev.tourniquet.servlet;

import dev.tourniquet.rules.Decision;
import dev.tourniquet.rules.Header;
import dev.tourniquet.rules.HttpRequest;
import dev.tourniquet.rules.RequestException;
import jakarta.servlet.FilterChain;
import jakarta.servlet.FilterConfig;
import jakarta.servlet.GenericFilter;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Enforces the mitigations of an enforcement file (see {@link EnforcementFile} and
 * {@code docs/servlet.md}) in any Jakarta Servlet 6 container, and reloads the file within a second of a
 * change without failing a request in flight.
 *
 * <h2>Per request</h2>
 *
 * <p>The request takes the current snapshot once and keeps it to the end. Mitigations run in id order;
 * for each <em>enforce</em>-mode mitigation, in this order, the first that stops the request answers it:
 *
 * <ol>
 *   <li>{@code disableEndpoints}: a request under the prefix is answered with the endpoint's status
 *       (503 by default) and a short plain-text body;
 *   <li>{@code authPolicies}: under the prefix, {@code Authorization: Basic} (with {@code refuseBasic}) or
 *       no {@code Authorization} at all (with {@code refuseAnonymous}) is answered 401, without a
 *       {@code WWW-Authenticate} header;
 *   <li>{@code requestRules}: {@code AbortRequest} closes the connection without a response (see
 *       {@link ConnectionAborter} for how, per container); {@code CustomResponse} answers its status with
 *       its description (or reason) as the body; {@code Redirect} answers its status with
 *       {@code Location}; {@code Rewrite} changes the target that later mitigations see and, after the
 *       last one, forwards the request there with {@link RequestDispatcher#forward}.
 * </ol>
 *
 * <p>A request the rules cannot evaluate (over a limit, malformed percent-encoding, an ambiguous path
 * where a path prefix must be matched or a rule reads the decoded path) is answered with the status the
 * failure suggests (400, 414, 431), never let through. {@code responseRules} rewrite the response headers
 * before the response commits.
 *
 * <p><em>Audit</em>-mode mitigations are evaluated the same way but never block or change anything; their
 * matches, and the enforce-mode ones, are counted per mitigation and rule ({@link #hits()}) and written
 * every few seconds to {@code <file>.hits.json}, atomically, for the agent to report.
 *
 * <h2>Configuration</h2>
 *
 * <p>Construct it with the path of the enforcement file, or declare it in {@code web.xml} with the init
 * parameter {@value #FILE_PARAMETER}. Map it to {@code /*} for the {@code REQUEST} dispatch, ahead of
 * every other filter.
 */
public class TourniquetFilter extends GenericFilter {
  /** The init parameter naming the enforcement file. */
  public static final String FILE_PARAMETER = "enforcement-file";

  private static final Duration POLL_INTERVAL = Duration.ofMillis(250);
  private static final Duration HITS_INTERVAL = Duration.ofSeconds(5);

  // GenericFilter is Serializable, but a running filter is not meaningfully so: nothing is serialised.
  private final transient Duration pollInterval;
  private final transient Duration hitsInterval;
  private final transient Clock clock;
  private transient volatile HitCounter hits;
  private transient volatile EnforcementWatcher watcher;
  private transient Path file;

  /** Creates a filter configured by the init parameter {@value #FILE_PARAMETER}. */
  public TourniquetFilter() {
    this(null, POLL_INTERVAL, HITS_INTERVAL, Clock.systemUTC());
  }

  /**
   * Creates a filter for an enforcement file; the file need not exist yet.
   *
   * @param file the enforcement file the agent writes
   */
  public TourniquetFilter(Path file) {
    this(file, POLL_INTERVAL, HITS_INTERVAL, Clock.systemUTC());
  }

  TourniquetFilter(Path file, Duration pollInterval, Duration hitsInterval, Clock clock) {
    this.file = file;
    this.pollInterval = pollInterval;
    this.hitsInterval = hitsInterval;
    this.clock = clock;
  }

  /**
   * Loads the enforcement file once, synchronously, so the first request is already protected, and starts
   * watching it. A missing or invalid file is logged and enforces nothing until a valid one appears.
   *
   * @throws ServletException if no file was given to the constructor or as the init parameter
   */
  @Override
  public void init() throws ServletException {
    if (file == null) {
      String value = getInitParameter(FILE_PARAMETER);
      if (value == null || value.isBlank()) {
        throw new ServletException("TourniquetFilter: expected the init parameter " + FILE_PARAMETER
            + " to name the enforcement file but found none");
      }
      file = Path.of(value.trim());
    }
    start();
  }

  /** Starts watching if it has not started yet; for use without a container's {@code init}. */
  synchronized void start() {
    if (watcher == null || watcher.closed()) {
      hits = new HitCounter(clock.instant());
      EnforcementWatcher w = new EnforcementWatcher(file, pollInterval, hitsInterval, clock, hits);
      w.start();
      watcher = w;
    }
  }

  /**
   * Stops watching and writes the hit counters a last time. A request that still arrives is enforced with
   * the last snapshot: a filter being taken down never lets a request through unchecked.
   */
  @Override
  public synchronized void destroy() {
    if (watcher != null) {
      watcher.close();
    }
  }

  /**
   * Returns what the filter enforces now.
   *
   * @return the status
   * @throws IllegalStateException if the filter has not been initialised
   */
  public EnforcementStatus status() {
    EnforcementWatcher w = requireStarted();
    Snapshot s = w.current();
    return new EnforcementStatus(w.file(), Optional.ofNullable(s.generated()), EnforcementWatcher.mitigations(s),
        Optional.ofNullable(w.lastError()), w.loads());
  }

  /**
   * Returns the match counts since the filter started, per mitigation, revision, mode and rule.
   *
   * @return the counts, sorted
   * @throws IllegalStateException if the filter has not been initialised
   */
  public List<RuleHit> hits() {
    requireStarted();
    return hits.snapshot();
  }

  /**
   * Checks the enforcement file now rather than at the next poll, and writes the hit counters. The agent
   * does not need this; it is for tests and for an administrative endpoint.
   *
   * @throws IllegalStateException if the filter has not been initialised
   */
  public void refresh() {
    EnforcementWatcher w = requireStarted();
    w.poll();
    w.writeHits();
  }

  /**
   * Returns the file the hit counters are written to.
   *
   * @return {@code <enforcement file>.hits.json}
   * @throws IllegalStateException if the filter has not been initialised
   */
  public Path hitsFile() {
    return requireStarted().hitsFile();
  }

  private EnforcementWatcher requireStarted() {
    EnforcementWatcher w = watcher;
    if (w == null) {
      throw new IllegalStateException("expected an initialised TourniquetFilter but found one not initialised");
    }
    return w;
  }

  /**
   * Enforces the current snapshot on one request.
   *
   * @throws IOException if answering fails
   * @throws ServletException if the rest of the chain throws it
   */
  @Override
  public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain) throws IOException, ServletException {
    EnforcementWatcher w = watcher;
    if (w == null || !(req instanceof HttpServletRequest request) || !(res instanceof HttpServletResponse response)) {
      chain.doFilter(req, res);
      return;
    }
    // One read of the reference: this request finishes with this snapshot, whatever reloads meanwhile.
    Snapshot snapshot = w.current();
    if (snapshot.isEmpty()) {
      chain.doFilter(req, res);
      return;
    }
    HttpRequest original = httpRequest(request);
    HttpRequest current = original;
    String path = null;
    RequestException pathError = null;
    boolean pathKnown = false;
    for (Snapshot.Compiled c : snapshot.mitigations()) {
      ActiveMitigation m = c.mitigation();
      boolean enforce = c.enforce();
      if (!m.disableEndpoints().isEmpty() || !m.authPolicies().isEmpty()) {
        if (!pathKnown) {
          try {
            path = RequestPath.of(rawPath(current.target()));
            pathError = null;
          } catch (RequestException e) {
            pathError = e;
          }
          pathKnown = true;
        }
        if (pathError != null) {
          hits.hit(m, "ambiguous-path");
          if (enforce) {
            answer(response, pathError.suggestedStatus(), statusText(pathError.suggestedStatus()));
            return;
          }
        } else if (pathActions(c, path, request, response)) {
          return;
        }
      }
      if (c.request() != null) {
        Decision d;
        try {
          d = c.request().evaluate(current);
        } catch (RequestException e) {
          hits.hit(m, "unevaluable-request");
          if (enforce) {
            answer(response, e.suggestedStatus(), statusText(e.suggestedStatus()));
            return;
          }
          continue;
        }
        if (!(d instanceof Decision.Allow)) {
          hits.hit(m, d.rule());
        }
        if (!enforce) {
          continue;
        }
        if (d instanceof Decision.Abort) {
          ConnectionAborter.forRequest(request).abort(request, response);
          return;
        } else if (d instanceof Decision.Respond r) {
          answer(response, r.status(), !r.description().isEmpty() ? r.description() : r.reason());
          return;
        } else if (d instanceof Decision.Redirect r) {
          response.setStatus(r.status());
          response.setHeader("Location", r.location());
          response.setContentLength(0);
          return;
        } else if (d instanceof Decision.Rewrite r) {
          current = current.withTarget(r.target());
          pathKnown = false;
        }
      }
      if (c.response() != null && enforce) {
        // The outbound rules read the request too (an ambiguous path, when they read {URL}); refuse one
        // they cannot evaluate before it runs, whether or not the mitigation also has request rules.
        try {
          c.response().evaluate(original);
        } catch (RequestException e) {
          hits.hit(m, "unevaluable-request");
          answer(response, e.suggestedStatus(), statusText(e.suggestedStatus()));
          return;
        }
      }
    }
    HttpServletResponse out = response;
    HeaderRewritingResponse rewriting = null;
    if (snapshot.usesResponses()) {
      List<Snapshot.Compiled> stages = new ArrayList<>();
      for (Snapshot.Compiled c : snapshot.mitigations()) {
        if (c.response() != null) {
          stages.add(c);
        }
      }
      rewriting = new HeaderRewritingResponse(response, original, stages, hits);
      out = rewriting;
    }
    if (current != original) {
      forward(request, out, current.target());
    } else {
      chain.doFilter(request, out);
    }
    if (rewriting != null && !request.isAsyncStarted()) {
      rewriting.applyRules();
    }
  }

  /** Disable-endpoint and auth-policy actions; returns true if the request was answered. */
  private boolean pathActions(Snapshot.Compiled c, String path, HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    ActiveMitigation m = c.mitigation();
    for (DisabledEndpoint e : m.disableEndpoints()) {
      if (e.pathPrefix().matches(path)) {
        hits.hit(m, "disable-endpoint " + e.pathPrefix());
        if (c.enforce()) {
          answer(response, e.status(), "This endpoint is disabled by an emergency mitigation.");
          return true;
        }
        break;
      }
    }
    for (AuthPolicy p : m.authPolicies()) {
      if (!p.pathPrefix().matches(path)) {
        continue;
      }
      List<String> authorization = Collections.list(request.getHeaders("Authorization"));
      String refused = null;
      if (p.refuseAnonymous() && authorization.isEmpty()) {
        refused = "anonymous";
      } else if (p.refuseBasic() && authorization.stream().anyMatch(TourniquetFilter::isBasic)) {
        refused = "basic";
      }
      if (refused != null) {
        hits.hit(m, "auth-policy " + p.pathPrefix() + " " + refused);
        if (c.enforce()) {
          answer(response, HttpServletResponse.SC_UNAUTHORIZED, refused.equals("basic")
              ? "Basic authentication is disabled here by an emergency mitigation."
              : "Anonymous access is disabled here by an emergency mitigation.");
          return true;
        }
      }
    }
    return false;
  }

  private static boolean isBasic(String authorization) {
    String v = authorization.stripLeading();
    return v.regionMatches(true, 0, "Basic", 0, 5) && (v.length() == 5 || v.charAt(5) == ' ' || v.charAt(5) == '\t');
  }

  private static void forward(HttpServletRequest request, HttpServletResponse response, String target)
      throws IOException, ServletException {
    String context = request.getContextPath();
    String inContext;
    if (context.isEmpty()) {
      inContext = target;
    } else if (target.regionMatches(true, 0, context, 0, context.length())
        && (target.length() == context.length() || "/?".indexOf(target.charAt(context.length())) >= 0)) {
      inContext = target.substring(context.length());
      if (inContext.isEmpty() || inContext.startsWith("?")) {
        inContext = "/" + inContext;
      }
    } else {
      // A filter can dispatch only within its own application.
      EnforcementWatcher.LOG.warning(() -> "tourniquet: a rule rewrote " + request.getRequestURI() + " to " + target
          + ", outside the application's context " + context + "; answering 500");
      answer(response, HttpServletResponse.SC_INTERNAL_SERVER_ERROR, "Internal Server Error");
      return;
    }
    RequestDispatcher dispatcher = request.getRequestDispatcher(inContext);
    if (dispatcher == null) {
      answer(response, HttpServletResponse.SC_INTERNAL_SERVER_ERROR, "Internal Server Error");
      return;
    }
    dispatcher.forward(request, response);
  }

  static HttpRequest httpRequest(HttpServletRequest request) {
    List<Header> headers = new ArrayList<>();
    for (String name : Collections.list(request.getHeaderNames())) {
      for (String value : Collections.list(request.getHeaders(name))) {
        headers.add(new Header(name, value));
      }
    }
    String target = request.getRequestURI();
    String query = request.getQueryString();
    if (query != null) {
      target = target + "?" + query;
    }
    return new HttpRequest(request.getMethod(), target, request.getProtocol(), headers, String.valueOf(request.getRemoteAddr()),
        request.isSecure(), request.getLocalPort());
  }

  private static String rawPath(String target) {
    int q = target.indexOf('?');
    return q < 0 ? target : target.substring(0, q);
  }

  private static String statusText(int status) {
    return switch (status) {
      case 400 -> "Bad Request";
      case 414 -> "URI Too Long";
      case 431 -> "Request Header Fields Too Large";
      default -> String.format(Locale.ROOT, "Status %d", status);
    };
  }

  static void answer(HttpServletResponse response, int status, String body) throws IOException {
    if (response.isCommitted()) {
      return;
    }
    response.resetBuffer();
    byte[] bytes = (body + "\n").getBytes(StandardCharsets.UTF_8);
    response.setStatus(status);
    response.setContentType("text/plain;charset=UTF-8");
    response.setHeader("Cache-Control", "no-store");
    response.setContentLength(bytes.length);
    response.getOutputStream().write(bytes);
  }
}
