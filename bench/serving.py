"""Serving: gunicorn (2 sync workers) on a warm feed, its 304, a ceiling route, and nginx.

The four loads run interleaved, A B C D A B C D …, because the machine is shared and
noisy: the ratios are taken within each round, then their median over the rounds.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from contextlib import ExitStack, contextmanager
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from calfeed.core import rules, tokens

from . import wrk
from .app import CEILING_PATH
from .common import (BASE_URL, ROOT, RULES, SECRET, TODAY, calfeed_env, children, fetch, free_port,
                     gunicorn_command, listener, log, ratio, server, summary, wait_until_up)

ENDPOINTS = ("warm", "not_modified", "ceiling", "nginx")
LABELS = {"warm": "(a) warm feed, 200", "not_modified": "(b) same feed, If-None-Match → 304",
          "ceiling": "(c) ceiling: constant bytes, same app", "nginx": "(d) nginx, static build"}
# The demo provider with the largest feed: the most bytes per answer.
PROVIDER = "demo-12-month"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
BUILD_MODULE = ROOT / "calfeed" / "build" / "site.py"
CALFEED_CLI = [sys.executable, "-c", "import sys; sys.argv[0] = 'calfeed'; "
               "from calfeed.cli import main; main()"]


def feed_path() -> str:
    """The private feed path of the benchmark's provider, from calfeed's own tokens."""
    loaded = rules.load(RULES)
    profile = loaded.providers[PROVIDER]
    return f"/p/{tokens.token(SECRET.encode(), profile.id, profile.rotation)}.ics"


def nginx_missing() -> str | None:
    """Why the nginx load cannot run here, or None."""
    if not NGINX_CONF.exists():
        return f"{NGINX_CONF.relative_to(ROOT)} does not exist yet"
    if not BUILD_MODULE.exists():
        return "calfeed build does not exist yet"
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        return "nginx is not installed (apt-get install nginx)"
    return None


def nginx_config(server_block: str, site: Path, port: int, workdir: Path) -> str:
    """A whole nginx.conf around deploy/nginx.conf's server block, on loopback, over site."""
    block, listens = re.subn(r"^(\s*)listen\s+[^;]+;", rf"\g<1>listen 127.0.0.1:{port};",
                             server_block, flags=re.M)
    block, roots = re.subn(r"^(\s*)root\s+[^;]+;", lambda m: f"{m.group(1)}root {site};",
                           block, flags=re.M)
    if listens < 1 or roots != 1:
        raise ValueError(f"{NGINX_CONF}: expected listen and one root directive "
                         f"(found {listens} listen, {roots} root)")
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = workdir / "nginx-temp"
    temp.mkdir(exist_ok=True)
    return (
        f"{user}daemon off;\nworker_processes 2;\npid {workdir}/nginx.pid;\n"
        f"error_log {workdir}/nginx-error.log warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n"
        + "".join(f"  {kind}_temp_path {temp}/{kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + block + "\n}\n")


def build_site(site: Path, workdir: Path) -> None:
    """`calfeed build` of the demo data, with the same pinned inputs as the server."""
    done = subprocess.run(CALFEED_CLI + ["build", str(site), "--base-url", BASE_URL,
                                         "--today", TODAY, "--workers", "1"],
                          env=calfeed_env(), capture_output=True, text=True, timeout=600,
                          cwd=workdir, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"calfeed build failed: {done.stderr or done.stdout}")


@contextmanager
def nginx(site: Path, workdir: Path) -> Iterator[str]:
    """Debian's nginx with deploy/nginx.conf over a built site; yields its base URL."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    for _ in range(5):  # a port taken between choosing and binding: choose again
        port = free_port()
        conf = workdir / "nginx.conf"
        conf.write_text(nginx_config(NGINX_CONF.read_text(), site, port, workdir))
        logfile = workdir / "nginx.log"
        with server([binary, "-e", str(workdir / "nginx-error.log"), "-p", str(workdir),
                     "-c", str(conf)], logfile, stop=signal.SIGQUIT) as process:
            try:
                wait_until_up(f"http://127.0.0.1:{port}/", process, workdir / "nginx-error.log", 20)
            except RuntimeError:
                if process.poll() is not None and "Address already in use" in \
                        (workdir / "nginx-error.log").read_text(errors="replace"):
                    continue
                raise
            yield f"http://127.0.0.1:{port}"
            return
    raise RuntimeError("nginx found no free port")


def run(workdir: Path, rounds: int, seconds: float) -> dict[str, Any]:
    """The four loads, interleaved for `rounds` rounds of `seconds` each."""
    if wrk.available() is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    path = feed_path()
    notes: list[str] = []
    with ExitStack() as stack:
        sock = listener()
        port = sock.getsockname()[1]
        env = calfeed_env(BENCH_FEED_PATH=path)
        logfile = workdir / "gunicorn-serving.log"
        process = stack.enter_context(server(gunicorn_command(sock, 2), logfile, env=env,
                                             pass_fds=[sock.fileno()], cwd=workdir))
        sock.close()  # gunicorn holds its own copy
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/healthz", process, logfile)
        status, headers, body = fetch(base + path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        etag = headers["ETag"]
        if fetch(base + path, {"If-None-Match": etag})[0] != 304:
            raise RuntimeError(f"GET {path} with If-None-Match {etag} did not answer 304")
        ceiling = fetch(base + CEILING_PATH)[2]
        if ceiling != body:
            raise RuntimeError("the ceiling route does not answer the feed's bytes")
        targets: dict[str, tuple[str, dict[str, str]]] = {
            "warm": (base + path, {}),
            "not_modified": (base + path, {"If-None-Match": etag}),
            "ceiling": (base + CEILING_PATH, {}),
        }
        why_not = nginx_missing()
        same_bytes = None
        if why_not is None:
            site = workdir / "serving-site"
            log("serving: calfeed build of the demo data for nginx")
            build_site(site, workdir)
            nginx_base = stack.enter_context(nginx(site, workdir))
            nginx_status, _, nginx_body = fetch(nginx_base + path)
            same_bytes = nginx_status == 200 and nginx_body == body
            if not same_bytes:
                notes.append(f"nginx answered {nginx_status} with {len(nginx_body)} bytes for the "
                             f"feed; gunicorn answered {len(body)}: the static build differs")
            targets["nginx"] = (nginx_base + path, {})
        else:
            notes.append(f"nginx load skipped: {why_not}")
        log("serving: warm-up")
        for url, extra in targets.values():
            wrk.run(url, 1, extra)
        workers = children(process.pid)
        loads: dict[str, list[wrk.Load]] = {name: [] for name in targets}
        cpu: dict[str, list[float]] = {name: [] for name in targets if name != "nginx"}
        for number in range(rounds):
            log(f"serving: round {number + 1}/{rounds} ({len(targets)} loads of {seconds:g} s)")
            for name, (url, extra) in targets.items():
                before = _cpu_seconds(workers)
                load = wrk.run(url, seconds, extra)
                loads[name].append(load)
                if name in cpu:
                    cpu[name].append(ratio(_cpu_seconds(workers) - before, load.requests) * 1e6)
    out = _figures(loads, len(body), same_bytes, notes, rounds, seconds)
    # The workers' own CPU per request: what each answer costs, whatever else runs here.
    for name, values in cpu.items():
        out["loads"][name]["worker_cpu_us_per_request"] = summary(values)
    out["ratio_warm_to_ceiling_cpu"] = summary(
        [ratio(c, w) for c, w in zip(cpu["ceiling"], cpu["warm"])])["median"]
    out["ratio_304_to_warm_cpu"] = summary(
        [ratio(w, n) for w, n in zip(cpu["warm"], cpu["not_modified"])])["median"]
    return out


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of processes, from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def _figures(loads: dict[str, list[wrk.Load]], size: int, same_bytes: bool | None,
             notes: list[str], rounds: int, seconds: float) -> dict[str, Any]:
    """Per-load medians and the per-round ratios a/c, b/a, a/d."""
    def per_round(a: str, b: str) -> list[float]:
        if a not in loads or b not in loads:
            return []
        return [ratio(x.requests_per_s, y.requests_per_s) for x, y in zip(loads[a], loads[b])]

    ratios = {"warm_to_ceiling": per_round("warm", "ceiling"),
              "304_to_warm": per_round("not_modified", "warm"),
              "warm_to_nginx": per_round("warm", "nginx")}
    out: dict[str, Any] = {
        "feed_bytes": size, "rounds": rounds, "seconds_per_load": seconds,
        "wrk": "-t2 -c16 --latency", "gunicorn_workers": 2,
        "nginx_same_bytes": same_bytes, "notes": notes,
        "loads": {name: {
            "label": LABELS[name],
            "requests_per_s": summary([x.requests_per_s for x in runs]),
            "p50_ms": summary([x.p50_ms for x in runs]),
            "p99_ms": summary([x.p99_ms for x in runs]),
            "errors": sum(x.errors for x in runs),
            "requests": sum(x.requests for x in runs),
            "runs": [x.as_dict() for x in runs],
        } for name, runs in loads.items()},
    }
    for name, values in ratios.items():
        out[f"ratio_{name}_rounds"] = summary(values)
        # No nginx (not built yet): the key is still written, as null, never a guess.
        out[f"ratio_{name}"] = out[f"ratio_{name}_rounds"]["median"] if values else None
    return out
