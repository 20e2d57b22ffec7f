#!/usr/bin/env python3
"""scripts/deploy-test: the deployment kit against the real binary and a real Prometheus.

1. Static: every YAML/JSON file parses; generated files are current; promtool accepts the
   recording rules (and their unit tests) and the Prometheus configs, which load them; the
   profile and every MABEAM_* variable the kit sets are accepted by `mabeam check-profile`;
   the Dockerfile, compose file and manifests agree with each other (command line, port,
   probes, profile path, grace period, resources, selectors).
2. Live: `mabeam serve` started with the Dockerfile's command line (profile path and
   address rewritten) and the compose file's environment; Debian's Prometheus scraping it
   with the shipped prometheus.yml (target rewritten, interval shortened); traffic of every
   kind; then every expression of every panel of our Grafana dashboard and of the
   deployment guide's (answered by prometheus-rules.yml) must return a finite value.
3. mabeam-load with PROMETHEUS_ENDPOINT reads the node's series through that Prometheus.
4. The server drains on SIGTERM and exits 0.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from support import (
    ROOT, CheckFailed, Children, Client, bearer_token, check, clean_env, free_port, log,
    run_main, shutdown_line, start_node, tail, wait_for,
)

DASHBOARD = ROOT / "grafana" / "dashboards" / "mabeam.json"
# The deployment guide's Grafana JSON as printed; prometheus-rules.yml records its series.
GUIDE_DASHBOARD = ROOT / "deploy" / "guide-dashboard.json"
RULES = ROOT / "prometheus-rules.yml"
PROFILE = ROOT / "deploy" / "profile.toml"
SAMPLE_TOKENS = '[{token_sha256 = "' + "0" * 64 + '", role = "operator"}]'


# ---------------------------------------------------------------- static checks


def yaml_docs(path: Path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def parse_all():
    files = [ROOT / "docker-compose.yml", ROOT / "prometheus.yml"]
    files += sorted((ROOT / "grafana").rglob("*.yml"))
    files += sorted((ROOT / "k8s").rglob("*.yaml")) + sorted((ROOT / "k8s").rglob("*.yml"))
    for f in files:
        try:
            docs = yaml_docs(f)
        except yaml.YAMLError as e:
            raise CheckFailed(f"{f.relative_to(ROOT)} is not valid YAML: {e}")
        check(docs, f"{f.relative_to(ROOT)} is empty")
    for f in sorted((ROOT / "grafana").rglob("*.json")):
        try:
            json.loads(f.read_text())
        except ValueError as e:
            raise CheckFailed(f"{f.relative_to(ROOT)} is not valid JSON: {e}")
    log(f"ok   {len(files)} YAML files and the dashboard JSON parse")


def generated_are_current():
    for script in ("render-configmaps", "render-dashboard"):
        r = subprocess.run([str(ROOT / "deploy" / script), "--check"], capture_output=True, text=True)
        check(r.returncode == 0, f"deploy/{script} --check: {r.stderr.strip()}")
    log("ok   k8s ConfigMaps and the dashboard match deploy/profile.toml and deploy/render-dashboard")


def promtool(tmp: Path):
    r = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    check(r.returncode == 0, f"promtool check rules prometheus-rules.yml: {r.stdout}{r.stderr}")
    tests = ROOT / "deploy" / "test" / "prometheus-rules.test.yml"
    r = subprocess.run(["promtool", "test", "rules", str(tests)], capture_output=True, text=True)
    check(r.returncode == 0, f"promtool test rules {tests.relative_to(ROOT)}: {r.stdout}{r.stderr}")
    r = subprocess.run(["promtool", "check", "config", str(ROOT / "prometheus.yml")], capture_output=True, text=True)
    check(r.returncode == 0, f"promtool check config prometheus.yml: {r.stdout}{r.stderr}")
    check("1 rule files found" in r.stdout, f"prometheus.yml must load prometheus-rules.yml: {r.stdout}")
    cluster = ROOT / "k8s" / "cluster" / "prometheus.yml"
    rules = yaml_docs(cluster)[0].get("rule_files", [])
    check(rules == [RULES.name], f"k8s/cluster/prometheus.yml must load {RULES.name} beside it, has {rules}")
    cm = yaml_docs(ROOT / "k8s" / "cluster" / "prometheus-rules.yaml")[0]
    check(RULES.name in cm["data"], f"k8s/cluster/prometheus-rules.yaml must carry {RULES.name}")
    r = subprocess.run(["promtool", "check", "config", str(cluster)], capture_output=True, text=True)
    note = ""
    if r.returncode != 0 and "kubernetes_sd_configs not found" in r.stdout + r.stderr:
        # Debian builds Prometheus without Kubernetes discovery: check the rest of the job
        # (relabelling, intervals) with the discovery swapped for a static target.
        cfg = yaml_docs(cluster)[0]
        for job in cfg["scrape_configs"]:
            if job.pop("kubernetes_sd_configs", None) is not None:
                job["static_configs"] = [{"targets": ["mabeam-0.mabeam-headless:4000"]}]
        swapped = tmp / "cluster-prometheus.yml"
        swapped.write_text(yaml.safe_dump(cfg))
        (tmp / RULES.name).write_text(cm["data"][RULES.name])
        r = subprocess.run(["promtool", "check", "config", str(swapped)], capture_output=True, text=True)
        note = " (this promtool lacks Kubernetes discovery: checked with a static target in its place)"
    check(r.returncode == 0, f"promtool check config k8s/cluster/prometheus.yml: {r.stdout}{r.stderr}")
    log("ok   promtool check rules and test rules: prometheus-rules.yml; promtool check config: prometheus.yml, "
        "k8s/cluster/prometheus.yml (both load the rules)" + note)


def check_profile(binary: str, env: dict, what: str):
    r = subprocess.run([binary, "check-profile", str(PROFILE)], env=clean_env(env),
                       capture_output=True, text=True)
    check(r.returncode == 0, f"mabeam check-profile deploy/profile.toml with {what}: {r.stderr or r.stdout}")
    for k in env:
        if k.startswith("MABEAM_"):
            check(f"env {k}" in r.stdout or k in ("MABEAM_MAX_AGENTS", "MABEAM_COORDINATION_TIMEOUT",
                                                   "MABEAM_TELEMETRY_RETENTION"),
                  f"{what}: {k} is not shown as taken from the environment by check-profile")
    return r.stdout


def cpu_units(q: str) -> float:
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def k8s_env(container: dict) -> dict:
    """The container's env as the kubelet would set it, with sample values for references."""
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        ref = e["valueFrom"]
        if "fieldRef" in ref:
            check(ref["fieldRef"]["fieldPath"] == "metadata.name", f"{e['name']}: unexpected fieldRef")
            env[e["name"]] = "mabeam-0"
        elif "resourceFieldRef" in ref:
            r = ref["resourceFieldRef"]
            check(r["resource"] == "limits.cpu" and str(r.get("divisor", "1")) == "1",
                  f"{e['name']}: only limits.cpu with divisor 1 is expected")
            env[e["name"]] = str(math.ceil(cpu_units(container["resources"]["limits"]["cpu"])))
        elif "secretKeyRef" in ref:
            env[e["name"]] = SAMPLE_TOKENS
        else:
            raise CheckFailed(f"{e['name']}: unknown valueFrom {ref}")
    return env


def dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD\s+(\[.*\])\s*$", text, re.M)
    entry = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", text, re.M)
    check(cmd and entry, "Dockerfile: ENTRYPOINT and CMD must be JSON arrays")
    check(re.search(r"^EXPOSE\s+4000\s*$", text, re.M), "Dockerfile: EXPOSE 4000 missing")
    check(re.search(r"^USER\s+(?!0\b|root\b)\S+", text, re.M), "Dockerfile: no non-root USER")
    check(re.search(r"^HEALTHCHECK .*\n?.*http://127\.0\.0\.1:4000/health", text, re.M),
          "Dockerfile: HEALTHCHECK must probe /health on port 4000")
    check("COPY deploy/profile.toml /etc/mabeam/profile.toml" in text,
          "Dockerfile: the profile must be installed at /etc/mabeam/profile.toml")
    rust = re.search(r"^ARG RUST_VERSION=([\d.]+)", text, re.M)
    check(rust, "Dockerfile: ARG RUST_VERSION missing")
    return json.loads(entry.group(1)), json.loads(cmd.group(1)), rust.group(1)


def version_tuple(v: str):
    parts = [int(x) for x in v.split(".")][:3]
    return tuple(parts + [0] * (3 - len(parts)))


def rust_version_covers_lock(docker_rust: str):
    """The image's toolchain must build every locked dependency (their rust-version)."""
    out = None
    for offline in (["--offline"], []):
        r = subprocess.run(["cargo", "metadata", "--format-version", "1", "--locked", *offline],
                           cwd=ROOT, capture_output=True, text=True)
        if r.returncode == 0:
            out = json.loads(r.stdout)
            break
    check(out is not None, f"cargo metadata failed: {r.stderr.strip()[-500:]}")
    need = max(((version_tuple(p["rust_version"]), p["name"]) for p in out["packages"]
                if p.get("rust_version")), default=((0,), ""))
    have = version_tuple(docker_rust)
    check(have >= need[0], f"Dockerfile RUST_VERSION={docker_rust} is older than {need[1]}'s "
          f"rust-version {'.'.join(map(str, need[0]))}")
    log(f"ok   Dockerfile Rust {docker_rust} >= every locked rust-version (highest: {need[1]} "
        f"{'.'.join(map(str, need[0]))})")


