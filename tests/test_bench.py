"""The benchmark runs: `bench/run --quick` completes, and its figures add up.

No timing is asserted here (a shared machine makes any bound flaky); the figures are
the benchmark's business, in bench/RESULTS.md.
"""

from __future__ import annotations

import json
import math
import operator
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

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
    "group.ratio_feed_time_to_providers",
    "group.ratio_feed_bytes_to_providers",
    "group.page_ms_median",
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


OPERATORS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge}


def lookup(results: dict, key: str):
    """The value at a dotted key of results.json."""
    value = results
    for part in key.split("."):
        assert part in value, f"{key}: no {part!r} in results.json"
        value = value[part]
    return value


def test_every_target_is_judged_on_the_figure_it_names(quick_results):
    assert set(quick_results["targets"]) == set(KEYS)
    for key in KEYS:
        value = lookup(quick_results, key)
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{key}: {value!r}"
        assert math.isfinite(value), f"{key}: {value!r}"
        verdict = quick_results["targets"][key]
        assert verdict["value"] == value, key
        if verdict["target"] is None:
            assert verdict["met"] is None, key
            continue
        op, bound = verdict["target"].split()
        assert verdict["met"] is OPERATORS[op](value, float(bound)), key


def test_the_serving_ratio_is_the_median_of_each_rounds_ratio(quick_results):
    serving = quick_results["serving"]
    loads = serving["loads"]
    rounds = [w["requests_per_s"] / c["requests_per_s"]
              for w, c in zip(loads["warm"]["runs"], loads["ceiling"]["runs"])]
    assert len(rounds) == serving["rounds"]
    assert serving["ratio_warm_to_ceiling"] == pytest.approx(sorted(rounds)[len(rounds) // 2])
    for name, load in loads.items():
        assert load["errors"] == 0, name
        assert load["requests"] == sum(run["requests"] for run in load["runs"]), name


def test_the_build_ratio_is_cpu_per_provider_over_a_feed_render(quick_results):
    build = quick_results["build"]
    size = build["sizes"][-1]
    largest = build["builds"][str(size)]
    counts = sorted(int(k.split("_")[1]) for k in largest if k.startswith("workers_"))
    one, every = largest["workers_1"], largest[f"workers_{counts[-1]}"]
    # Whatever the number of workers, the build writes the same site.
    assert (one["files"], one["bytes"], one["calendars"]) == (
        every["files"], every["bytes"], every["calendars"])
    assert one["calendars"] == size + 3  # the roster and the three published tracks
    per_provider = one["cpu_seconds"]["median"] / size
    assert largest["cpu_seconds_per_provider_one_worker"] == pytest.approx(per_provider, rel=0.05)
    assert build["ratio_per_provider_to_render"] == pytest.approx(
        per_provider * 1e3 / largest["render_ms_mean_sample"], rel=0.05)


def test_the_memory_load_answered_every_request(quick_results):
    memory = quick_results["memory"]
    assert memory["failures"] == 0
    assert memory["requests"] == memory["providers"]
    assert memory["worker_rss_mb_after_10k"] >= memory["worker_rss_mb_before"]


def test_quick_run_reports_the_machine(quick_results):
    assert quick_results["machine_start"]["cores"] >= 1
    assert len(quick_results["machine_end"]["loadavg"]) == 3


def test_calfeed_and_the_bare_program_wrote_the_same_feeds(quick_results):
    # The render ratio compares like with like only if both wrote the very same bytes.
    assert quick_results["render"]["same_bytes"] is True
    assert quick_results["serving"]["nginx_same_bytes"] is True


def test_a_groups_feed_stands_for_its_providers_copies_and_its_ratios_add_up(quick_results):
    group = quick_results["group"]
    # Every provider copy of a dated step is in one event of the group's feed, and shared
    # steps are collapsed: fewer events than copies.
    assert group["feed_event_providers"] == group["providers_feed_events"]
    assert group["feed_events"] < group["providers_feed_events"]
    assert group["ratio_feed_bytes_to_providers"] == pytest.approx(
        group["feed_bytes"] / group["providers_feed_bytes"])
    assert group["ratio_feed_time_to_providers"] == pytest.approx(
        group["ratio_feed_time_to_providers_rounds"]["median"])
    assert group["page_ms_median"] == group["page_ms"]["median"]
