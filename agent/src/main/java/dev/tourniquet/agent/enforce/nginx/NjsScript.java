package dev.tourniquet.agent.enforce.nginx;

/**
 * The njs module the include imports in njs mode: it computes, from the raw request line, the inputs core
 * nginx has no exact equivalent for, exactly as the rules module's {@code UrlCodec} and
 * {@code RequestContext} do.
 *
 * <ul>
 *   <li>{@code path}: the request path percent-decoded strictly (UTF-8; a malformed {@code %} or invalid
 *       UTF-8 gives the empty string, but the include has already answered such a request 400) without
 *       its leading slash: IIS's {@code <match url>} input. nginx's {@code $uri} is not
 *       it: nginx merges slashes and resolves dot segments.
 *   <li>{@code url}: the same with the leading slash: {@code {URL}}.
 *   <li>{@code decodedRequestUri}, {@code decodedArgs}: {@code {UrlDecode:{REQUEST_URI}}} and
 *       {@code {UrlDecode:{QUERY_STRING}}}: lenient decoding, where a {@code %} not followed by two hex
 *       digits stays and invalid UTF-8 becomes U+FFFD; {@code +} stays.
 *   <li>{@code header}: the request header named by {@code $tq_header_name} (lower case, {@code -} and
 *       {@code _} alike), its fields joined with {@code ", "} ({@code "; "} for Cookie) as the rules module joins them; nginx before
 *       1.23 keeps only the first field in {@code $http_…}.
 *   <li>{@code hit}: audit mode; appends {@code $tq_hit_key} as a line to {@code $tq_audit_log} and returns
 *       the empty string. A failure to write is logged to nginx's error log and never fails the request.
 * </ul>
 */
final class NjsScript {
  private NjsScript() {}

  /** The file the {@code hit} function appends audit keys to, in the same directory as the script. */
  static final String AUDIT_LOG = "nginx-audit.log";

  /** The file name the enforcer writes the script under, in its state directory. */
  static final String FILE_NAME = "tourniquet.js";

  /** The script text (njs 0.7 or later). */
  static final String TEXT = """
      // Tourniquet: exact request inputs for the generated nginx include. Written by the agent; do not edit.
      import fs from 'fs';

      function hex(c) {
          if (c >= 48 && c <= 57) { return c - 48; }
          if (c >= 97 && c <= 102) { return c - 87; }
          if (c >= 65 && c <= 70) { return c - 55; }
          return -1;
      }

      function rawPath(r) {
          var target = r.variables.request_uri || '';
          var q = target.indexOf('?');
          return q < 0 ? target : target.substring(0, q);
      }

      // UrlCodec.decodePathStrict: null when malformed.
      function decodeStrict(s) {
          if (s.indexOf('%') < 0) { return s; }
          var raw = Buffer.from(s);
          var bytes = [];
          for (var i = 0; i < raw.length; i++) {
              if (raw[i] === 37) {
                  if (i + 2 >= raw.length) { return null; }
                  var hi = hex(raw[i + 1]);
                  var lo = hex(raw[i + 2]);
                  if (hi < 0 || lo < 0) { return null; }
                  bytes.push(hi * 16 + lo);
                  i += 2;
              } else {
                  bytes.push(raw[i]);
              }
          }
          try {
              return new TextDecoder('utf-8', {fatal: true}).decode(Buffer.from(bytes));
          } catch (e) {
              return null;
          }
      }

      // UrlCodec.decodeLenient: runs of %XX become UTF-8 text, anything else stays as it is.
      function decodeLenient(s) {
          if (s.indexOf('%') < 0) { return s; }
          var out = '';
          var pending = [];
          var decoder = new TextDecoder('utf-8');
          for (var i = 0; i < s.length; i++) {
              var c = s.charCodeAt(i);
              if (c === 37 && i + 2 < s.length && hex(s.charCodeAt(i + 1)) >= 0 && hex(s.charCodeAt(i + 2)) >= 0) {
                  pending.push(hex(s.charCodeAt(i + 1)) * 16 + hex(s.charCodeAt(i + 2)));
                  i += 2;
                  continue;
              }
              if (pending.length > 0) {
                  out += decoder.decode(Buffer.from(pending));
                  pending = [];
              }
              out += s.charAt(i);
          }
          if (pending.length > 0) {
              out += decoder.decode(Buffer.from(pending));
          }
          return out;
      }

      function originForm(r) {
          var target = r.variables.request_uri || '';
          return target.charAt(0) === '/';
      }

      function url(r) {
          var decoded = originForm(r) ? decodeStrict(rawPath(r)) : null;
          return decoded === null ? '' : decoded;
      }

      function path(r) {
          return url(r).substring(1);
      }

      function decodedRequestUri(r) {
          return decodeLenient(r.variables.request_uri || '');
      }

      function decodedArgs(r) {
          return decodeLenient(r.variables.args || '');
      }

      // '-' and '_' are one character here, as in the rules module's {HTTP_X_Y} and nginx's $http_x_y: with
      // underscores_in_headers on, nginx passes X_Token on, which CGI, PHP and IIS read as HTTP_X_TOKEN.
      function header(r) {
          var name = (r.variables.tq_header_name || '').toLowerCase().replace(/_/g, '-');
          var values = [];
          r.rawHeadersIn.forEach(function (field) {
              if (field[0].toLowerCase().replace(/_/g, '-') === name) {
                  values.push(field[1]);
              }
          });
          return values.join(name === 'cookie' ? '; ' : ', ');
      }

      // Audit mode: one line per hit; a small append with O_APPEND is not interleaved between workers.
      function hit(r) {
          try {
              fs.appendFileSync(r.variables.tq_audit_log, r.variables.tq_hit_key + '\\n');
          } catch (e) {
              r.error('tourniquet: cannot record an audit hit: ' + e);
          }
          return '';
      }

      export default {url, path, decodedRequestUri, decodedArgs, header, hit};
      """;
}
