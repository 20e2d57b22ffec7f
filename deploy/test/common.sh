# Shared by scripts/deploy-test and scripts/cluster-test (sourced, not run).
#
# Sets: ROOT, TMP (removed on exit unless MABEAM_KEEP_TMP=1), BIN (the mabeam binary),
# PY (a python3 with PyYAML). Every pid a test writes to $TMP/pids is stopped on exit,
# by its id: TERM, then KILL after 5 s.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TMP="$(mktemp -d -t "mabeam-$(basename "$0").XXXXXX")"
chmod 755 "$TMP"
: >"$TMP/pids"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pids
  pids="$(cat "$TMP/pids" 2>/dev/null || true)"
  if [ -n "$pids" ]; then
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 50); do
      local alive=0
      for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  fi
  if [ "${MABEAM_KEEP_TMP:-0}" = 1 ] || [ "$rc" != 0 ]; then
    echo "logs kept in $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# need_pkg COMMAND PACKAGE: install PACKAGE with apt-get when COMMAND is missing (as root).
need_pkg() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing $2 (for $1)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }
  else
    echo "missing $1: install the Debian package $2" >&2
    return 1
  fi
}

# A python3 with PyYAML (installed with pip when missing).
export PYTHONDONTWRITEBYTECODE=1
PY="$(command -v python3)"
if ! "$PY" -c 'import yaml' 2>/dev/null; then
  echo "installing PyYAML"
  "$PY" -m pip install -q pyyaml >/dev/null 2>&1 || "$PY" -m pip install -q --break-system-packages pyyaml
fi

# The binary under test: $MABEAM_BIN, or a release build of this tree.
if [ -n "${MABEAM_BIN:-}" ]; then
  BIN="$MABEAM_BIN"
else
  cargo build --release --locked --bin mabeam -j "${CARGO_BUILD_JOBS:-2}" >&2
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/mabeam"
fi
[ -x "$BIN" ] || { echo "no mabeam binary at $BIN (set MABEAM_BIN or run cargo build --release)" >&2; exit 1; }
