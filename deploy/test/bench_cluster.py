#!/usr/bin/env python3
"""By-hand measurement for docs/scaling.md (not part of CI): the proxy's overhead and
requests/s with 1, 2 and 3 nodes, all on this machine, in one run, as ratios.

    MABEAM_BIN=target/release/mabeam python3 deploy/test/bench_cluster.py [--seconds 5] [--rounds 3]

Starts 3 nodes (one worker each, auth off) and one nginx per configuration (the shipped
deploy/nginx-cluster.conf with its upstreams cut to N nodes), then runs wrk against:
  direct   one node, no proxy
  proxy-N  nginx over N nodes
with two workloads: keyed reads (GET /api/agents/{id} with X-Mabeam-Key over 3,000
existing agents, consistent hash) and one-shot sealed-bid auctions (POST /api/coordinate,
spread round robin). Rounds interleave the configurations; the median of each is reported.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

from support import ROOT, Children, Client, clean_env, free_port, log, start_node, wait_for

KEYED_LUA = r"""
local n = 0
request = function()
  n = n + 1
  local k = string.format("agent-%05d", (n * 7919) % 3000)
  return wrk.format("GET", "/api/agents/" .. k, {["X-Mabeam-Key"] = k})
end
"""

ONESHOT_LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"protocol":"auction","auction":{"type":"second_price","reserve":10,"bids":[{"agent_id":"a","amount":15},{"agent_id":"b","amount":12},{"agent_id":"c","amount":11}]}}'
wrk.path = "/api/coordinate"
"""


def nginx_conf(ports, listen):
    conf = (ROOT / "deploy" / "nginx-cluster.conf").read_text()
    lines = []
    for line in conf.splitlines():
        m = re.match(r"\s*server 127\.0\.0\.1:(400\d) ", line)
        if m:
            i = int(m.group(1)) - 4001
            if i >= len(ports):
                continue
            line = line.replace(f"127.0.0.1:{4001 + i}", f"127.0.0.1:{ports[i]}")
        lines.append(line)
    conf = "\n".join(lines).replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};")
    return conf.replace("access_log logs/access.log mabeam buffer=64k flush=1s;", "access_log off;")


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> float:
    """User + system CPU of `pids` and their children threads/processes (nginx workers)."""
    total = 0
    wanted = set(pids)
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            f = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(d.name), int(f[1])
        if pid in wanted or ppid in wanted:
            total += int(f[11]) + int(f[12])
    return total / TICK


def wrk(port, script, seconds, conns):
    r = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "-s", str(script),
                        f"http://127.0.0.1:{port}"], capture_output=True, text=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", r.stdout).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    return rps, int(non2xx.group(1)) if non2xx else 0


def latency_us(port, script, seconds):
    """Mean latency of one connection issuing requests back to back, microseconds."""
    r = subprocess.run(["wrk", "-t1", "-c1", f"-d{seconds}s", "-s", str(script),
                        f"http://127.0.0.1:{port}"], capture_output=True, text=True)
    v, unit = re.search(r"Latency\s+([\d.]+)(us|ms|s)", r.stdout).groups()
    return float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("MABEAM_BIN", str(ROOT / "target/release/mabeam")))
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=32)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mabeam-bench-"))
    os.chmod(tmp, 0o755)
    children = Children(tmp / "pids")
    try:
        env = clean_env({"MABEAM_SECURITY__AUTH_ENABLED": "false", "MABEAM_SECURITY__AUDIT_ENABLED": "false",
                         "MABEAM_ENGINE__WORKERS": "1", "MABEAM_ENGINE__CLEARING_THREADS": "1",
                         "MABEAM_ENGINE__PIN_WORKERS": "false", "RUST_LOG": "warn"})
        ports, node_pids = [], []
        for i in range(3):
            p, port = start_node(children, a.bin, ["serve", "--profile", ROOT / "deploy/profile.toml",
                                                   "--listen", "127.0.0.1:0", "--node-id", f"mabeam-{i}"],
                                 env, tmp, f"mabeam-{i}")
            ports.append(port)
            node_pids.append(p.pid)
        proxies = {}
        pids_of = {"direct": node_pids[:1]}
        for n in (1, 2, 3):
            d = tmp / f"nginx-{n}"
            (d / "logs").mkdir(parents=True)
            (d / "tmp").mkdir()
            listen = free_port()
            (d / "nginx.conf").write_text(nginx_conf(ports[:n], listen))
            ng = children.spawn(["nginx", "-p", d, "-c", d / "nginx.conf", "-e", d / "logs/error.log",
                            "-g", "daemon off;"], name=f"nginx-{n}")
            c = Client(listen)
            wait_for(f"nginx-{n}", lambda: c.request("GET", "/health").status == 200, 10)
            proxies[f"proxy-{n}"] = listen
            pids_of[f"proxy-{n}"] = node_pids[:n] + [ng.pid]
        # 3,000 agents, each on its owner (created through the 3-node proxy).
        c = Client(proxies["proxy-3"])
        for k in range(3000):
            key = f"agent-{k:05d}"
            r = c.request("POST", "/api/agents", {"id": key, "kind": "worker"}, key=key)
            assert r.status == 201, r
        # Direct and 1- and 2-node proxies need the agents their ring sends them: for the
        # keyed workload, 404s are fine too (a lookup either way) but count them apart.
        configs = {"direct": ports[0], **proxies}
        scripts = {}
        for name, lua in (("keyed", KEYED_LUA), ("oneshot", ONESHOT_LUA)):
            scripts[name] = tmp / f"{name}.lua"
            scripts[name].write_text(lua)
        results = {(w, c): [] for w in scripts for c in configs}
        lat = {c: [] for c in ("direct", "proxy-1")}
        cpu = {k: [] for k in results}
        for rnd in range(a.rounds):
            for cname in lat:
                lat[cname].append(latency_us(configs[cname], scripts["keyed"], a.seconds))
                log(f"round {rnd + 1} latency  {cname:8s} {lat[cname][-1]:10.1f} us (1 connection)")
            for w in scripts:
                for cname, port in configs.items():
                    c0 = cpu_seconds(pids_of[cname])
                    rps, bad = wrk(port, scripts[w], a.seconds, a.conns)
                    cpu_us = (cpu_seconds(pids_of[cname]) - c0) * 1e6 / max(rps * a.seconds, 1)
                    results[(w, cname)].append((rps, bad))
                    cpu[(w, cname)].append(cpu_us)
                    log(f"round {rnd + 1} {w:8s} {cname:8s} {rps:10.0f} req/s  {cpu_us:6.1f} CPU-us/req  non-2xx {bad}")
        log("")
        d, p = statistics.median(lat["direct"]), statistics.median(lat["proxy-1"])
        log(f"  latency, 1 connection, keyed reads: proxy-1 / direct = {p / d:.2f}")
        for w in scripts:
            base = statistics.median(r for r, _ in results[(w, "direct")])
            p1 = statistics.median(r for r, _ in results[(w, "proxy-1")])
            line = [f"{w}: direct = 1.00"]
            for cname in configs:
                if cname == "direct":
                    continue
                m = statistics.median(r for r, _ in results[(w, cname)])
                line.append(f"{cname} = {m / base:.2f} (vs proxy-1 {m / p1:.2f})")
            log("  " + ", ".join(line))
            cb = statistics.median(cpu[(w, "direct")])
            log(f"  {w} CPU per request (server + proxy processes), direct = 1.00: " + ", ".join(
                f"{c} = {statistics.median(cpu[(w, c)]) / cb:.2f}" for c in configs if c != "direct"))
    finally:
        children.stop_all()


if __name__ == "__main__":
    main()
