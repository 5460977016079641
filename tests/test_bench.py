"""The benchmark runs: `bench/run --quick` completes and writes every key of issue 6 as a number.

No timing is asserted here (a shared machine makes any bound flaky); the figures are
the benchmark's business, in bench/RESULTS.md.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEYS = (
    "serving.ratio_warm_to_ceiling",
    "serving.ratio_304_to_warm",
    "serving.ratio_warm_to_nginx",
    "render.ratio_to_icalendar",
    "expansion.ratio_10x_providers_time",
    "expansion.ratio_schedule_to_render",
    "build.ratio_all_cores_to_one",
    "build.ratio_per_provider_to_render",
    "memory.worker_rss_mb_after_10k",
)


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory) -> dict:
    """results.json of one `bench/run --quick`, written outside the checkout."""
    if shutil.which("wrk") is None or (shutil.which("nginx") is None
                                       and not Path("/usr/sbin/nginx").exists()):
        pytest.skip("the benchmark needs Debian's wrk and nginx (apt-get install wrk nginx)")
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=1200, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "RESULTS.md").read_text().startswith("# calfeed benchmark results")
    return json.loads((out / "results.json").read_text())


def test_quick_run_writes_every_key_as_a_number(quick_results):
    for key in KEYS:
        value = quick_results
        for part in key.split("."):
            assert part in value, f"{key}: no {part!r} in results.json"
            value = value[part]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{key}: {value!r}"
        assert math.isfinite(value) and value > 0, f"{key}: {value!r}"


def test_quick_run_reports_the_machine_and_a_verdict_per_target(quick_results):
    assert quick_results["machine_start"]["cores"] >= 1
    assert len(quick_results["machine_end"]["loadavg"]) == 3
    assert set(quick_results["targets"]) == set(KEYS)


def test_calfeed_and_the_bare_program_wrote_the_same_feeds(quick_results):
    # The render ratio compares like with like only if both wrote the very same bytes.
    assert quick_results["render"]["same_bytes"] is True
    assert quick_results["serving"]["nginx_same_bytes"] is True