def prestop_seconds(cmd: list) -> int:
    """Longest time a preStop command can take: `sleep N` plus a `SESSIONS_WAIT=N` loop."""
    if cmd[0] == "sleep":
        return int(cmd[1])
    script = cmd[-1]
    sleep = re.match(r"\s*sleep (\d+)", script)
    wait = re.search(r"SESSIONS_WAIT=(\d+)", script)
    check(sleep is not None, f"preStop script must start with `sleep N`: {script}")
    return int(sleep.group(1)) + (int(wait.group(1)) + 1 if wait else 0)


def manifests(cmd: list, binary: str):
    prestops = []
    profile_text = PROFILE.read_text()
    grace_ms = int(re.search(r"^graceful_shutdown_timeout = (\d+)", profile_text, re.M).group(1))
    drain = re.search(r"^drain_grace_ms = (\d+)", profile_text, re.M)
    grace_ms += int(drain.group(1)) if drain else 5000  # server.drain_grace_ms, default 5 s
    for path, kind in (("k8s/deployment.yaml", "Deployment"), ("k8s/cluster/statefulset.yaml", "StatefulSet")):
        docs = yaml_docs(ROOT / path)
        wl = next(d for d in docs if d["kind"] == kind)
        spec = wl["spec"]["template"]["spec"]
        labels = wl["spec"]["template"]["metadata"]["labels"]
        check(wl["spec"]["selector"]["matchLabels"].items() <= labels.items(), f"{path}: selector does not match the pod labels")
        c = spec["containers"][0]
        check(c["args"] == cmd, f"{path}: args {c['args']} differ from the Dockerfile CMD {cmd}")
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        check(ports.get("http") == 4000, f"{path}: container port http must be 4000")
        check(c["livenessProbe"]["httpGet"]["path"] == "/health", f"{path}: liveness must probe /health")
        check(c["readinessProbe"]["httpGet"]["path"] == "/ready", f"{path}: readiness must probe /ready")
        probe_port = ports.get("probes")
        for probe in ("livenessProbe", "readinessProbe"):
            check(c[probe]["httpGet"]["port"] == "probes", f"{path}: {probe} must use the probe listener (port probes)")
        check(k8s_env(c).get("MABEAM_SERVER__PROBE_LISTEN") == f"0.0.0.0:{probe_port}",
              f"{path}: MABEAM_SERVER__PROBE_LISTEN must listen on the probes port {probe_port}")
        res = c["resources"]
        check(res == {"requests": {"memory": "2Gi", "cpu": "1000m"}, "limits": {"memory": "4Gi", "cpu": "2000m"}},
              f"{path}: resources differ from the deployment guide's: {res}")
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        vols = {v["name"]: v for v in spec["volumes"]}
        check(vols[mounts["/etc/mabeam"]]["configMap"]["name"] == "mabeam-profile", f"{path}: /etc/mabeam must be the profile ConfigMap")
        check("/var/log/mabeam" in mounts, f"{path}: the audit log directory must be writable (volume at /var/log/mabeam)")
        pre = c["lifecycle"]["preStop"]["exec"]["command"]
        pre_s = prestop_seconds(pre)
        check(spec["terminationGracePeriodSeconds"] > pre_s + grace_ms / 1000,
              f"{path}: terminationGracePeriodSeconds must exceed preStop {pre_s}s + drain_grace_ms + graceful_shutdown_timeout ({grace_ms / 1000}s)")
        prestops.append(pre)
        env = k8s_env(c)
        for k in ("MABEAM_MAX_AGENTS", "MABEAM_COORDINATION_TIMEOUT", "MABEAM_SERVER__NODE_ID", "MABEAM_SECURITY__TOKENS"):
            check(k in env, f"{path}: env {k} missing")
        check_profile(binary, env, f"{path}'s environment")
        # Service, PDB, ConfigMap of the same directory select these pods.
        d = Path(path).parent
        others = [x for f in sorted((ROOT / d).glob("*.yaml")) for x in yaml_docs(f) if isinstance(x, dict) and "kind" in x]
        svcs = [x for x in others if x["kind"] == "Service"]
        check(svcs, f"{d}: no Service")
        for s in svcs:
            check(s["spec"]["selector"].items() <= labels.items(), f"{d}: Service {s['metadata']['name']} selects no pod")
            for p in s["spec"]["ports"]:
                check(p["targetPort"] in ("http", 4000), f"{d}: Service {s['metadata']['name']} targets {p['targetPort']}")
        pdbs = [x for x in others if x["kind"] == "PodDisruptionBudget"]
        check(len(pdbs) == 1 and pdbs[0]["spec"]["selector"]["matchLabels"].items() <= labels.items(),
              f"{d}: one PodDisruptionBudget selecting the pods is expected")
        kust = yaml_docs(ROOT / d / "kustomization.yaml")[0]["resources"]
        for f in kust:
            check((ROOT / d / f).exists(), f"{d}/kustomization.yaml lists missing {f}")
        if kind == "StatefulSet":
            headless = [s for s in svcs if s["spec"].get("clusterIP") == "None"]
            check(headless and headless[0]["metadata"]["name"] == wl["spec"]["serviceName"],
                  f"{path}: serviceName must be the headless Service")
            ing = [x for x in others if x["kind"] == "Ingress"]
            keyed = [i for i in ing if i["metadata"]["annotations"].get("nginx.ingress.kubernetes.io/upstream-hash-by") == "$http_x_mabeam_key"]
            check(keyed, f"{d}: an Ingress hashing on $http_x_mabeam_key is expected")
            check(keyed[0]["metadata"]["annotations"].get("nginx.ingress.kubernetes.io/proxy-next-upstream") == "off",
                  f"{d}: keyed requests must not be retried on another pod")
    log("ok   k8s/ and k8s/cluster/: args = Dockerfile CMD, probes, resources, grace > preStop + drain, selectors, env accepted by check-profile")
    return prestops


