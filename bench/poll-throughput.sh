#!/bin/sh
# Conditional-poll throughput: the fleet server against nginx serving the same published feed directory,
# in the same run, with the same wrk settings. Every request is an agent's no-change poll: GET
# timestamp.json with the If-None-Match and If-Modified-Since that server sent, answered 304.
#
#   bench/poll-throughput.sh [seconds per measurement (15)] [connections (64)] [wrk threads (2)] [rounds (2)]
#
# Needs bench/target/benchmarks.jar (mvn -q -B -pl bench -am -DskipTests package), wrk, curl and nginx.
# Starts the fleet server (FleetSimulator --serve, H2 in a temporary directory) and nginx (etag on, one
# worker per core, access log off) on free loopback ports, warms both up, then measures them alternately,
# fleet server first, for the given number of rounds. Besides requests/s and latency it reports each server's
# CPU time per request (the JVM; nginx's master and workers), which depends far less on other load than
# requests/s on a shared machine. Everything it starts is stopped and its temporary directory removed on
# exit, also on failure or Ctrl-C.
set -eu

SECONDS_EACH=${1:-15}
CONNECTIONS=${2:-64}
THREADS=${3:-2}
ROUNDS=${4:-2}

cd "$(dirname "$0")/.."
JAR=bench/target/benchmarks.jar
NGINX=${NGINX:-/usr/sbin/nginx}
[ -f "$JAR" ] || { echo "missing $JAR; build it: mvn -q -B -pl bench -am -DskipTests package" >&2; exit 2; }
for tool in wrk curl java "$NGINX"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool (apt-get install -y wrk curl nginx)" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tourniquet-poll-XXXXXX")
JAVA_PID=
NGINX_PID=
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
  [ -n "$JAVA_PID" ] && kill "$JAVA_PID" 2>/dev/null && wait "$JAVA_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

java -cp "$JAR" dev.tourniquet.bench.FleetSimulator --serve "$WORK/ready" >"$WORK/fleet.log" 2>&1 &
JAVA_PID=$!
i=0
while [ ! -s "$WORK/ready" ]; do
  i=$((i + 1))
  if [ "$i" -gt 600 ] || ! kill -0 "$JAVA_PID" 2>/dev/null; then
    echo "the fleet server did not start within 60 s:" >&2; cat "$WORK/fleet.log" >&2; exit 1
  fi
  sleep 0.1
done
read -r FLEET_PORT NGINX_PORT PUBLISHED <"$WORK/ready"

mkdir -p "$WORK/nginx/logs"
# The workers read the files as the invoking user (the temporary directories are owner-only); nginx
# ignores this line with a warning when not started as root.
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
user $(id -un) $(id -gn);
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  etag on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location /feeds/default/ { alias $PUBLISHED/; }
  }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" 2>>"$WORK/nginx/error.log" &
NGINX_PID=$!

