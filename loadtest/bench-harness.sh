#!/usr/bin/env bash
# bench-harness.sh: mabeam-load beside wrk, in the same run, on loopback (run by hand).
#
#   loadtest/bench-harness.sh                 # 10 s per run, 60 s memory soak
#   DUR=5s SOAK=20 ROUNDS=3 loadtest/bench-harness.sh
#
# Both tools run a closed loop (wrk's only mode; mabeam-load -R 0) with the same threads
# and connections against nginx serving a static 200, and against `mabeam serve`'s
# /health when the mabeam binary has a `serve` subcommand. Runs alternate
# (wrk, mabeam-load, wrk, ...) so drift on the shared cores hits both; the report is
# the ratio of requests/s, run by run and median. Then mabeam-load runs for SOAK
# seconds and its own RSS, sampled every second, must stay flat.
# Needs: apt-get install -y wrk nginx.
set -euo pipefail

DUR=${DUR:-10s}
SOAK=${SOAK:-60}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

for tool in wrk nginx; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y wrk nginx" >&2; exit 3; }
done

cargo build --release -j 2 -p mabeam-harness --manifest-path "$ROOT/Cargo.toml" >&2
LOAD="$ROOT/target/release/mabeam-load"

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

# --- nginx serving a static 200 -------------------------------------------------------
NGINX_PORT=$(free_port)
cat > "$TMP/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { return 200 "ok\n"; }
    }
}
CONF
nginx -c "$TMP/nginx.conf" -p "$TMP" &
PIDS+=($!)
wait_port "$NGINX_PORT"

wrk_rps() { wrk -t"$THREADS" -c"$CONNS" -d"$DUR" "$1" | awk '/^Requests\/sec:/ {print $2}'; }
load_rps() {
    "$LOAD" -t "$THREADS" -c "$CONNS" -d "$DUR" -R 0 --no-metrics --json "$TMP/load.json" "$1" >"$TMP/load.txt" || true
    sed -n 's/^ *"achieved_rps": *\([0-9.]*\).*/\1/p' "$TMP/load.json"
}

compare() { # name url
    local ratios=()
    echo "== $1: $THREADS threads, $CONNS connections, $DUR per run, closed loop"
    for r in $(seq "$ROUNDS"); do
        local w m ratio
        w=$(wrk_rps "$2")
        m=$(load_rps "$2")
        ratio=$(awk -v m="$m" -v w="$w" 'BEGIN { printf "%.3f", m / w }')
        ratios+=("$ratio")
        echo "   round $r: wrk $w req/s, mabeam-load $m req/s, ratio $ratio"
    done
    printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "   median ratio mabeam-load/wrk: %.3f (goal >= 1.0)\n", m}'
}

compare "nginx static 200" "http://127.0.0.1:$NGINX_PORT/"

# --- harness memory over a soak -------------------------------------------------------
echo "== memory soak: mabeam-load for ${SOAK}s, closed loop, RSS sampled every second"
"$LOAD" -t "$THREADS" -c "$CONNS" -d "${SOAK}s" -R 0 --no-metrics --json "$TMP/soak.json" "http://127.0.0.1:$NGINX_PORT/" >/dev/null || true
python3 - "$TMP/soak.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
rss = v["harness_rss_bytes"]
mib = lambda b: b / 1048576
base = rss[1] if len(rss) > 1 else rss[0]
growth = rss[-1] - base
print(f"   {v['requests']['total']} requests, {v['achieved_rps']:.0f} req/s")
print(f"   RSS second 1: {mib(base):.2f} MiB, last: {mib(rss[-1]):.2f} MiB, max: {mib(max(rss)):.2f} MiB, growth {mib(growth):+.2f} MiB")
print("   flat" if growth < 2 * 1048576 else "   NOT flat")
PY

# --- mabeam serve /health, when the binary has it -------------------------------------
# SERVE_BIN=path/to/mabeam uses that binary; otherwise this tree's, via cargo run.
if [ -z "${SERVE_BIN:-}" ] && cargo run -q --release -j 2 --manifest-path "$ROOT/Cargo.toml" --bin mabeam -- --help 2>/dev/null | grep -qw serve; then
    SERVE_BIN="$ROOT/target/release/mabeam"
fi
if [ -n "${SERVE_BIN:-}" ] && "$SERVE_BIN" --help 2>/dev/null | grep -qw serve; then
    MABEAM_PORT=$(free_port)
    "$SERVE_BIN" serve --listen "127.0.0.1:$MABEAM_PORT" >"$TMP/mabeam.log" 2>&1 &
    PIDS+=($!)
    wait_port "$MABEAM_PORT" || { tail -5 "$TMP/mabeam.log" >&2; exit 1; }
    compare "mabeam serve /health" "http://127.0.0.1:$MABEAM_PORT/health"
else
    echo "== mabeam serve: not in this build (mabeam --help lists no 'serve'); skipped"
fi