def run_prestop(cmd: list, port: int, token: str):
    """Runs a shell preStop hook against the live node (port rewritten, first sleep 0,
    session wait 2 s): it must wait while a live auction is open, and end at once when
    none is."""
    if cmd[0] == "sleep":
        return
    script = re.sub(r"^\s*sleep \d+", "sleep 0", cmd[-1]).replace("127.0.0.1:4000", f"127.0.0.1:{port}")
    script = re.sub(r"SESSIONS_WAIT=\d+", "SESSIONS_WAIT=2", script)

    def hook():
        t0 = time.monotonic()
        r = subprocess.run([*cmd[:-1], script], capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, f"the StatefulSet's preStop hook exited {r.returncode}: {r.stderr}")
        return time.monotonic() - t0

    c = Client(port, token)
    r = c.request("POST", "/api/auctions", {"id": "prestop-probe", "type": "first_price"})
    waited = None
    if r.status == 201:
        time.sleep(0.3)  # the gauge is published on the workers' next tick
        waited = hook()
        check(waited >= 1.5, f"with a session open the preStop hook must wait (bounded), it ended after {waited:.2f}s")
        r = c.request("POST", "/api/auctions/prestop-probe/close")
        check(r.status == 200, f"closing the probe auction: {r!r}")
        time.sleep(0.3)
    took = hook()
    check(took < 1.5, f"with no session open the preStop hook must end at once, it took {took:.2f}s")
    log("ok   the StatefulSet's preStop hook against the live node: "
        + (f"waits while a live auction is open ({waited:.1f}s, bound 2 s), " if waited else "")
        + f"ends at once with none open ({took:.2f}s)")


