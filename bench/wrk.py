"""Run wrk for a bounded time and read its report: requests/s, p50, p99, errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
LATENCY = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
REQUESTS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.M)
SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


@dataclass(frozen=True)
class Load:
    """One wrk run: throughput, latency percentiles and every kind of error."""

    requests_per_s: float
    requests: int
    p50_ms: float
    p99_ms: float
    socket_errors: int
    non_2xx_3xx: int

    @property
    def errors(self) -> int:
        """Answers that were not 2xx/3xx, plus connect/read/write errors and timeouts."""
        return self.socket_errors + self.non_2xx_3xx

    def as_dict(self) -> dict:
        """The figures for results.json."""
        return {**asdict(self), "errors": self.errors}


def available() -> str | None:
    """The wrk executable, or None."""
    return shutil.which("wrk")


def parse(text: str) -> Load:
    """The figures of a `wrk --latency` report."""
    latencies = {p: float(v) * UNITS[u] for p, v, u in LATENCY.findall(text)}
    rps = REQUESTS.search(text)
    total = TOTAL.search(text)
    if rps is None or total is None or "50" not in latencies or "99" not in latencies:
        raise ValueError(f"not a wrk --latency report:\n{text}")
    socket_errors = sum(int(x) for x in SOCKET.search(text).groups()) if SOCKET.search(text) else 0
    non = NON_2XX.search(text)
    return Load(float(rps.group(1)), int(total.group(1)), latencies["50"], latencies["99"],
                socket_errors, int(non.group(1)) if non else 0)


def run(url: str, seconds: float, headers: dict[str, str] | None = None, threads: int = 2,
        connections: int = 16) -> Load:
    """Load url for `seconds` with wrk (killed if it overstays) and return its figures."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               "--timeout", "5s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(command + [url], capture_output=True, text=True,
                          timeout=seconds + 30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse(done.stdout)
