package dev.tourniquet.bench;

import dev.tourniquet.rules.Header;
import dev.tourniquet.rules.HttpRequest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * A deterministic mix of requests as an on-premises Exchange server sees them: mostly legitimate OWA,
 * EWS, ActiveSync, Autodiscover, MAPI, ECP, admin PowerShell and static-asset traffic with the headers
 * real clients send (500 to 1,500 bytes of them, most of it cookies and authorisation), plus a few percent
 * of attacks: ProxyNotShell and ProxyLogon requests that Microsoft's rules stop, and requests built to set
 * off randomly chosen generated rules.
 */
final class RequestMix {
  /** One request of the mix and what it is meant to do. */
  record Sample(HttpRequest request, String intendedRule) {
    /** Whether the request is hostile: some rule must stop it. */
    boolean attack() {
      return intendedRule != null;
    }
  }

  private static final String HOST = "mail.contoso.com";
  private static final String BUILD = "15.2.1118.7";
  private static final String[] USERS = {"jdoe", "asmith", "mgarcia", "lchen", "pnovak", "rkumar", "tbrown", "ywang"};
  private static final String BROWSER_UA =
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80";
  private static final String[] OWA_STATIC = {
    "/owa/prem/" + BUILD + "/scripts/boot.worker.common.js",
    "/owa/prem/" + BUILD + "/scripts/microsoft.owa.core.js",
    "/owa/prem/" + BUILD + "/resources/styles/0/boot.worker.css",
    "/owa/prem/" + BUILD + "/resources/images/0/sprite1.mouse.png",
    "/owa/auth/15.2.1118/themes/resources/favicon.ico",
    "/owa/auth/15.2.1118/themes/resources/segoeui-regular.woff",
    "/owa/prem/" + BUILD + "/resources/themes/base/0/owa.theme.css",
  };
  private static final String[] OWA_ACTIONS = {
    "GetItem", "FindItem", "FindConversation", "GetConversationItems", "CreateItem", "UpdateItem",
    "GetFolderChangeDigest", "GetCalendarView", "GetOwaUserConfiguration", "SubscribeToNotification",
  };

  private final Random rng;

  private RequestMix(long seed) {
    this.rng = new Random(seed);
  }

  /**
   * Builds a mix of {@code size} requests of which about {@code attackPercent} percent are attacks.
   *
   * @param generation the rule set the attacks aim at
   * @param size the number of requests
   * @param attackPercent the share of attacks, in percent
   */
  static List<Sample> build(RuleSetGenerator.Generation generation, int size, int attackPercent) {
    RequestMix mix = new RequestMix(RuleSetGenerator.SEED);
    int attacks = Math.max(4, size * attackPercent / 100);
    List<Sample> samples = new ArrayList<>();
    for (int i = 0; i < size - attacks; i++) {
      samples.add(new Sample(mix.legitimate(), null));
    }
    samples.addAll(mix.microsoftAttacks(generation));
    List<RuleSetGenerator.Generated> targets = generation.generated();
    while (samples.size() < size && !targets.isEmpty()) {
      RuleSetGenerator.Generated target = targets.get(mix.rng.nextInt(targets.size()));
      samples.add(new Sample(mix.attack(target.attack()), target.rule().name()));
    }
    // The legitimate part does not depend on the rule set; shuffle so that attacks are spread evenly.
    Collections.shuffle(samples, mix.rng);
    return List.copyOf(samples);
  }

