"""The bench's browser section at a tiny scale: its in-page recorder measures what issue 13's
targets are about (first row painted, blocking time, a click during a stream to its first
new row), and the targets judge those figures. Nothing here asserts on speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import targets

from .harness import run_python

ROWS = 2_000


def _million_row_run(**figures: float) -> dict:
    timing = {
        "first_row_painted_s": figures.get("painted", 0.15),
        "total_blocking_ms": figures.get("blocking", 4_000),
        "long_task_max_ms": figures.get("longest", 200),
    }
    return {
        "rows": targets.MILLION,
        "cap_s": 180.0,
        "crashed": False,
        "footer_s": 30.0,
        "timing": timing,
        "inputs": {"count": 8, "painted": 8, "p95_ms": figures.get("click", 250.0)},
        "peak_pss_mb": figures.get("pss_mb", 1_500.0),
        "memory_samples": 100,
    }


def _statuses(run: dict) -> dict[str, str]:
    found = targets.evaluate({"browser": [run], "throughput": []})
    return {t["name"]: t["status"] for t in found if t["name"].startswith("browser 1M")}


def test_the_million_row_targets_pass_within_their_limits():
    statuses = _statuses(_million_row_run())
    assert statuses == {
        "browser 1M: footer, no crash": "PASS",
        "browser 1M: first row painted": "PASS",
        "browser 1M: total blocking time": "PASS",
        "browser 1M: longest task": "PASS",
        "browser 1M: click during a stream to first new row, p95": "PASS",
        "browser 1M: peak PSS": "PASS",
    }


@pytest.mark.parametrize(
    ("figure", "value", "target"),
    [
        ("painted", 0.25, "browser 1M: first row painted"),
        ("blocking", 5_001, "browser 1M: total blocking time"),
        ("longest", 251, "browser 1M: longest task"),
        ("click", 301.0, "browser 1M: click during a stream to first new row, p95"),
        ("pss_mb", 2_100.0, "browser 1M: peak PSS"),
    ],
)
def test_each_million_row_target_fails_past_its_limit(figure: str, value: float, target: str):
    statuses = _statuses(_million_row_run(**{figure: value}))
    assert statuses.pop(target) == "FAIL"
    assert set(statuses.values()) == {"PASS"}


def test_a_load_that_did_not_finish_fails_its_footer_and_skips_what_it_could_not_read():
    run = {**_million_row_run(), "footer_s": None, "timing": None, "inputs": None}
    statuses = _statuses(run)
    assert statuses.pop("browser 1M: footer, no crash") == "FAIL"
    assert statuses.pop("browser 1M: peak PSS") == "PASS"  # sampled all along
    assert set(statuses.values()) == {"SKIP"}


RECORDER_RUN = """
import json, sys
from pathlib import Path
from bench import browser
from bench.data import ensure_database
from bench.server import Server
browser.INPUT_PAUSES_SECONDS = (0.1, 0.0, 0.2)  # three clicks, quickly
here, rows = Path(sys.argv[1]), int(sys.argv[2])
dataset, _ = ensure_database(here / "data", rows)
with Server("web:create_app()", dataset.url, here / "server.log") as server:
    print(json.dumps(browser.measure(server.url, rows, cap_seconds=60.0)))
"""


def test_the_recorder_times_the_load_and_each_click_to_its_new_rows(tmp_path: Path):
    # In a process of its own, as `make bench` runs it: the e2e tests' Playwright runs an
    # asyncio loop in this one, where Playwright's sync API refuses to start.
    done = run_python(["-c", RECORDER_RUN, str(tmp_path), str(ROWS)], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    run = json.loads(done.stdout.strip().splitlines()[-1])

    assert run["finished"] and run["dom_rows"] == ROWS, run
    timing = run["timing"]
    assert 0 < timing["first_row_attached_s"] <= timing["first_row_painted_s"]
    assert timing["total_blocking_ms"] is not None and timing["long_task_max_ms"] is not None
    assert timing["total_blocking_ms"] <= timing["long_task_total_ms"]
    # Each stylesheet and script the page waits for, with its fetch time.
    assets = {asset["name"]: asset["fetch_ms"] for asset in timing["assets"]}
    assert {"/static/css/stocks.css", "/columns.css", "/static/js/streamtable.js"} <= set(assets)
    assert all(ms >= 0 for ms in assets.values())
    # Every click re-streamed the table and its first new row was seen painted.
    assert run["inputs"]["count"] == run["inputs"]["painted"] == 3, run["inputs"]
    assert run["inputs"]["p95_ms"] > 0