def compose(binary: str, cmd: list):
    doc = yaml_docs(ROOT / "docker-compose.yml")[0]
    svc = doc["services"]
    m = svc["mabeam"]
    check(m["command"][: len(cmd)] == cmd, f"docker-compose.yml: command must start with the Dockerfile CMD {cmd}")
    check("4000:4000" in m["ports"], "docker-compose.yml: port 4000 not published")
    env = {}
    for e in m["environment"]:
        k, _, v = e.partition("=")
        env[k] = v if "=" in e else SAMPLE_TOKENS  # pass-through variables: sample value
    for k in ("MABEAM_MAX_AGENTS", "MABEAM_COORDINATION_TIMEOUT", "MABEAM_TELEMETRY_RETENTION"):
        check(k in env, f"docker-compose.yml: {k} missing")
    check_profile(binary, env, "docker-compose.yml's environment")
    prom = yaml_docs(ROOT / "prometheus.yml")[0]
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "mabeam")
    check(job["static_configs"][0]["targets"] == ["mabeam:4000"], "prometheus.yml: target must be mabeam:4000 (the compose service)")
    prom_mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["prometheus"]["volumes"] if v.startswith("./")}
    check(prom_mounts.get("/etc/prometheus/prometheus.yml") == "./prometheus.yml"
          and prom_mounts.get(f"/etc/prometheus/{RULES.name}") == f"./{RULES.name}",
          f"docker-compose.yml: prometheus must mount prometheus.yml and {RULES.name} in /etc/prometheus")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["grafana"]["volumes"] if v.startswith("./")}
    prov = yaml_docs(ROOT / "grafana/provisioning/dashboards/mabeam.yml")[0]
    dash_dir = prov["providers"][0]["options"]["path"]
    check(dash_dir in mounts and (ROOT / mounts[dash_dir] / "mabeam.json").exists(),
          "grafana: the dashboard provider's path is not the mounted grafana/dashboards")
    check(mounts.get("/etc/grafana/provisioning") == "./grafana/provisioning", "grafana: provisioning not mounted")
    ds = yaml_docs(ROOT / "grafana/provisioning/datasources/prometheus.yml")[0]["datasources"][0]
    check(ds["url"] == "http://prometheus:9090", "grafana datasource must point at the compose prometheus")
    log("ok   docker-compose.yml: command, port, env accepted by check-profile, Prometheus target, Grafana mounts")
    return env


# ---------------------------------------------------------------- dashboard queries


def panel_exprs(path: Path = DASHBOARD):
    d = json.loads(path.read_text())
    d = d.get("dashboard", d)  # the guide's JSON wraps the dashboard (the import API's shape)
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p["title"], t.get("legendFormat", ""), t["expr"]))
            walk(p.get("panels", []))

    walk(d["panels"])
    check(out, f"{path.relative_to(ROOT)} has no expressions")
    return out


def substitute(expr: str) -> str:
    """Grafana's variables as Grafana would expand them for 'All' over the last minute."""
    for pat, val in ((r"\$\{instance(:[a-z]+)?\}", ".*"), (r"\$instance\b", ".*"),
                     (r"\$__rate_interval\b", "1m"), (r"\$__interval\b", "15s"), (r"\$__range\b", "5m")):
        expr = re.sub(pat, val, expr)
    check("$" not in expr, f"unexpanded variable in {expr}")
    return expr


def prom_query(port: int, expr: str):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    check(body["status"] == "success", f"query failed: {expr}: {body}")
    return body["data"]["result"]


def finite(result) -> list:
    vals = []
    for s in result:
        try:
            v = float(s["value"][1])
        except (KeyError, ValueError):
            continue
        if math.isfinite(v):
            vals.append(v)
    return vals


# ---------------------------------------------------------------- traffic