  /** ProxyNotShell (M1) and ProxyLogon requests, including evasions, and the rules meant to stop them. */
  private List<Sample> microsoftAttacks(RuleSetGenerator.Generation generation) {
    String m1 = ruleNamed(generation, "M1");
    String beResource = ruleNamed(generation, "X-BEResource");
    String anon = ruleNamed(generation, "X-AnonResource-Backend");
    List<Sample> out = new ArrayList<>();
    out.add(new Sample(attack(new RuleSetGenerator.Attack("GET",
        "/autodiscover/autodiscover.json?@evil.example/powershell/?X-Rps-CAT=VgEAVAdXaW5kb3dzQwBBBUJhc2ljTAtBZG1pbmlzdHJhdG9y"
            + "&Email=autodiscover/autodiscover.json%3F@evil.example", Map.of())), m1));
    // Evasion: the second word percent-encoded and in mixed case; UrlDecode undoes the one, ignoreCase the other.
    out.add(new Sample(attack(new RuleSetGenerator.Attack("POST",
        "/autodiscover/autodiscover.json?a=x@evil.example/%50ower%53hell&Email=AutoDiscover/autodiscover.json%3Fa%3Dx@evil.example",
        Map.of())), m1));
    out.add(new Sample(attack(new RuleSetGenerator.Attack("POST", "/ecp/y.js",
        Map.of("Cookie", "X-AnonResource=true; X-BEResource=localhost/EWS/Exchange.asmx?a=~1942062522; X-AnonResource-Backend=localhost/ecp/default.flt?~3"))), anon));
    out.add(new Sample(attack(new RuleSetGenerator.Attack("POST", "/ecp/target.js",
        Map.of("Cookie", "X-AnonResource=true; X-BEResource=Administrator@EXCH01:444/mapi/emsmdb?MailboxId=f26bc937-b7b3@contoso.com&a=~1942062522"))),
        beResource));
    return out;
  }

  private static String ruleNamed(RuleSetGenerator.Generation generation, String part) {
    return generation.fixtureRules().stream()
        .map(r -> r.name())
        .filter(n -> n.contains(part))
        .findFirst()
        .orElseThrow(() -> new IllegalStateException("no Microsoft fixture rule whose name contains " + part));
  }

  /** A browser's OWA request as the base, then the attack's method, target and headers on top. */
  private HttpRequest attack(RuleSetGenerator.Attack attack) {
    List<Header> headers = new ArrayList<>(browserHeaders("https://" + HOST + "/owa/", "*/*"));
    for (Map.Entry<String, String> e : attack.headers().entrySet()) {
      headers.removeIf(h -> h.name().equalsIgnoreCase(e.getKey()));
      headers.add(new Header(e.getKey(), e.getValue()));
    }
    return new HttpRequest(attack.method(), attack.target(), HttpRequest.HTTP_1_1, headers, "198.51.100." + (1 + rng.nextInt(250)), true, 443);
  }

  private HttpRequest legitimate() {
    int kind = rng.nextInt(100);
    if (kind < 20) {
      return owaPage();
    } else if (kind < 35) {
      return owaService();
    } else if (kind < 55) {
      return staticAsset();
    } else if (kind < 65) {
      return ews();
    } else if (kind < 77) {
      return activeSync();
    } else if (kind < 85) {
      return autodiscover();
    } else if (kind < 95) {
      return mapi();
    } else if (kind < 97) {
      return ecp();
    } else if (kind < 98) {
      return powershell();
    }
    return rpc();
  }

