package dev.tourniquet.server;

import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jetty.http.HttpCookie;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.Fields;

/**
 * The dashboard: server-rendered HTML with a little JavaScript. Log in with a user token (form → an
 * HttpOnly, SameSite=Strict session cookie that holds a separate random secret); the login form carries the
 * token of a cookie set with the login page, and every action is a POST form carrying the session's CSRF
 * token. Operators see action buttons (block, unblock, enable, disable, approve a rollout); viewers see the
 * same page without them. Every value shown is HTML-escaped, and the
 * Content-Security-Policy allows only this server's own script and style sheet, and the script's requests
 * to this server alone.
 *
 * <p>A session ends when it has not been used for the idle timeout, or at the end of its lifetime. An open
 * page refreshes itself from {@code /dashboard/live}, the same page for the same session, which is not use:
 * otherwise a page left open would keep its session alive until the end of its lifetime. The audit log is
 * shown a page at a time, {@code /dashboard?before=ID} giving the entries older than ID.
 */
final class Dashboard {
  static final String COOKIE = "tq_session";
  /** The login page's cookie, whose value the login form carries too (login CSRF). */
  static final String LOGIN_COOKIE = "tq_login";
  /**
   * Before the cookies' names when they are Secure (TLS, or behind an HTTPS proxy). A browser takes a
   * {@code __Host-} cookie only from a secure origin, for Path=/ and this host alone (no Domain), so a sibling
   * subdomain or a plain-HTTP page cannot plant one: without it, such a page could set the session cookie to
   * the attacker's own session (login CSRF by cookie tossing). Plain HTTP (the quickstart on loopback) cannot
   * have the prefix: browsers refuse it there.
   */
  static final String HOST_PREFIX = "__Host-";
  /** How long a login page's form can be sent. */
  private static final int LOGIN_FORM_MINUTES = 60;
  private static final int MAX_FORM_BYTES = 8 * 1024;
  /** The ids a server reports that have no column, named one by one in its row before "and N more". */
  static final int UNKNOWN_SHOWN = 20;
  /** The audit entries on one page of the dashboard. */
  static final int AUDIT_PAGE = 50;
  // connect-src: the refresh fetches /dashboard/live; default-src 'none' refused it.
  private static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
      + " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

  private final Fleet fleet;
  private final boolean secureCookie;
  private final Duration sessionTtl;
  private final Duration sessionIdle;
  private final Duration refreshEvery;

  Dashboard(Fleet fleet, boolean secureCookie, Duration sessionTtl, Duration sessionIdle, Duration refreshEvery) {
    this.fleet = fleet;
    this.secureCookie = secureCookie;
    this.sessionTtl = sessionTtl;
    this.sessionIdle = sessionIdle;
    this.refreshEvery = refreshEvery;
  }

