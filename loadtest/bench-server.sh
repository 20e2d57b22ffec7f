#!/usr/bin/env bash
# Benchmark `mabeam serve` against Debian nginx in the same run (by hand, not CI).
#
#   loadtest/bench-server.sh            # 10 s per run
#   DURATION=5s loadtest/bench-server.sh
#
# Builds release, starts `mabeam serve` (built-in default profile, port 0) and nginx
# answering a static 200 on a loopback port (config in a temp dir), then runs wrk against:
#   1. nginx (static 200)                      -- the peer
#   2. mabeam GET /health
#   3. mabeam POST /api/coordinate, a 10-bid sealed second-price auction (wrk lua script)
# and prints requests/s ratios vs nginx. Then, for each target, p99 latency at half of its
# own saturation rate. wrk has no rate limiting (that is wrk2) and mabeam-load is not a
# load generator yet, so half saturation is approximated with wrk's lua `delay()`: C
# connections each pause 1 ms before every request, C calibrated by a 2 s probe so the
# achieved rate is about half the saturation rate; it is printed next to the p99.
#
# wrk shares the machine's cores with both servers: quote ratios, not absolute numbers.
# Goals: /health >= 0.8x nginx req/s; sealed-bid coordinate >= 0.5x nginx; p99 < 1 ms at
# half of saturation.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y nginx wrk" >&2; exit 1; }
done

cargo build --release -j 2 --bin mabeam >&2

TMP=$(mktemp -d)
MABEAM_PID=""
cleanup() {
  [ -n "$MABEAM_PID" ] && kill -TERM "$MABEAM_PID" 2>/dev/null && wait "$MABEAM_PID" 2>/dev/null || true
  [ -f "$TMP/nginx.pid" ] && kill -QUIT "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- nginx: static 200 on a free loopback port ------------------------------------------
NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$TMP/nginx"
cat > "$TMP/nginx.conf" <<NGINX
worker_processes $(nproc);
pid $TMP/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx;
  proxy_temp_path $TMP/nginx;
  fastcgi_temp_path $TMP/nginx;
  uwsgi_temp_path $TMP/nginx;
  scgi_temp_path $TMP/nginx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport;
    location / { default_type application/json; return 200 '{"status":"healthy"}'; }
  }
}
NGINX
nginx -c "$TMP/nginx.conf" -p "$TMP"

# --- mabeam serve ---------------------------------------------------------------------------
MABEAM_LOG=warn "$ROOT/target/release/mabeam" serve --listen 127.0.0.1:0 --node-id bench \
  > "$TMP/mabeam.out" 2> "$TMP/mabeam.err" &
MABEAM_PID=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$TMP/mabeam.out" 2>/dev/null && break
  sleep 0.1
done
MABEAM_ADDR=$(sed -n 's/^listening on //p' "$TMP/mabeam.out")
[ -n "$MABEAM_ADDR" ] || { echo "mabeam did not start:" >&2; cat "$TMP/mabeam.err" >&2; exit 1; }

# --- wrk scripts ----------------------------------------------------------------------------
BODY='{"protocol":"auction","auction":{"type":"second_price","reserve":10,"bids":['
for i in $(seq 1 10); do
  BODY+="{\"agent_id\":\"agent-$i\",\"amount\":$((10 + i * 7 % 23)).$((i * 13 % 100))}"
  [ "$i" -lt 10 ] && BODY+=','
done
BODY+=']}}'
cat > "$TMP/coordinate.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA
cat > "$TMP/paced.lua" <<'LUA'
function delay() return 1 end
LUA
{ cat "$TMP/coordinate.lua"; cat "$TMP/paced.lua"; } > "$TMP/coordinate-paced.lua"

# Sanity: the coordinate body clears.
curl -sf -X POST -H 'content-type: application/json' --data "$BODY" "http://$MABEAM_ADDR/api/coordinate" \
  | grep -q '"sold":true' || { echo "the benchmark auction did not clear" >&2; exit 1; }

run_wrk() { # url conns duration [script]
  local url=$1 conns=$2 dur=$3 script=${4:-}
  local args=(-t "$THREADS" -c "$conns" -d "$dur" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "$url"
}
rps() { awk '/^Requests\/sec:/ {print $2}'; }
p99_ms() {
  awk '$1 == "99%" {
    v = $2; u = v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
    if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
    printf "%.3f", v }'
}

declare -A URL SCRIPT PACED RPS
URL[nginx]="http://127.0.0.1:$NGINX_PORT/"
URL[health]="http://$MABEAM_ADDR/health"
URL[coordinate]="http://$MABEAM_ADDR/api/coordinate"
SCRIPT[nginx]=""; SCRIPT[health]=""; SCRIPT[coordinate]="$TMP/coordinate.lua"
PACED[nginx]="$TMP/paced.lua"; PACED[health]="$TMP/paced.lua"; PACED[coordinate]="$TMP/coordinate-paced.lua"
ORDER=(nginx health coordinate)

echo "== saturation: wrk -t $THREADS -c $CONNECTIONS -d $DURATION"
for name in "${ORDER[@]}"; do
  out=$(run_wrk "${URL[$name]}" "$CONNECTIONS" "$DURATION" "${SCRIPT[$name]}")
  RPS[$name]=$(echo "$out" | rps)
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf "%-11s %12s req/s   p99 %8s ms%s\n" "$name" "${RPS[$name]}" "$(echo "$out" | p99_ms)" \
    "${non2xx:+   non-2xx: $non2xx}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
echo "== ratios vs nginx (same run)"
echo "health      $(ratio "${RPS[health]}" "${RPS[nginx]}")x   (goal >= 0.8x)"
echo "coordinate  $(ratio "${RPS[coordinate]}" "${RPS[nginx]}")x   (goal >= 0.5x, 10-bid sealed second-price)"

echo
echo "== p99 at half of saturation (wrk lua delay() pacing, 1 ms per connection; goal < 1 ms)"
paced() { # name conns duration
  local name=$1 conns=$2 dur=$3 threads=$THREADS
  [ "$conns" -lt "$threads" ] && threads=$conns
  wrk -t "$threads" -c "$conns" -d "$dur" --latency -s "${PACED[$name]}" "${URL[$name]}"
}
for name in "${ORDER[@]}"; do
  target=$(awk -v r="${RPS[$name]}" 'BEGIN { print r / 2 }')
  conns=$(awk -v t="$target" 'BEGIN { c = int(t / 1000 + 0.5); if (c < 1) c = 1; print c }')
  # Calibrate once: each connection runs slower than 1/ms (the round trip adds to the
  # pause), so scale the connections by target / achieved from a 2 s probe.
  probe=$(paced "$name" "$conns" 2s | rps)
  conns=$(awk -v c="$conns" -v t="$target" -v a="$probe" \
    'BEGIN { if (a > 0) c = int(c * t / a + 0.5); if (c < 1) c = 1; print c }')
  out=$(paced "$name" "$conns" "$DURATION")
  printf "%-11s target %9.0f req/s  achieved %10s req/s  p99 %8s ms  (%s connections)\n" \
    "$name" "$target" "$(echo "$out" | rps)" "$(echo "$out" | p99_ms)" "$conns"
done