class Traffic(threading.Thread):
    """Keeps every route family busy until stopped: agents through their lifecycle,
    one-shot coordinations of every protocol, batches, and the stateful routes the server
    has (live auctions, markets, variables)."""

    def __init__(self, port: int, token: str):
        super().__init__(daemon=True)
        self.c = Client(port, token)
        self.stop_flag = threading.Event()
        self.errors: list[str] = []
        self.counts: dict[str, int] = {}
        self.live: dict[str, bool] = {}

    def req(self, name, method, path, body=None, ok=(200, 201, 202, 204), key=None):
        r = self.c.request(method, path, body, key=key)
        self.counts[name] = self.counts.get(name, 0) + 1
        if r.status not in ok and len(self.errors) < 20:
            self.errors.append(f"{name}: {method} {path} -> {r.status} {r.body[:300]!r}")
        return r

    def run(self):
        i = 0
        one_shots = [
            {"protocol": "auction", "auction": {"type": "second_price", "reserve": 10, "bids": [
                {"agent_id": "a", "amount": 15}, {"agent_id": "b", "amount": 12}]}},
            {"protocol": "auction", "auction": {"type": "first_price", "bids": [
                {"agent_id": "a", "amount": 5.5}, {"agent_id": "b", "amount": 7.25}]}},
            {"protocol": "auction", "auction": {"type": "english", "start": 1, "increment": 1, "bids": [
                {"agent_id": "a", "amount": 20}, {"agent_id": "b", "amount": 14}]}},
            {"protocol": "auction", "auction": {"type": "dutch", "start": 100, "decrement": 5, "reserve": 10, "bids": [
                {"agent_id": "a", "amount": 42}, {"agent_id": "b", "amount": 61}]}},
            {"protocol": "auction", "auction": {"type": "combinatorial", "items": {"cpu": 2, "gpu": 1}, "bids": [
                {"agent_id": "a", "bundle": {"cpu": 1, "gpu": 1}, "amount": 10},
                {"agent_id": "b", "bundle": {"cpu": 2}, "amount": 7}]}},
            {"protocol": "market", "market": {"orders": [
                {"agent_id": "s1", "side": "sell", "quantity": 10, "limit": 5},
                {"agent_id": "b1", "side": "buy", "quantity": 6, "limit": 8}]}},
            {"protocol": "consensus", "consensus": {"rule": "majority", "votes": [
                {"agent_id": "a", "choice": "x"}, {"agent_id": "b", "choice": "x"}, {"agent_id": "c", "choice": "y"}]}},
            {"protocol": "allocation", "allocation": {"strategy": "proportional", "available": 10, "requests": [
                {"agent_id": "a", "quantity": 8}, {"agent_id": "b", "quantity": 4}]}},
        ]
        try:
            while not self.stop_flag.is_set():
                aid = f"dt-{i}"
                self.req("agent create", "POST", "/api/agents", {"id": aid, "kind": "worker"}, key=aid)
                self.req("agent start", "POST", f"/api/agents/{aid}/start", key=aid)
                self.req("agent get", "GET", f"/api/agents/{aid}", key=aid)
                if i % 3 == 0:
                    self.req("agent stop", "POST", f"/api/agents/{aid}/stop", key=aid)
                if i % 5 == 0:
                    self.req("agent delete", "DELETE", f"/api/agents/{aid}", key=aid)
                for body in one_shots:
                    self.req("coordinate", "POST", "/api/coordinate", body)
                if i % 4 == 0:
                    self.req("batch", "POST", "/api/coordinate/batch", {"requests": one_shots})
                    self.req("list", "GET", "/api/agents?state=running")
                    self.req("summary", "GET", "/api/metrics/coordination?protocol=auction&window=1m")
                    self.req("invalid", "POST", "/api/coordinate", {"protocol": "auction"}, ok=(400,))
                self.live_routes(i)
                i += 1
                time.sleep(0.02)
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.errors.append(f"traffic stopped: {e!r}")

    def live_routes(self, i):
        """Live auctions, markets and variables, when the server has the routes."""
        key = f"auc-{i}"
        if self.live.get("auctions", True):
            r = self.req("auction create", "POST", "/api/auctions",
                         {"id": key, "type": "second_price", "reserve": 1}, ok=(201, 404, 405), key=key)
            self.live["auctions"] = r.status == 201
            if r.status == 201:
                aid = r.json().get("id", key)
                for n, amt in enumerate((5, 9, 7)):
                    self.req("auction bid", "POST", f"/api/auctions/{aid}/bids",
                             {"agent_id": f"b{n}", "amount": amt}, key=aid)
                self.req("auction close", "POST", f"/api/auctions/{aid}/close", key=aid)
        key = f"mkt-{i}"
        if self.live.get("markets", True):
            r = self.req("market create", "POST", "/api/markets", {"id": key, "kind": "call"},
                         ok=(201, 404, 405), key=key)
            self.live["markets"] = r.status == 201
            if r.status == 201:
                mid = r.json().get("id", key)
                self.req("market order", "POST", f"/api/markets/{mid}/orders",
                         {"agent_id": "s", "side": "sell", "quantity": 5, "limit": 3}, key=mid)
                self.req("market order", "POST", f"/api/markets/{mid}/orders",
                         {"agent_id": "b", "side": "buy", "quantity": 4, "limit": 6}, key=mid)
                self.req("market clear", "POST", f"/api/markets/{mid}/clear", key=mid)
        key = f"var-{i}"
        if self.live.get("variables", True):
            r = self.req("variable create", "POST", "/api/variables", {"name": key, "value": 1},
                         ok=(201, 404, 405), key=key)
            self.live["variables"] = r.status == 201
            if r.status == 201:
                self.req("variable put", "PUT", f"/api/variables/{key}",
                         {"value": 2, "agent_id": "a", "version": 1}, key=key)


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--load-bin", required=True)
    ap.add_argument("--tmp", required=True)
    a = ap.parse_args()
    tmp = Path(a.tmp)
    children = Children(tmp / "pids")
    try:
        run(a.bin, a.load_bin, tmp, children)
    finally:
        children.stop_all()


