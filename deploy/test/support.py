"""Shared pieces of scripts/deploy-test and scripts/cluster-test: child processes that are
always reaped, a small keep-alive HTTP client, free ports, and check reporting.

Standard library only (plus PyYAML where a caller parses YAML).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class CheckFailed(Exception):
    """A check did not hold: the message says which and why."""


def log(msg: str) -> None:
    print(msg, flush=True)


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


# ---------------------------------------------------------------- processes


class Children:
    """Every process a test starts, with its pid appended to `pidfile` (so the bash
    wrapper's trap can reap it even if Python dies), stopped in reverse order."""

    def __init__(self, pidfile: Path):
        self.pidfile = pidfile
        self.procs: list[subprocess.Popen] = []

    def spawn(self, args, *, env=None, stdout=None, stderr=None, name="") -> subprocess.Popen:
        out = open(stdout, "ab") if stdout else subprocess.DEVNULL
        err = open(stderr, "ab") if stderr else subprocess.STDOUT if stdout else subprocess.DEVNULL
        p = subprocess.Popen(
            [str(a) for a in args], env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        p.name = name or Path(str(args[0])).name
        self.procs.append(p)
        with open(self.pidfile, "a") as f:
            f.write(f"{p.pid}\n")
        return p

    def stop(self, p: subprocess.Popen, sig=signal.SIGTERM, wait=15.0):
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        return p.returncode

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                self.stop(p, wait=10.0)


# ---------------------------------------------------------------- network


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when nothing listens on `port` (connections in TIME_WAIT do not count: the
    server binds with SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(what: str, fn, timeout: float, every: float = 0.1):
    """Calls `fn` until it returns a truthy value; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except (OSError, http.client.HTTPException, ValueError) as e:
            last = e
        time.sleep(every)
    raise CheckFailed(f"timed out after {timeout:.0f}s waiting for {what}" + (f" ({last})" if last else ""))


class Response:
    def __init__(self, status: int, headers: dict, body: bytes, elapsed: float):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    @property
    def node(self) -> str | None:
        return self.headers.get("x-mabeam-node")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} node={self.node} {self.body[:200]!r}>"


class Client:
    """One keep-alive HTTP/1.1 connection; reconnects after an error or a close."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 10.0):
        self.port = port
        self.token = token
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body=None, key: str | None = None, headers=None,
                retry_stale: bool = True):
        hdrs = {"Accept": "application/json"}
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if key is not None:
            hdrs["X-Mabeam-Key"] = key
        if headers:
            hdrs.update(headers)
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        t0 = time.monotonic()
        for attempt in (0, 1):
            reused = self.conn is not None and self.conn.sock is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                payload = r.read()
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # The peer closed an idle keep-alive connection: retry once on a new one,
                # unless the caller counts every attempt itself.
                self.close()
                if not (reused and retry_stale and attempt == 0):
                    raise
            except (OSError, http.client.HTTPException):
                self.close()
                raise
        elapsed = time.monotonic() - t0
        h = {k.lower(): v for k, v in r.getheaders()}
        if h.get("connection", "").lower() == "close":
            self.close()
        return Response(r.status, h, payload, elapsed)


# ---------------------------------------------------------------- mabeam


def bearer_token():
    """A fresh token and the MABEAM_SECURITY__TOKENS value that accepts it."""
    token = secrets.token_hex(16)
    digest = hashlib.sha256(token.encode()).hexdigest()
    return token, f'[{{token_sha256 = "{digest}", role = "operator"}}]'


def clean_env(extra: dict) -> dict:
    """The caller's environment without MABEAM_* (so a developer's shell cannot change the
    test), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MABEAM_")}
    env.setdefault("RUST_LOG", "info")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_node(children: Children, binary: str, args: list, env: dict, logdir: Path, name: str):
    """Starts `mabeam serve ARGS` and waits for its `listening on ADDR` line; returns the
    process and the port."""
    out = logdir / f"{name}.out"
    err = logdir / f"{name}.err"
    p = children.spawn([binary, *args], env=env, stdout=out, stderr=err, name=name)

    def listening():
        if p.poll() is not None:
            raise CheckFailed(f"{name} exited with {p.returncode}: {tail(err)}")
        m = re.search(rb"listening on [^\s]*:(\d+)", out.read_bytes())
        return int(m.group(1)) if m else None

    port = wait_for(f"{name} to listen", listening, 20)
    c = Client(port)
    wait_for(f"{name} /ready", lambda: c.request("GET", "/ready").status == 200, 20)
    c.close()
    return p, port


def shutdown_line(out: Path) -> dict:
    """The `shutdown: signal=.. agents=N drained=.. abandoned=.. clean=..` line as a dict."""
    for line in reversed(out.read_text(errors="replace").splitlines()):
        if line.startswith("shutdown:"):
            return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    return {}


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def run_main(main) -> None:
    """Runs `main()`, turning a failed check into exit 1 with its message."""
    t0 = time.monotonic()
    try:
        main()
    except CheckFailed as e:
        log(f"FAIL: {e}")
        log(f"(after {time.monotonic() - t0:.1f}s)")
        sys.exit(1)
    log(f"all checks passed in {time.monotonic() - t0:.1f}s")