  Reply handle(String method, List<String> path, Request request, FleetHandler handler)
      throws HttpException, SQLException, IOException {
    String p = String.join("/", path);
    switch (p) {
      case "" -> {
        requireRead(method);
        return Reply.redirect("/dashboard");
      }
      case "static/dashboard.css" -> {
        requireRead(method);
        return resource("dashboard.css", "text/css; charset=utf-8");
      }
      case "static/dashboard.js" -> {
        requireRead(method);
        return resource("dashboard.js", "text/javascript; charset=utf-8");
      }
      case "login" -> {
        if (method.equals("GET")) {
          return loginPage(200, "", loginToken(request));
        }
        requireMethod(method, "POST");
        Map<String, String> form = form(request);
        Optional<String> refused = loginRefusal(request, form);
        if (refused.isPresent()) {
          return loginPage(403, refused.get(), loginToken(request));
        }
        String token = form.getOrDefault("token", "").trim();
        Optional<Users.Principal> user = fleet.db().read(c -> Users.byToken(c, token));
        if (user.isEmpty()) {
          return loginPage(401, "That token is not the token of a user of this server.", loginToken(request));
        }
        String session = fleet.db().transaction(c -> Users.openSession(c, user.get(), fleet.now(), sessionTtl,
            sessionIdle));
        return Reply.redirect("/dashboard").with("Set-Cookie", cookie(session, sessionTtl.toSeconds()));
      }
      case "logout" -> {
        requireMethod(method, "POST");
        // The session ends on the server whenever its cookie comes, CSRF token or not: a logout that only
        // cleared the browser's cookie left a session that a copied cookie could go on using. Another site
        // cannot log anyone out with it: the cookie is SameSite=Strict, so its requests come without it.
        Optional<String> cookie = sessionCookie(request);
        if (cookie.isPresent()) {
          fleet.db().transaction(c -> {
            Users.closeSession(c, cookie.get());
            return null;
          });
        }
        return Reply.redirect("/login").with("Set-Cookie", cookie("", 0));
      }
      case "dashboard" -> {
        requireMethod(method, "GET");
        long before;
        try {
          before = auditBefore(request);
        } catch (HttpException e) {
          if (!acceptsHtml(request)) {
            throw e;
          }
          return page(e.status(), errorPage("Not shown", e, "This page has no such audit entries."));
        }
        Optional<Users.Session> session = session(request, true);
        if (session.isEmpty()) {
          return Reply.redirect("/login");
        }
        return page(200, dashboardPage(session.get(), before));
      }
      case "dashboard/live" -> {
        // The page's own refresh: the same page, without stamping the session as used, and a 401 (not a
        // redirect to the login page, which a script would take for the dashboard) once the session ended.
        requireMethod(method, "GET");
        long before = auditBefore(request);
        Optional<Users.Session> session = session(request, false);
        if (session.isEmpty()) {
          throw HttpException.unauthorized("dashboard: the session has ended (logged out, not used for "
              + sessionIdle + ", or older than " + sessionTtl + "); log in again");
        }
        return page(200, dashboardPage(session.get(), before));
      }
      case "dashboard/action" -> {
        requireMethod(method, "POST");
        try {
          Optional<Users.Session> session = session(request, true);
          if (session.isEmpty()) {
            throw HttpException.unauthorized("dashboard: expected a session; log in again");
          }
          Map<String, String> form = form(request);
          if (!Secrets.same(form.get("csrf"), session.get().csrfToken())) {
            throw HttpException.forbidden("dashboard: expected the form's CSRF token of this session; reload the page");
          }
          act(session.get().principal(), form);
          return Reply.redirect("/dashboard");
        } catch (HttpException e) {
          // A browser that submitted the form gets a page that says why, with a way back; it got the API's
          // JSON, on a page with no link (another operator approving first is enough). Scripts keep the JSON.
          if (!acceptsHtml(request)) {
            throw e;
          }
          return page(e.status(), errorPage("Not done", e, "Nothing was changed."));
        }
      }
      default -> throw HttpException.notFound("no page %s", JsonBodies.quote("/" + p));
    }
  }

  private void act(Users.Principal user, Map<String, String> form) throws HttpException, SQLException {
    AdminApi.need(user, Role.OPERATOR);
    String action = form.getOrDefault("action", "");
    Optional<String> server = Optional.ofNullable(form.get("server")).filter(s -> !s.isEmpty());
    if (server.isPresent() && !JsonBodies.SERVER_NAME.matcher(server.get()).matches()) {
      throw HttpException.badRequest("dashboard: field \"server\": expected a server name but found %s",
          JsonBodies.quote(server.get()));
    }
    switch (action) {
      case "block", "unblock", "approve" -> {
        String id = form.getOrDefault("id", "");
        if (!JsonBodies.MITIGATION_ID.matcher(id).matches()) {
          throw HttpException.badRequest("dashboard: field \"id\": expected a mitigation id but found %s",
              JsonBodies.quote(id));
        }
        if (action.equals("block")) {
          fleet.block(user, server, id);
        } else if (action.equals("unblock")) {
          fleet.unblock(user, server, id);
        } else {
          String rev = form.getOrDefault("revision", "");
          if (!rev.matches("[1-9][0-9]{0,8}")) {
            throw HttpException.badRequest("dashboard: field \"revision\": expected a revision number but found %s",
                JsonBodies.quote(rev));
          }
          fleet.approve(user, id, Optional.of(Integer.parseInt(rev)));
        }
      }
      case "enable", "disable" -> fleet.setEnabled(user, server, action.equals("enable"));
      default -> throw HttpException.badRequest("dashboard: field \"action\": expected block, unblock, approve, enable"
          + " or disable but found %s", JsonBodies.quote(action));
    }
  }

  /**
   * The challenge of the dashboard's 401s: the Cookie scheme of draft-broyer-http-cookie-auth, which names the
   * form that logs in and the cookie it sets. A browser knows no such scheme, so it shows the page that came
   * with the 401 (the login page, the refused action's page) and the refresh's script reads the status; a
   * Bearer challenge said that a token would do, and the dashboard takes none.
   */
  String challenge() {
    return "Cookie realm=\"tourniquet\", form-action=\"/login\", cookie-name=" + cookieName(COOKIE);
  }

  private Optional<String> sessionCookie(Request request) {
    return cookie(request, cookieName(COOKIE));
  }