FLEET_URL="http://127.0.0.1:$FLEET_PORT/feeds/default/timestamp.json"
NGINX_URL="http://127.0.0.1:$NGINX_PORT/feeds/default/timestamp.json"
i=0
until curl -fs -o /dev/null "$NGINX_URL" 2>/dev/null; do
  i=$((i + 1)); [ "$i" -gt 100 ] && { echo "nginx did not start:" >&2; cat "$WORK/nginx/error.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$FLEET_URL" -o "$WORK/from-fleet.json"
curl -fsS "$NGINX_URL" -o "$WORK/from-nginx.json"
cmp "$WORK/from-fleet.json" "$WORK/from-nginx.json" || { echo "the two servers serve different bytes" >&2; exit 1; }

# The validators each server sends, as an agent would remember them.
header() { curl -fsS -D - -o /dev/null "$1" | tr -d '\r' | awk -v h="$2" 'tolower($1) == tolower(h) ":" { $1 = ""; sub(/^ /, ""); print }'; }
FLEET_ETAG=$(header "$FLEET_URL" ETag)
FLEET_LM=$(header "$FLEET_URL" Last-Modified)
NGINX_ETAG=$(header "$NGINX_URL" ETag)
NGINX_LM=$(header "$NGINX_URL" Last-Modified)
for url_etag in "$FLEET_URL|$FLEET_ETAG|$FLEET_LM" "$NGINX_URL|$NGINX_ETAG|$NGINX_LM"; do
  IFS='|' read -r u e l <<EOF
$url_etag
EOF
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $e" -H "If-Modified-Since: $l" "$u")
  [ "$code" = 304 ] || { echo "$u answered $code to a conditional GET, expected 304" >&2; exit 1; }
done

cat >"$WORK/poll.lua" <<'EOF'
-- wrk -s poll.lua URL -- ETAG LAST_MODIFIED: every request is a conditional GET; counts answers other than 304.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  wrk.headers["If-None-Match"] = args[1]
  wrk.headers["If-Modified-Since"] = args[2]
  wrk.headers["Accept"] = "application/json"
  other = 0
end
function response(status, headers, body)
  if status ~= 304 then other = other + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("other") end
  io.write(string.format("answers other than 304: %d\n", n))
end
EOF

# CPU time (user + system, in clock ticks) of a process and its children so far: the JVM, or nginx's
# master and workers. Unlike requests/s it hardly depends on what else runs on the machine.
cpu_ticks() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$1" '$1 == p || $4 == p { t += $14 + $15 } END { print t + 0 }'
}
TICKS_PER_SECOND=$(getconf CLK_TCK)

run() { # name url etag last-modified seconds pid
  before=$(cpu_ticks "$6")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$5"s --latency -s "$WORK/poll.lua" "$2" -- "$3" "$4" >"$WORK/wrk.out" 2>&1
  ticks=$(( $(cpu_ticks "$6") - before ))
  requests=$(awk '/ requests in / { print $1 }' "$WORK/wrk.out")
  cpu=$(awk -v t="$ticks" -v hz="$TICKS_PER_SECOND" -v n="${requests:-0}" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "?" }')
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk.out")
  p50=$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.out")
  p99=$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.out")
  other=$(awk '/answers other than 304:/ { print $NF }' "$WORK/wrk.out")
  errors=$(awk '/Socket errors:/ { $1 = $2 = ""; print }' "$WORK/wrk.out" | sed 's/^ *//')
  load=$(cut -d' ' -f1 /proc/loadavg)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$cpu" "$p50" "$p99" "${other:-?}" "${errors:-none}" "$load"
  echo "$1 $rps $cpu" >>"$WORK/rates"
}

echo "wrk: $THREADS threads, $CONNECTIONS connections, ${SECONDS_EACH} s each, $ROUNDS rounds; $(nproc) cores;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "warming up both servers (5 s each) ..."
run fleet-warmup "$FLEET_URL" "$FLEET_ETAG" "$FLEET_LM" 5 "$JAVA_PID" >/dev/null
run nginx-warmup "$NGINX_URL" "$NGINX_ETAG" "$NGINX_LM" 5 "$NGINX_PID" >/dev/null
echo
echo "| server | requests/s | server CPU µs per request | latency p50 | latency p99 | not 304 | socket errors | load average (1 min) after |"
echo "|---|---|---|---|---|---|---|---|"
r=1
while [ "$r" -le "$ROUNDS" ]; do
  run "fleet server (Jetty), round $r" "$FLEET_URL" "$FLEET_ETAG" "$FLEET_LM" "$SECONDS_EACH" "$JAVA_PID"
  run "nginx, round $r" "$NGINX_URL" "$NGINX_ETAG" "$NGINX_LM" "$SECONDS_EACH" "$NGINX_PID"
  r=$((r + 1))
done
awk '/^fleet server/ { f += $(NF - 1); fc += $NF; nf++ } /^nginx,/ { n += $(NF - 1); nc += $NF; nn++ }
  END { if (nf && nn) printf "\nmean requests/s: fleet server %.0f, nginx %.0f; fleet server / nginx = %.2f\n" \
      "mean server CPU per request: fleet server %.1f µs, nginx %.1f µs; fleet server / nginx = %.2f\n",
      f / nf, n / nn, (f / nf) / (n / nn), fc / nf, nc / nn, (fc / nf) / (nc / nn) }' \
  "$WORK/rates"
