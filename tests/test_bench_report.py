"""bench/report.py's arithmetic on small literal figures: the verdicts RESULTS.md prints.

The benchmark itself runs once, under the `bench` marker (tests/system/test_bench.py);
here each target's comparison, miss and the JSON clean-up are checked in milliseconds.
"""

from __future__ import annotations

import importlib.util
import math

import pytest

from files import ROOT

spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def test_a_figure_at_or_above_its_floor_is_met_and_below_it_misses_by_its_share():
    met = report.targets({"serving": {"ratio_warm_to_ceiling": 0.9}})
    missed = report.targets({"serving": {"ratio_warm_to_ceiling": 0.81}})
    assert met["serving.ratio_warm_to_ceiling"] == {
        "value": 0.9, "target": ">= 0.9", "met": True, "miss": 0.0,
        "means": "warm feed ≥ 0.9 × the ceiling endpoint"}
    assert missed["serving.ratio_warm_to_ceiling"]["met"] is False
    assert missed["serving.ratio_warm_to_ceiling"]["miss"] == pytest.approx(0.1)


def test_a_ceiling_counts_its_bound_as_met_and_a_strict_one_does_not():
    found = report.targets({"render": {"ratio_to_icalendar": 1.25},
                            "expansion": {"ratio_schedule_to_render": 0.1},
                            "memory": {"worker_rss_mb_after_10k": 180}})
    assert (found["render.ratio_to_icalendar"]["target"], found["render.ratio_to_icalendar"]["met"]) \
        == ("<= 1.25", True)
    assert found["expansion.ratio_schedule_to_render"]["met"] is False
    assert found["memory.worker_rss_mb_after_10k"]["miss"] == pytest.approx(0.2)


def test_a_missing_or_unreadable_figure_and_a_figure_without_target_are_not_judged():
    found = report.targets({"serving": {"ratio_warm_to_nginx": 0.5, "ratio_304_to_warm": math.nan},
                            "group": {"page_ms_median": True}})
    assert {key: found[key]["met"] for key in found} == {key: None for key, *_ in report.TARGETS}
    assert found["serving.ratio_warm_to_nginx"]["value"] == 0.5
    assert found["serving.ratio_304_to_warm"]["value"] is None
    assert found["group.page_ms_median"]["value"] is None  # a bool is no figure
    assert found["build.ratio_all_cores_to_one"]["value"] is None


def test_lookup_follows_a_dotted_path_or_answers_none():
    results = {"build": {"sizes": [100, 1000], "builds": {"1000": {"workers_1": 2.5}}}}
    assert report.lookup(results, "build.builds.1000.workers_1") == 2.5
    assert report.lookup(results, "build.builds.10") is None
    assert report.lookup(results, "build.sizes.0") is None  # lists are not walked


def test_nan_and_infinities_become_null_anywhere_in_the_results():
    assert report.finite({"a": [1.5, math.nan, (math.inf, -math.inf)], "b": {"c": 2}}) \
        == {"a": [1.5, None, [None, None]], "b": {"c": 2}}