  /** A cookie's name as this server sets it: with {@link #HOST_PREFIX} when its cookies are Secure. */
  private String cookieName(String name) {
    return secureCookie ? HOST_PREFIX + name : name;
  }

  private static Optional<String> cookie(Request request, String name) {
    for (HttpCookie c : Request.getCookies(request)) {
      if (c.getName().equals(name)) {
        return Optional.of(c.getValue());
      }
    }
    return Optional.empty();
  }

  /**
   * The login form's token: the one in the browser's login cookie if it is one of ours, so that two tabs on
   * the login page both work, else a new one.
   */
  private String loginToken(Request request) {
    return cookie(request, cookieName(LOGIN_COOKIE)).filter(v -> Secrets.looksLike(Secrets.LOGIN, v))
        .orElseGet(() -> Secrets.newSecret(Secrets.LOGIN));
  }

  /**
   * Why a login form is refused, if it is. Login CSRF: another site's page can post this form with the
   * attacker's user token, and the victim's browser would then hold the attacker's session, see the
   * attacker's dashboard as its own, and act in the attacker's name. The form must carry the token of the
   * login cookie set with the page (double submit): another site can neither read the page nor, the cookie
   * being SameSite=Strict, send the cookie. A site on the same host (another port, a sibling subdomain) can
   * set a cookie whose value it knows, so a browser's word that the form came from another site (Fetch
   * Metadata) refuses it too; browsers that do not send the header still need the token.
   */
  private Optional<String> loginRefusal(Request request, Map<String, String> form) {
    String site = request.getHeaders().get("Sec-Fetch-Site");
    // "none": the user's own navigation (a bookmark, the address bar), which no other site can cause.
    if (site != null && !site.equals("same-origin") && !site.equals("none")) {
      return Optional.of("login: expected a form sent from this server's own login page (Sec-Fetch-Site: same-origin)"
          + " but found Sec-Fetch-Site: " + JsonBodies.abbreviate(site) + ". Another site's page may have sent it;"
          + " nobody was logged in. To log in, use the form below.");
    }
    Optional<String> cookie = cookie(request, cookieName(LOGIN_COOKIE));
    if (cookie.isEmpty() || !Secrets.looksLike(Secrets.LOGIN, cookie.get())) {
      return Optional.of("login: expected the login cookie of this server's login page but found "
          + (cookie.isEmpty() ? "none" : "one this server did not set") + " (the page was open for longer than "
          + LOGIN_FORM_MINUTES + " minutes, or the browser refuses cookies). Nobody was logged in; the form below"
          + " is new.");
    }
    if (!Secrets.same(form.get("csrf"), cookie.get())) {
      return Optional.of("login: expected the form of the login page this browser opened, but its token is not the"
          + " login cookie's (a form from another page, or from an older login page). Nobody was logged in; use the"
          + " form below.");
    }
    return Optional.empty();
  }

  /**
   * The request's session if it has not ended. A use (a page, an action) stamps it as used when the stamp is
   * a minute old; the page's automatic refresh is no use.
   */
  private Optional<Users.Session> session(Request request, boolean use) throws SQLException, HttpException {
    Optional<String> cookie = sessionCookie(request);
    if (cookie.isEmpty()) {
      return Optional.empty();
    }
    java.time.Instant now = fleet.now();
    Optional<Users.Session> session = fleet.db().read(c -> Users.session(c, cookie.get(), now, sessionIdle));
    if (use && session.isPresent() && session.get().stampDue(now)) {
      fleet.db().transaction(c -> {
        Users.stampUse(c, cookie.get(), now);
        return null;
      });
    }
    return session;
  }

  /** The audit page asked for: {@code before=ID}, the only query parameter of the page; 0 for the newest. */
  private static long auditBefore(Request request) throws HttpException {
    long before = 0;
    for (Fields.Field f : Request.extractQueryParameters(request)) {
      if (!f.getName().equals("before")) {
        throw HttpException.badRequest("query parameter %s: unknown; expected only before (the audit entry to page back"
            + " from)", JsonBodies.quote(f.getName()));
      }
      if (f.getValues().size() > 1) {
        throw HttpException.badRequest("query parameter before: given twice; expected it once");
      }
      String v = f.getValue();
      try {
        before = Long.parseLong(v);
      } catch (NumberFormatException e) {
        before = 0;
      }
      if (before < 1 || !v.matches("[0-9]{1,19}")) {
        throw HttpException.badRequest("query parameter before: expected a whole number from 1 to %d (an audit entry's"
            + " id) but found %s", Long.MAX_VALUE, JsonBodies.quote(v));
      }
    }
    return before;
  }