def load_through_prometheus(load_bin: str, port: int, prom_port: int, tmp: Path):
    """`mabeam-load` with PROMETHEUS_ENDPOINT reads the node's series from Prometheus."""
    report = tmp / "load-prometheus.json"
    env = clean_env({"PROMETHEUS_ENDPOINT": f"http://127.0.0.1:{prom_port}"})
    env.pop("RUST_LOG", None)
    r = subprocess.run([load_bin, "-d", "3s", "-R", "50", "-c", "2", "-t", "1", "--json", str(report),
                        f"http://127.0.0.1:{port}/health"], env=env, capture_output=True, text=True, timeout=60)
    check(report.exists(), f"mabeam-load wrote no report (exit {r.returncode}): {r.stderr[-500:]}")
    v = json.loads(report.read_text())
    m = v["target_memory"]
    source = m.get("metrics_source") or ""
    check(source.startswith(f"prometheus http://127.0.0.1:{prom_port}"),
          f"mabeam-load must read through Prometheus with PROMETHEUS_ENDPOINT set, read from {source!r}")
    failed = [n for n in v["notes"] if "scrape failed" in n]
    check(not failed, f"mabeam-load could not read the node's series from Prometheus: {failed}")
    after = m.get("metrics_after") or {}
    check((after.get("process_rss_bytes") or 0) > 0 and after.get("reclaim_backlog") is not None,
          f"mabeam-load read no node series through Prometheus: {m}")
    log(f"ok   mabeam-load with PROMETHEUS_ENDPOINT read the node's series from Prometheus "
        f"(RSS {after['process_rss_bytes'] / 2**20:.1f} MiB; {source})")