  private HttpRequest owaPage() {
    String[] targets = {"/owa/", "/owa/?path=/mail", "/owa/auth/logon.aspx?replaceCurrent=1&url=https%3a%2f%2fmail.contoso.com%2fowa%2f",
      "/owa/?bO=1", "/owa/projection.aspx", "/owa/default.aspx"};
    String target = targets[rng.nextInt(targets.length)];
    return request("GET", target, browserHeaders("https://" + HOST + "/owa/", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
  }

  private HttpRequest owaService() {
    String action = OWA_ACTIONS[rng.nextInt(OWA_ACTIONS.length)];
    List<Header> headers = browserHeaders("https://" + HOST + "/owa/", "*/*");
    headers.add(new Header("Action", action));
    headers.add(new Header("Content-Type", "application/json; charset=utf-8"));
    headers.add(new Header("X-OWA-CANARY", token(76)));
    headers.add(new Header("X-OWA-ActionName", action + "Action_Mail"));
    headers.add(new Header("X-Requested-With", "XMLHttpRequest"));
    headers.add(new Header("Content-Length", Integer.toString(300 + rng.nextInt(4000))));
    return request("POST", "/owa/service.svc?action=" + action + "&EP=1&ID=-" + (10 + rng.nextInt(90)) + "&AC=1", headers);
  }

  private HttpRequest staticAsset() {
    String target = OWA_STATIC[rng.nextInt(OWA_STATIC.length)];
    String accept = target.endsWith(".css") ? "text/css,*/*;q=0.1" : target.endsWith(".js") ? "*/*" : "image/avif,image/webp,*/*";
    List<Header> headers = browserHeaders("https://" + HOST + "/owa/", accept);
    headers.add(new Header("If-None-Match", "\"" + hex(16) + "\""));
    return request("GET", target, headers);
  }

  private HttpRequest ews() {
    String user = user();
    List<Header> headers = new ArrayList<>();
    headers.add(new Header("Host", HOST));
    headers.add(new Header("User-Agent", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"));
    headers.add(new Header("Content-Type", "text/xml; charset=utf-8"));
    headers.add(new Header("Accept", "*/*"));
    headers.add(new Header("Authorization", "Negotiate " + token(240 + rng.nextInt(200))));
    headers.add(new Header("X-AnchorMailbox", user + "@contoso.com"));
    headers.add(new Header("client-request-id", uuid()));
    headers.add(new Header("return-client-request-id", "true"));
    headers.add(new Header("SOAPAction", "\"http://schemas.microsoft.com/exchange/services/2006/messages/GetUserAvailability\""));
    headers.add(new Header("Content-Length", Integer.toString(800 + rng.nextInt(3000))));
    headers.add(new Header("Connection", "Keep-Alive"));
    return request("POST", rng.nextBoolean() ? "/EWS/Exchange.asmx" : "/ews/exchange.asmx", headers);
  }

  private HttpRequest activeSync() {
    String user = user();
    String[] commands = {"Sync", "Ping", "FolderSync", "SendMail", "ItemOperations", "Settings"};
    String device = hex(16).toUpperCase(Locale.ROOT);
    String target = "/Microsoft-Server-ActiveSync?User=" + user + "&DeviceId=" + device + "&DeviceType=iPhone&Cmd="
        + commands[rng.nextInt(commands.length)];
    List<Header> headers = new ArrayList<>();
    headers.add(new Header("Host", HOST));
    headers.add(new Header("User-Agent", "Apple-iPhone14C2/2006.89"));
    headers.add(new Header("Authorization", "Basic " + Base64.getEncoder().encodeToString(("CONTOSO\\" + user + ":" + token(14)).getBytes())));
    headers.add(new Header("MS-ASProtocolVersion", "16.1"));
    headers.add(new Header("X-MS-PolicyKey", Integer.toString(1_000_000_000 + rng.nextInt(1_000_000_000))));
    headers.add(new Header("Content-Type", "application/vnd.ms-sync.wbxml"));
    headers.add(new Header("Accept", "*/*"));
    headers.add(new Header("Accept-Language", "en-US,en;q=0.9"));
    headers.add(new Header("Accept-Encoding", "gzip, deflate, br"));
    headers.add(new Header("Content-Length", Integer.toString(40 + rng.nextInt(600))));
    headers.add(new Header("Connection", "keep-alive"));
    headers.add(new Header("Cookie", "ClientId=" + hex(32).toUpperCase(Locale.ROOT) + "; X-BackEndCookie=" + backEndCookie()));
    return request(rng.nextInt(10) == 0 ? "OPTIONS" : "POST", target, headers);
  }

  private HttpRequest autodiscover() {
    String user = user();
    List<Header> headers = new ArrayList<>();
    headers.add(new Header("Host", rng.nextBoolean() ? HOST : "autodiscover.contoso.com"));
    String target;
    if (rng.nextBoolean()) {
      target = "/autodiscover/autodiscover.xml";
      headers.add(new Header("User-Agent", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"));
      headers.add(new Header("Content-Type", "text/xml"));
      headers.add(new Header("Authorization", "Negotiate " + token(240 + rng.nextInt(200))));
      headers.add(new Header("X-MapiHttpCapability", "1"));
      headers.add(new Header("X-AnchorMailbox", user + "@contoso.com"));
      headers.add(new Header("client-request-id", uuid()));
    } else {
      target = "/autodiscover/autodiscover.json/v1.0/" + user + "@contoso.com?Protocol=" + (rng.nextBoolean() ? "ActiveSync" : "Ews")
          + "&RedirectCount=1";
      headers.add(new Header("User-Agent", "Outlook-iOS/2.0"));
      headers.add(new Header("Accept", "application/json"));
      headers.add(new Header("X-Client-Request-Id", uuid()));
      headers.add(new Header("Authorization", "Bearer " + token(300 + rng.nextInt(500))));
    }
    headers.add(new Header("Accept-Encoding", "gzip, deflate"));
    headers.add(new Header("Connection", "keep-alive"));
    return request(target.endsWith(".xml") ? "POST" : "GET", target, headers);
  }

  private HttpRequest mapi() {
    String user = user();
    String mailbox = uuid() + "@contoso.com";
    List<Header> headers = new ArrayList<>();
    headers.add(new Header("Host", HOST));
    headers.add(new Header("User-Agent", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"));
    headers.add(new Header("Content-Type", "application/mapi-http"));
    headers.add(new Header("Accept", "application/mapi-http"));
    headers.add(new Header("X-RequestType", rng.nextBoolean() ? "Execute" : "NotificationWait"));
    headers.add(new Header("X-ClientInfo", "{" + uuid().toUpperCase(Locale.ROOT) + "}:" + rng.nextInt(1000)));
    headers.add(new Header("X-ClientApplication", "Outlook/16.0.17328.20162"));
    headers.add(new Header("X-RequestId", "{" + uuid().toUpperCase(Locale.ROOT) + "}:" + rng.nextInt(100)));
    headers.add(new Header("Authorization", "Negotiate " + token(200 + rng.nextInt(200))));
    headers.add(new Header("Cookie", "MapiContext=" + token(40) + "; MapiRouting=" + token(60) + "; MapiSequence=" + rng.nextInt(50)
        + "-" + token(8) + "; X-BackEndCookie=" + backEndCookie()));
    headers.add(new Header("X-AnchorMailbox", user + "@contoso.com"));
    headers.add(new Header("Content-Length", Integer.toString(100 + rng.nextInt(900))));
    headers.add(new Header("Connection", "Keep-Alive"));
    String endpoint = rng.nextInt(4) == 0 ? "nspi" : "emsmdb";
    return request("POST", "/mapi/" + endpoint + "/?MailboxId=" + mailbox, headers);
  }

  private HttpRequest ecp() {
    String[] targets = {"/ecp/", "/ecp/default.aspx", "/ecp/PersonalSettings/HomePage.aspx?showhelp=false&",
      "/ecp/DDI/DDIService.svc/GetList?schema=MailboxService&msExchEcpCanary=" + token(40)};
    List<Header> headers = browserHeaders("https://" + HOST + "/ecp/", "application/json, text/javascript, */*; q=0.01");
    return request(rng.nextBoolean() ? "GET" : "POST", targets[rng.nextInt(targets.length)], headers);
  }

  private HttpRequest powershell() {
    List<Header> headers = new ArrayList<>();
    headers.add(new Header("Host", "exch01.contoso.com"));
    headers.add(new Header("User-Agent", "Microsoft WinRM Client"));
    headers.add(new Header("Content-Type", "application/soap+xml;charset=UTF-8"));
    headers.add(new Header("Authorization", "Kerberos " + token(600)));
    headers.add(new Header("Content-Length", Integer.toString(2000 + rng.nextInt(4000))));
    headers.add(new Header("Connection", "Keep-Alive"));
    return request("POST", "/powershell?serializationLevel=Full;ExchClientVer=" + BUILD
        + ";clientApplication=ManagementShell;TargetServer=;PSVersion=5.1.17763.2931", headers);
  }

  private HttpRequest rpc() {
    List<Header> headers = new ArrayList<>();
    headers.add(new Header("Host", HOST));
    headers.add(new Header("User-Agent", "MSRPC"));
    headers.add(new Header("Authorization", "Negotiate " + token(300)));
    headers.add(new Header("Content-Length", "1073741824"));
    headers.add(new Header("Accept", "application/rpc"));
    headers.add(new Header("Cookie", "OutlookSession=\"{" + uuid().toUpperCase(Locale.ROOT) + "} Outlook=16.0.17328.20162 OS=10.0.19045\""));
    headers.add(new Header("Connection", "Keep-Alive"));
    return request(rng.nextBoolean() ? "RPC_IN_DATA" : "RPC_OUT_DATA", "/rpc/rpcproxy.dll?" + HOST + ":6001", headers);
  }

  /** What a signed-in OWA browser sends: forms-based-authentication cookies make up most of it. */
  private List<Header> browserHeaders(String referer, String accept) {
    List<Header> headers = new ArrayList<>();
    headers.add(new Header("Host", HOST));
    headers.add(new Header("User-Agent", BROWSER_UA));
    headers.add(new Header("Accept", accept));
    headers.add(new Header("Accept-Language", "en-US,en;q=0.9,de;q=0.8"));
    headers.add(new Header("Accept-Encoding", "gzip, deflate, br, zstd"));
    headers.add(new Header("Referer", referer));
    headers.add(new Header("sec-ch-ua", "\"Chromium\";v=\"124\", \"Microsoft Edge\";v=\"124\", \"Not-A.Brand\";v=\"99\""));
    headers.add(new Header("sec-ch-ua-platform", "\"Windows\""));
    headers.add(new Header("Sec-Fetch-Site", "same-origin"));
    headers.add(new Header("Sec-Fetch-Mode", "cors"));
    StringBuilder cookie = new StringBuilder();
    cookie.append("ClientId=").append(hex(32).toUpperCase(Locale.ROOT))
        .append("; X-OWA-JS-PSD=1; UC=").append(hex(32))
        .append("; AppcacheVer=").append(BUILD).append(":en-usbase")
        .append("; X-BackEndCookie=").append(backEndCookie())
        .append("; cadata=").append(token(120 + rng.nextInt(120)))
        .append("; cadataTTL=").append(token(24))
        .append("; X-OWA-CANARY=").append(token(76));
    headers.add(new Header("Cookie", cookie.toString()));
    headers.add(new Header("Connection", "keep-alive"));
    return headers;
  }

  private String backEndCookie() {
    return "S-1-5-21-" + (1_000_000_000 + rng.nextInt(1_000_000_000)) + "-" + (1_000_000_000 + rng.nextInt(1_000_000_000))
        + "-" + (100_000_000 + rng.nextInt(900_000_000)) + "-" + (1000 + rng.nextInt(9000)) + "=" + token(88);
  }

  private HttpRequest request(String method, String target, List<Header> headers) {
    return new HttpRequest(method, target, HttpRequest.HTTP_1_1, headers, "10.20." + rng.nextInt(256) + "." + (1 + rng.nextInt(254)), true, 443);
  }

  private String user() {
    return USERS[rng.nextInt(USERS.length)];
  }

  private String uuid() {
    return hex(8) + "-" + hex(4) + "-" + hex(4) + "-" + hex(4) + "-" + hex(12);
  }

  private String hex(int n) {
    StringBuilder s = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      s.append("0123456789abcdef".charAt(rng.nextInt(16)));
    }
    return s.toString();
  }

  /** Base64-alphabet noise, as in session cookies and authorisation tokens. */
  private String token(int n) {
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    StringBuilder s = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      s.append(alphabet.charAt(rng.nextInt(alphabet.length())));
    }
    return s.toString();
  }
}