  private String cookie(String value, long maxAge) {
    return cookieName(COOKIE) + "=" + value + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + maxAge
        + (secureCookie ? "; Secure" : "");
  }

  /**
   * The login page's cookie: Secure exactly when the session's is. Sent back only to the login form over
   * plain HTTP; a {@code __Host-} cookie must have Path=/.
   */
  private String loginCookie(String token) {
    return cookieName(LOGIN_COOKIE) + "=" + token + (secureCookie ? "; Path=/" : "; Path=/login")
        + "; HttpOnly; SameSite=Strict; Max-Age=" + LOGIN_FORM_MINUTES * 60 + (secureCookie ? "; Secure" : "");
  }

  private static Map<String, String> form(Request request) throws HttpException, IOException {
    String type = request.getHeaders().get(HttpHeader.CONTENT_TYPE);
    if (type == null || !type.toLowerCase(Locale.ROOT).startsWith("application/x-www-form-urlencoded")) {
      throw new HttpException(415, "dashboard forms: expected application/x-www-form-urlencoded but found "
          + (type == null ? "no Content-Type" : type));
    }
    String body = new String(FleetHandler.body(request, MAX_FORM_BYTES, "form"), StandardCharsets.UTF_8);
    Map<String, String> out = new HashMap<>();
    if (body.isEmpty()) {
      return out;
    }
    for (String pair : body.split("&")) {
      int eq = pair.indexOf('=');
      String k = eq < 0 ? pair : pair.substring(0, eq);
      String v = eq < 0 ? "" : pair.substring(eq + 1);
      try {
        k = URLDecoder.decode(k, StandardCharsets.UTF_8);
        v = URLDecoder.decode(v, StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw HttpException.badRequest("form: malformed percent-encoding in %s", JsonBodies.quote(pair));
      }
      if (out.put(k, v) != null) {
        throw HttpException.badRequest("form: field \"%s\" given twice", k);
      }
    }
    return out;
  }

  private static void requireMethod(String method, String allowed) throws HttpException {
    if (!method.equals(allowed)) {
      throw HttpException.methodNotAllowed(method, allowed);
    }
  }

  /** Static files and the root redirect: read only. Any method answered them before. */
  private static void requireRead(String method) throws HttpException {
    if (!method.equals("GET") && !method.equals("HEAD")) {
      throw HttpException.methodNotAllowed(method, "GET", "HEAD");
    }
  }

  private static boolean acceptsHtml(Request request) {
    String accept = request.getHeaders().get(HttpHeader.ACCEPT);
    return accept != null && accept.toLowerCase(Locale.ROOT).contains("text/html");
  }

  private static String errorPage(String title, HttpException e, String consequence) {
    return head("Tourniquet fleet: " + title.toLowerCase(Locale.ROOT)) + "<body class=\"login\"><main><h1>" + esc(title)
        + "</h1><p class=\"error\" id=\"action-error\">" + esc(e.getMessage()) + "</p><p>" + esc(consequence) + " (HTTP "
        + e.status() + ")</p><p><a id=\"back\" href=\"/dashboard\">Back to the dashboard</a></p></main></body></html>";
  }

  /** Times to the second: the microseconds the database keeps made every date wrap and say nothing more. */
  private static String when(java.time.Instant t) {
    return t.truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
  }

  private static Reply resource(String name, String type) throws IOException {
    try (InputStream in = Dashboard.class.getResourceAsStream("static/" + name)) {
      if (in == null) {
        throw new IOException("missing resource static/" + name);
      }
      return new Reply(200, type, in.readAllBytes(), Map.of("Cache-Control", "no-cache"));
    }
  }

  private static Reply page(int status, String html) {
    return Reply.html(status, html).with("Content-Security-Policy", CSP).with("Referrer-Policy", "no-referrer")
        .with("X-Frame-Options", "DENY");
  }

  // Rendering.

  /**
   * HTML-escapes text for an element or an attribute value, and shows what would act on the page instead of
   * appearing on it: every control character but tab and line breaks, and every invisible format character
   * (a direction override or isolate, a zero-width space), becomes its escape, a backslash, u and the code
   * point in hex ({@link JsonBodies#visible}). A reason, a product name or a label that an agent sends could
   * otherwise make a row read as another ("Trojan Source"). Names and labels are refused with such
   * characters where they come in; this also covers what was stored before, and agents' free text.
   */
  static String esc(String s) {
    if (s == null) {
      return "";
    }
    String text = JsonBodies.visible(s, false);
    StringBuilder b = new StringBuilder(text.length() + 16);
    for (int i = 0; i < text.length(); i++) {
      char ch = text.charAt(i);
      switch (ch) {
        case '&' -> b.append("&amp;");
        case '<' -> b.append("&lt;");
        case '>' -> b.append("&gt;");
        case '"' -> b.append("&quot;");
        case '\'' -> b.append("&#39;");
        default -> b.append(ch);
      }
    }
    return b.toString();
  }

  private static String head(String title) {
    return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + esc(title) + "</title>"
        + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        + "<link rel=\"stylesheet\" href=\"/static/dashboard.css\"><script src=\"/static/dashboard.js\" defer></script>"
        + "</head>";
  }

  /** The login page, with the error of the last attempt if any, and a form that carries the login cookie's token. */
  private Reply loginPage(int status, String error, String loginToken) {
    String html = head("Tourniquet fleet: log in") + "<body class=\"login\"><main><h1>Tourniquet fleet</h1>"
        + (error.isEmpty() ? "" : "<p class=\"error\" id=\"login-error\">" + esc(error) + "</p>")
        + "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"" + esc(loginToken)
        + "\"><label for=\"token\">User token</label>"
        + "<input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" required>"
        + "<button type=\"submit\" id=\"login\">Log in</button></form>"
        + "<p class=\"hint\">The first admin token is in <code>&lt;dataDir&gt;/admin.token</code>.</p>"
        + "</main></body></html>";
    return page(status, html).with("Set-Cookie", loginCookie(loginToken));
  }

  private String form(Users.Session s, String action, String label, String css, Map<String, String> fields,
      String confirm) {
    StringBuilder b = new StringBuilder("<form method=\"post\" action=\"/dashboard/action\" class=\"inline\"");
    if (!confirm.isEmpty()) {
      b.append(" data-confirm=\"").append(esc(confirm)).append('"');
    }
    b.append("><input type=\"hidden\" name=\"csrf\" value=\"").append(esc(s.csrfToken())).append("\">")
        .append("<input type=\"hidden\" name=\"action\" value=\"").append(esc(action)).append("\">");
    fields.forEach((k, v) -> b.append("<input type=\"hidden\" name=\"").append(esc(k)).append("\" value=\"")
        .append(esc(v)).append("\">"));
    return b.append("<button type=\"submit\" class=\"").append(css).append("\">").append(esc(label))
        .append("</button></form>").toString();
  }

  private String dashboardPage(Users.Session s, long auditBefore) throws SQLException, HttpException {
    Fleet.Overview o = fleet.overview(AUDIT_PAGE, auditBefore);
    boolean operator = s.principal().role().allows(Role.OPERATOR);
    Fleet.Columns columns = Fleet.columns(o);
    List<String> ids = columns.ids();
    java.util.Set<String> hasColumn = new java.util.HashSet<>(ids);
    StringBuilder b = new StringBuilder(head("Tourniquet fleet"));
    // The script refreshes the page every data-refresh-ms; #refresh-status says when it last did.
    b.append("<body data-refresh-ms=\"").append(refreshEvery.toMillis()).append("\"><header><h1>Tourniquet fleet</h1>")
        .append("<span class=\"refresh\" id=\"refresh-status\" aria-live=\"polite\"></span><span class=\"who\" id=\"who\">")
        .append(esc(s.principal().name())).append(" (").append(s.principal().role().label()).append(")</span>")
        .append("<form method=\"post\" action=\"/logout\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"")
        .append(esc(s.csrfToken())).append("\"><button type=\"submit\" id=\"logout\">Log out</button></form></header><main>");

    // Organisation.
    b.append("<section id=\"org\"><h2>Organisation</h2><p>Mitigations are <strong id=\"org-state\" class=\"")
        .append(o.org().mitigationsEnabled() ? "on\">enabled" : "off\">disabled: servers only detect").append("</strong>");
    if (operator) {
      b.append(' ').append(o.org().mitigationsEnabled()
          ? form(s, "disable", "Disable everywhere", "danger", Map.of(), "Disable mitigations in the whole organisation?"
              + " Servers then only detect; applied mitigations stay.")
          : form(s, "enable", "Enable everywhere", "", Map.of(), "Enable mitigations in the whole organisation?"
              + " Servers then apply what the feed and their policy say."));
    }
    b.append("</p><p>Blocked: <span id=\"org-blocked\">").append(o.orgBlocks().isEmpty() ? "none"
        : esc(String.join(", ", o.orgBlocks()))).append("</span>. Mode overrides: <span id=\"org-modes\">")
        .append(o.orgModes().isEmpty() ? "none" : esc(modes(o.orgModes()))).append("</span>. Rollout rings: ")
        .append(o.org().rolloutEnabled() ? "on (canary first" + o.org().autoReleaseAfter().map(
            d -> ", automatic release after " + d + " with no failure").orElse(", then approval") + ")" : "off")
        .append(".</p></section>");

    // Attention: failures first, then servers not seen recently.
    List<Agents.Agent> agents = new ArrayList<>(o.agents());
    Map<String, List<Agents.MitigationReport>> reports = o.reports();
    agents.sort(Comparator.comparingInt((Agents.Agent a) -> Fleet.severity(a, reports.getOrDefault(a.agentId(),
        List.of()), fleet.stale(a))).thenComparing(Agents.Agent::server));
    b.append("<section id=\"attention\"><h2>Needs attention</h2><ul>");
    int attention = 0;
    for (Agents.Agent a : agents) {
      List<Agents.MitigationReport> rows = reports.getOrDefault(a.agentId(), List.of());
      List<Agents.MitigationReport> unknownFailed = new ArrayList<>();
      for (Agents.MitigationReport m : rows) {
        if (m.status().equals("Failed") && !hasColumn.contains(m.id())) {
          unknownFailed.add(m);
        } else if (m.status().equals("Failed")) {
          attention++;
          b.append("<li class=\"failed\">").append(esc(a.server())).append(": ").append(esc(m.id())).append('.')
              .append(m.revision()).append(" Failed: ").append(esc(m.reason())).append("</li>");
        }
      }
      // Failures of ids without a column: one line per server, however many the agent reports.
      if (!unknownFailed.isEmpty()) {
        attention++;
        b.append("<li class=\"failed\">").append(esc(a.server())).append(": ")
            .append(esc(listed(unknownFailed, m -> m.id() + "." + m.revision())))
            .append(" Failed (listed in no hosted feed)</li>");
      }
      if (a.feedHealth().isPresent() && !a.feedHealth().get().equals("ok")) {
        attention++;
        b.append("<li class=\"failed\">").append(esc(a.server())).append(": feed: ").append(esc(a.feedHealth().get()))
            .append("</li>");
      }
      if (fleet.stale(a)) {
        attention++;
        b.append("<li class=\"stale\">").append(esc(a.server())).append(": not seen since ")
            .append(a.lastSeen().map(Dashboard::when).orElse("enrolment")).append("</li>");
      }
    }
    if (attention == 0) {
      b.append("<li class=\"ok\">Nothing: no failure, every server seen in the last ").append(fleet.staleAfter())
          .append(".</li>");
    }
    b.append("</ul></section>");

    // Matrix.
    b.append("<section id=\"matrix-section\"><h2>Servers × mitigations</h2>")
        .append("<input type=\"search\" id=\"filter\" placeholder=\"Filter servers\" aria-label=\"Filter servers\">")
        .append("<div class=\"matrix-scroll\"><table id=\"matrix\"><thead><tr><th>Server</th><th>Ring</th>"
            + "<th>Last seen</th><th>Product</th>");
    for (String id : ids) {
      boolean blocked = o.orgBlocks().contains(id);
      Integer reportedBy = columns.reportedBy().get(id);
      if (reportedBy == null) {
        b.append("<th class=\"mitigation\" data-id=\"").append(esc(id)).append("\">");
      } else {
        b.append("<th class=\"mitigation reported\" data-id=\"").append(esc(id)).append("\" title=\"Listed in no hosted"
            + " feed; reported by ").append(reportedBy).append(reportedBy == 1 ? " server\">" : " servers\">");
      }
      b.append(esc(id));
      if (blocked) {
        b.append(" <span class=\"tag blocked\">blocked</span>");
      }
      if (operator) {
        b.append(blocked ? form(s, "unblock", "Unblock", "small", Map.of("id", id), "Unblock " + id + " in the whole"
            + " organisation? Servers apply it again where it applies.")
            : form(s, "block", "Block", "small danger", Map.of("id", id), "Block " + id + " in the whole organisation?"
                + " Servers that applied it remove it."));
      }
      b.append("</th>");
    }
    b.append("<th title=\"Mitigations a server reports that have no column: listed in no hosted feed, and not among the "
        + Fleet.REPORTED_COLUMNS + " reported by the most servers\">Unknown</th><th>Server policy</th></tr>"
        + "</thead><tbody>");
    for (Agents.Agent a : agents) {
      List<Agents.MitigationReport> rows = reports.getOrDefault(a.agentId(), List.of());
      boolean stale = fleet.stale(a);
      int severity = Fleet.severity(a, rows, stale);
      b.append("<tr class=\"server").append(severity == 0 ? " has-failure" : stale ? " stale" : "")
          .append("\" data-server=\"").append(esc(a.server())).append("\"><th>").append(esc(a.server())).append("</th><td>")
          .append(esc(a.ring().orElse(""))).append("</td><td class=\"seen\">").append(a.lastSeen().map(Dashboard::when)
          .orElse("never")).append(stale ? " <span class=\"tag stale\">stale</span>" : "").append("</td><td class=\"product\">")
          .append(esc(a.productVersion().orElse(a.dataCollection().orElse(true) ? "" : "data collection off")))
          .append("</td>");
      Map<String, Agents.MitigationReport> byId = new HashMap<>();
      List<Agents.MitigationReport> unknown = new ArrayList<>();
      for (Agents.MitigationReport m : rows) {
        byId.put(m.id(), m);
        if (!hasColumn.contains(m.id())) {
          unknown.add(m);
        }
      }
      for (String id : ids) {
        Optional<Agents.MitigationReport> m = Optional.ofNullable(byId.get(id));
        if (m.isEmpty()) {
          b.append("<td class=\"cell none\"></td>");
        } else {
          long hits = m.get().auditHits().values().stream().mapToLong(Long::longValue).sum();
          b.append("<td class=\"cell st-").append(esc(m.get().status())).append("\" title=\"").append(esc(m.get().reason()))
              .append("\">").append(esc(m.get().status())).append(" <small>").append(esc(m.get().id())).append('.')
              .append(m.get().revision()).append("</small>").append(hits > 0 ? " <small>" + hits + " hits</small>" : "")
              .append("</td>");
        }
      }
      b.append("<td class=\"unknown\">");
      if (!unknown.isEmpty()) {
        long failed = unknown.stream().filter(m -> m.status().equals("Failed")).count();
        b.append("<span class=\"tag unknown").append(failed > 0 ? " st-Failed" : "").append("\" title=\"")
            .append(esc("Reported by this server, listed in no hosted feed: " + listed(unknown,
                m -> m.id() + "." + m.revision() + " " + m.status()))).append("\">").append(unknown.size())
            .append(" unknown").append(failed > 0 ? " (" + failed + " Failed)" : "").append("</span>");
      }
      b.append("</td><td class=\"policy\">").append(a.mitigationsEnabled() ? "enabled"
          : "<span class=\"tag off\">disabled</span>");
      if (operator) {
        b.append(' ').append(a.mitigationsEnabled()
            ? form(s, "disable", "Disable", "small danger", Map.of("server", a.server()),
                "Disable mitigations on " + a.server() + "? It then only detects.")
            : form(s, "enable", "Enable", "small", Map.of("server", a.server()), "Enable mitigations on " + a.server()
                + "? It then applies what the feed and its policy say."));
      }
      // This server's own blocks and mode overrides: the cells show their effect, this says why.
      java.util.Set<String> own = o.serverBlocks().getOrDefault(a.agentId(), java.util.Set.of());
      if (!own.isEmpty()) {
        b.append("<div class=\"own\">blocked here: ").append(esc(String.join(", ", own))).append("</div>");
      }
      Map<String, String> ownModes = o.serverModes().getOrDefault(a.agentId(), Map.of());
      if (!ownModes.isEmpty()) {
        b.append("<div class=\"own\">mode here: ").append(esc(modes(ownModes))).append("</div>");
      }
      b.append("</td></tr>");
    }
    if (agents.isEmpty()) {
      b.append("<tr><td colspan=\"").append(6 + ids.size()).append("\">No server has enrolled yet.</td></tr>");
    }
    b.append("</tbody></table></div><p class=\"legend\">");
    for (String st : Agents.STATUSES) {
      b.append("<span class=\"cell st-").append(st).append("\">").append(st).append("</span> ");
    }
    b.append("</p></section>");

    // Rollouts.
    b.append("<section id=\"rollouts\"><h2>Rollouts</h2><table><thead><tr><th>Mitigation</th><th>Feed</th><th>State</th>"
        + "<th>Canary ring</th><th>Other rings</th><th></th></tr></thead><tbody>");
    int canary = (int) o.agents().stream().filter(a -> a.ring().map(Policies.CANARY::equals).orElse(false)).count();
    for (Policies.Rollout r : o.rollouts()) {
      Map<String, Map<String, Integer>> progress = Fleet.progress(r, o.agents(), o.reports());
      String key = r.id() + "." + r.revision();
      b.append("<tr class=\"rollout ").append(r.released() ? "released" : "canary").append("\" data-rollout=\"")
          .append(esc(key)).append("\"><td>").append(esc(key)).append("</td><td>").append(esc(r.feed())).append("</td><td>")
          .append(r.released() ? "released " + r.releasedAt().map(Dashboard::when).orElse("") + " by "
              + esc(r.releasedBy().orElse("")) : "<span class=\"tag canary\">canary only</span> "
              + esc(o.heldReasons().getOrDefault(key, "")))
          .append("</td><td>").append(progressText(progress.get("canary"), canary, key)).append("</td><td>")
          .append(progressText(progress.get("other"), o.agents().size() - canary, key)).append("</td><td>");
      if (operator && !r.released()) {
        List<String> failed = Fleet.failures(r, o.agents(), o.reports());
        b.append(form(s, "approve", "Approve for every ring", "small", Map.of("id", r.id(), "revision",
            String.valueOf(r.revision())), "Release " + key + " to every ring?" + (failed.isEmpty() ? ""
                : " " + String.join(", ", failed) + (failed.size() == 1 ? " reports" : " report") + " it Failed.")));
      }
      b.append("</td></tr>");
    }
    if (o.rollouts().isEmpty()) {
      b.append("<tr><td colspan=\"6\">No mitigation found in the hosted feeds yet.</td></tr>");
    }
    b.append("</tbody></table></section>");

    // Audit log.
    b.append("<section id=\"audit\"><h2>Audit log</h2><table><thead><tr><th>When</th><th>Who</th><th>What</th>"
        + "<th>Target</th><th>Details</th></tr></thead><tbody>");
    for (AuditLog.Entry e : o.audit().entries()) {
      b.append("<tr class=\"entry\" data-id=\"").append(e.id()).append("\"><td class=\"seen\">").append(when(e.at()))
          .append("</td><td>").append(esc(e.actor())).append("</td><td>").append(esc(e.action())).append("</td><td>")
          .append(esc(e.target())).append("</td><td>").append(esc(e.detail())).append("</td></tr>");
    }
    if (o.audit().entries().isEmpty()) {
      b.append("<tr><td colspan=\"5\">").append(auditBefore > 0 ? "No older entry." : "No entry yet.").append("</td></tr>");
    }
    b.append("</tbody></table><p class=\"pager\">");
    o.audit().olderBefore().ifPresent(id -> b.append("<a id=\"audit-older\" href=\"/dashboard?before=").append(id)
        .append("#audit\">Older entries</a> "));
    if (auditBefore > 0) {
      b.append("<a id=\"audit-newest\" href=\"/dashboard#audit\">Newest entries</a>");
    }
    b.append("</p></section></main></body></html>");
    return b.toString();
  }

  /**
   * The first {@link #UNKNOWN_SHOWN} reports as text, then how many more: an agent may report 2,000 ids no
   * hosted feed lists.
   */
  private static String listed(List<Agents.MitigationReport> reports,
      java.util.function.Function<Agents.MitigationReport, String> text) {
    List<String> shown = reports.stream().limit(UNKNOWN_SHOWN).map(text).toList();
    return String.join(", ", shown) + (reports.size() > shown.size() ? " and " + (reports.size() - shown.size())
        + " more" : "");
  }

  /** Mode overrides as "M1 audit, M2 enforce". */
  private static String modes(Map<String, String> modes) {
    List<String> out = new ArrayList<>();
    modes.forEach((id, mode) -> out.add(id + " " + mode));
    return String.join(", ", out);
  }

  /**
   * A ring's progress: servers per reported status, and how many of the ring's servers have not reported
   * the revision. The counts alone read "1 Applied" as if the ring were done, however many servers it has.
   */
  private static String progressText(Map<String, Integer> counts, int servers, String key) {
    if (counts.isEmpty()) {
      return servers == 0 ? "no server in this ring" : "no report yet from its " + servers
          + (servers == 1 ? " server" : " servers");
    }
    StringBuilder b = new StringBuilder();
    counts.forEach((status, n) -> b.append("<span class=\"cell st-").append(esc(status)).append("\">").append(n)
        .append(' ').append(esc(status)).append("</span> "));
    int missing = servers - counts.values().stream().mapToInt(Integer::intValue).sum();
    if (missing > 0) {
      b.append("<div class=\"missing\">").append(missing).append(" of ").append(servers)
          .append(servers == 1 ? " server" : " servers").append(" without a report of ").append(esc(key)).append("</div>");
    }
    return b.toString().trim();
  }
}