def run(binary: str, load_bin: str, tmp: Path, children: Children):
    parse_all()
    generated_are_current()
    promtool(tmp)
    check_profile(binary, {}, "no environment")
    entry, cmd, rust = dockerfile()
    rust_version_covers_lock(rust)
    prestops = manifests(cmd, binary)
    compose_env = compose(binary, cmd)

    # 1) the server, as the image runs it.
    token, tokens = bearer_token()
    args = [{"/etc/mabeam/profile.toml": str(PROFILE), "0.0.0.0:4000": "127.0.0.1:0"}.get(x, x) for x in cmd]
    check(str(PROFILE) in args and "127.0.0.1:0" in args, f"could not rewrite the Dockerfile CMD {cmd}")
    env = dict(compose_env)
    env.update({
        "MABEAM_SECURITY__TOKENS": tokens,
        "MABEAM_SECURITY__AUDIT_PATH": tmp / "audit.log",
        # Sweeps every 0.5 s so the GC panels have data within the test.
        "MABEAM_PERFORMANCE__GC_FREQUENCY": "500",
        "MABEAM_ENGINE__WORKERS": "2",
        "MABEAM_ENGINE__PIN_WORKERS": "false",
    })
    log(f"run  {Path(binary).name} {shlex.join(args + ['--node-id', 'deploy-test'])}")
    node, port = start_node(children, binary, args + ["--node-id", "deploy-test"], clean_env(env), tmp, "mabeam")
    anon = Client(port)
    r = anon.request("GET", "/api/agents")
    check(r.status == 401, f"/api/agents without a token must be 401, got {r!r}")
    r = anon.request("GET", "/metrics")
    ctype = r.headers.get("content-type", "")
    check(r.status == 200 and ctype.startswith("text/plain") and "version=0.0.4" in ctype,
          f"/metrics must be public with the Prometheus text Content-Type, got {r.status} {ctype}")
    check(r.node == "deploy-test", f"X-Mabeam-Node must name the node, got {r.node}")
    log(f"ok   serving on 127.0.0.1:{port}; /api needs a token (401), /metrics is public ({ctype})")

    for pre in prestops:
        run_prestop(pre, port, token)

    # 2) Prometheus with the shipped configuration, rewritten for this machine.
    prom_port = free_port()
    cfg = yaml_docs(ROOT / "prometheus.yml")[0]
    cfg["global"]["scrape_interval"] = "1s"
    cfg["global"]["evaluation_interval"] = "1s"
    for job in cfg["scrape_configs"]:
        job["scrape_interval"] = "1s"
        job["scrape_timeout"] = "1s"
        target = f"127.0.0.1:{port}" if job["job_name"] == "mabeam" else f"127.0.0.1:{prom_port}"
        for sc in job["static_configs"]:
            sc["targets"] = [target]
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    (tmp / RULES.name).write_text(RULES.read_text())
    prom = children.spawn(["/usr/bin/prometheus", f"--config.file={tmp / 'prometheus.yml'}",
                           f"--storage.tsdb.path={tmp / 'prom-data'}", f"--web.listen-address=127.0.0.1:{prom_port}",
                           "--log.level=warn"], stdout=tmp / "prometheus.log", name="prometheus")

    def scraped():
        if prom.poll() is not None:
            raise CheckFailed(f"prometheus exited: {tail(tmp / 'prometheus.log')}")
        return [s for s in prom_query(prom_port, 'up{job="mabeam"} == 1')]

    wait_for("Prometheus to scrape mabeam (up == 1)", scraped, 40, every=0.5)
    log(f"ok   Prometheus {prom_port} scrapes the node (up == 1)")

    # 3) traffic, then every panel's expressions.
    traffic = Traffic(port, token)
    traffic.start()
    exprs = panel_exprs() + [(f"guide: {t}", legend, e) for t, legend, e in panel_exprs(GUIDE_DASHBOARD)]
    deadline = time.monotonic() + 60
    missing = exprs
    results = {}
    time.sleep(3)
    while True:
        check(not traffic.errors, "traffic errors:\n  " + "\n  ".join(traffic.errors))
        missing = []
        for title, legend, expr in exprs:
            vals = finite(prom_query(prom_port, substitute(expr)))
            results[(title, legend)] = vals
            if not vals:
                missing.append((title, legend, expr))
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(2)
    traffic.stop_flag.set()
    traffic.join(10)
    live = ", ".join(k for k, v in traffic.live.items() if v) or "none"
    log(f"     traffic: {sum(traffic.counts.values())} requests; live routes used: {live}")
    if missing:
        raise CheckFailed("panels without data after 60 s:\n  " + "\n  ".join(
            f"{t} [{l}]: {e}" for t, l, e in missing))
    panels = sorted({t for t, _, _ in exprs})
    log(f"ok   all {len(exprs)} expressions of {len(panels)} panels (ours and the deployment guide's, "
        "through prometheus-rules.yml) return finite data")
    for (title, legend), vals in results.items():
        log(f"       {title} [{legend}]: {', '.join(f'{v:.4g}' for v in vals[:4])}{' ...' if len(vals) > 4 else ''}")

    load_through_prometheus(load_bin, port, prom_port, tmp)

    # 4) drain on SIGTERM.
    code = children.stop(node)
    line = shutdown_line(tmp / "mabeam.out")
    check(code == 0, f"mabeam exited {code} after SIGTERM: {tail(tmp / 'mabeam.err')}")
    check(line.get("signal") == "SIGTERM" and line.get("clean") == "true",
          f"shutdown line: {line or tail(tmp / 'mabeam.out')}")
    audit = tmp / "audit.log"
    check(audit.exists() and audit.stat().st_size > 0, "the audit log (security.audit_path) is empty")
    log(f"ok   SIGTERM: exit 0, {line}; audit log written")


if __name__ == "__main__":
    run_main(main)
