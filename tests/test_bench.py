"""The bench's machinery at a tiny scale: it runs, writes its JSON, and every row arrives.

Timing is the bench's business, not the tests': nothing here asserts on speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.baselines import handwritten_unfit
from bench.client import FetchResult, _Body
from web.models import STOCKS

from .harness import ROOT, run_python

ROWS = 2_000


def test_quick_bench_writes_every_section_and_every_row(tmp_path: Path):
    out = tmp_path / "results"
    done = run_python(
        [
            "-m",
            "bench",
            "--quick",
            "--sizes",
            str(ROWS),
            "--skip-browser",
            "--streams",
            "4",
            "--out",
            str(out),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Targets" in done.stdout

    report = json.loads((out / "latest.json").read_text())
    assert len(list(out.glob("bench-*.json"))) == 1
    for key in (
        "date",
        "machine",
        "options",
        "seed",
        "data",
        "throughput",
        "sort_orders",
        "views",
        "memory",
        "concurrency",
        "renderers",
        "compression",
        "browser",
        "targets",
    ):
        assert key in report, key
    for key in ("cpu", "cores", "ram_gb", "python", "sqlite", "chromium"):
        assert key in report["machine"], key
    assert report["seed"]["rows"] == ROWS

    by_variant = {row["variant"]: row for row in report["throughput"]}
    assert set(by_variant) == {
        "streamtable",
        "reflected",
        "floor",
        "handwritten",
        "classic",
        "buffered",
    }
    hand = () if handwritten_unfit() else ("handwritten",)  # it knows the nine stock columns
    for name in ("streamtable", "reflected", "floor", *hand):
        row = by_variant[name]
        log = (out / "logs" / f"{name}-{ROWS}.log").read_text()[-2000:]
        assert row["status"] == 200, log
        assert row["complete"], f"{row['error']}; server log:\n{log}"
        assert row["rows"] == row["footer_rows"] == ROWS, row
        for figure in ("ttfb_ms", "first_row_ms", "total_s", "rows_per_s", "mb_per_s", "peak_mb"):
            assert row[figure] is not None, figure
    assert by_variant["streamtable"]["ratio_vs_floor"] is not None
    assert (by_variant["streamtable"].get("ratio_vs_handwritten") is not None) == bool(hand)

    assert report["concurrency"]["completed"] == 4
    if not handwritten_unfit():
        outputs = {r["output"]: r for r in report["renderers"]["results"]}
        assert set(outputs) == {"html", "csv", "ndjson"}
        assert all(r["ratio"] > 0 for r in outputs.values()), outputs
    assert len(report["sort_orders"]["results"]) == 2 * len(STOCKS.sort_keys)
    assert all(page["complete"] for page in report["views"]["pages"])
    assert all(export["complete"] for export in report["views"]["exports"])
    assert {target["status"] for target in report["targets"]} <= {"PASS", "FAIL", "SKIP"}


def test_load_test_runs_and_finds_nothing_wrong(tmp_path: Path):
    out = tmp_path / "results"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "--readers",
            "3",
            "--leavers",
            "4",
            "--rows",
            str(ROWS),
            "--out",
            str(out),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "load-sqlite-latest.json").read_text())
    assert report["requests"] == 7 and report["server_errors"] == 0
    assert report["readers_complete"] == 3 and report["leavers_saw_a_row"] == 4
    assert sum(report["outcomes"].values()) == 7, "every stream logged its end"
    assert report["streams_not_ended"] == 0 and report["passed"]


def run_load(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    places = ["--out", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")]
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--rows", str(ROWS), *args, *places],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return done.returncode, done.stdout + done.stderr


def test_load_test_readers_turned_away_ask_again_after_retry_after(tmp_path: Path):
    code, output = run_load(
        tmp_path, "--readers", "4", "--leavers", "0", env={"STREAMTABLE_MAX_STREAMS": "1"}
    )
    assert code == 0, output
    report = json.loads((tmp_path / "results" / "load-sqlite-latest.json").read_text())
    assert report["readers_complete"] == 4 and report["server_errors"] == 0
    assert report["busy_503s"] > 0, "one slot per worker for 4 readers: some waited"


def test_slow_clients_load_test_runs_and_the_visitor_gets_whole_views(tmp_path: Path):
    code, output = run_load(tmp_path, "--slow-clients", "20", "--seconds", "10")
    assert code in (0, 1), output  # 1: a bound missed, which is the figures' business
    report = json.loads(
        (tmp_path / "results" / "slow-clients-sqlite-gunicorn-latest.json").read_text()
    )
    assert report["connects"] >= 20 and not report["connect_errors"]
    assert report["probes"] >= 1 and report["probes_complete"] == report["probes"]
    assert report["after_complete"]


def test_load_test_refuses_bad_counts_with_a_usage_error(tmp_path: Path):
    for args in (["--slow-clients", "-1"], ["--slow-clients", "9", "--seconds", "1"], ["--nginx"]):
        code, output = run_load(tmp_path, *args)
        assert code == 2 and "usage:" in output and "Traceback" not in output, args


def test_the_client_finds_a_footer_followed_by_the_facets_of_a_large_filtered_view():
    """A page without JavaScript gets its final facet counts after the footer; at 10M rows
    they took 4,119 bytes, and the client then reported the page as cut short."""
    result = FetchResult()
    body = _Body(result, None)
    footer = b'<footer id="stream-end" data-rows="1064021" data-outcome="completed">'
    facets = b"<li><a href=/stocks?sector=Energy&price__gte=100>Energy</a></li>\n" * 600
    for part in (b"<tr><td>A<td>1\n" * 1000, footer, facets[:20_000], facets[20_000:]):
        body.feed(part, 0.0)
    body.finish()
    assert result.footer and result.footer_rows == 1_064_021
