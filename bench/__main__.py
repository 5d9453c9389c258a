"""``python -m bench``: measure streamtable against its baselines, print a table, write JSON.

    python -m bench                      # 10k, 100k, 1M rows, browser included (~10-15 min)
    python -m bench --quick              # smoke run: 2k and 20k rows, no browser
    python -m bench --sizes 100000 --skip-browser
    python -m bench --full               # also the slow baselines at 1M rows (long)
    python -m bench --browser-only --sizes 100000,1000000
                                         # only the Chromium loads (~3 min at 1M rows)
    python -m bench.csvload --rows 1000000
                                         # only seed.py --csv beside the generated seed
    scripts/with-postgres .venv/bin/python -m bench --database postgresql --sizes 1000000
                                         # the app on PostgreSQL (the baselines read SQLite)

Progress goes to stderr; the report to stdout and to bench/results/latest.json plus a
timestamped copy. A section that fails is reported as failed; the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from web.db import make_engine

from . import browser, compression, concurrency, csvload, renderers, sorts, targets, views
from .data import Dataset, SeedTiming, ensure_database, time_seed
from .log import progress
from .machine import describe
from .report import render
from .server import Server
from .throughput import SLOW_CAP_ROWS, VARIANTS, Variant, measure, skipped

HERE = Path(__file__).resolve().parent
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000, 20_000)
BROWSER_MIN_ROWS = 100_000
BROWSER_CAP_SECONDS = {100_000: 60.0, 1_000_000: 180.0}
MAX_ROWS = 10_000_000


def _sizes(text: str) -> list[int]:
    sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 1 or sizes[-1] > MAX_ROWS:
        raise argparse.ArgumentTypeError(f"sizes must be between 1 and {MAX_ROWS:,}")
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, help="row counts, e.g. 10000,100000,1000000")
    parser.add_argument("--skip-browser", action="store_true", help="no Chromium section")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: sizes 2000,20000, no browser"
    )
    parser.add_argument("--full", action="store_true", help="run the slow baselines at 1M too")
    parser.add_argument(
        "--browser-only",
        action="store_true",
        help="only the Chromium section (and the data it loads): no seed timing, no baselines",
    )
    parser.add_argument("--streams", type=int, default=concurrency.STREAMS, help="concurrency")
    parser.add_argument(
        "--csv-runs", type=int, default=csvload.RUNS, help="seed.py --csv runs (and generated)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="results folder")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data", help="databases folder")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the app's database; postgresql runs the app alone (the baselines read SQLite)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("STREAMTABLE_TEST_DATABASE_URL"),
        help="with --database postgresql: a server and a role that may create databases "
        "(default: $STREAMTABLE_TEST_DATABASE_URL, which scripts/with-postgres sets)",
    )
    args = parser.parse_args(argv)
    if args.database == "postgresql" and not args.database_url:
        parser.error("--database postgresql needs --database-url or scripts/with-postgres")
    if args.browser_only and (args.skip_browser or args.quick):
        parser.error("--browser-only runs the browser section, which --skip-browser/--quick skip")
    args.server_url = args.database_url if args.database == "postgresql" else None
    args.sizes = args.sizes or list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    args.skip_browser = args.skip_browser or args.quick
    args.csv_runs = 1 if args.quick else args.csv_runs
    return args


def _guarded(name: str, work: Callable[[], Any]) -> Any:
    """Run one section; a failure becomes ``{"error": ...}`` in the report, not a crash."""
    try:
        return work()
    except Exception as error:  # a broken section must not lose the others' figures
        progress(f"{name} failed:\n{traceback.format_exc()}")
        return {"error": f"{type(error).__name__}: {error}"}


def _prepare_data(args: argparse.Namespace) -> tuple[dict[int, Dataset], dict[str, Any]]:
    """Every size's database, and the timing of ``seed.py`` at the largest size."""
    seed_rows = max(args.sizes)
    datasets: dict[int, Dataset] = {}
    timing: SeedTiming | None = None
    # Largest first, through the CLI: if it must be seeded anyway, that seed is the timing.
    for rows in sorted(args.sizes, reverse=True):
        progress(f"data: {rows:,} rows")
        dataset, cli = ensure_database(
            args.data_dir, rows, via_cli=rows == seed_rows, server_url=args.server_url
        )
        datasets[rows] = dataset
        timing = timing or cli
        progress(f"  {'reused' if dataset.reused else f'seeded in {dataset.seconds} s'}")
    if timing is None and args.browser_only:
        return datasets, {"error": "not measured (--browser-only)"}
    if timing is None:
        progress(f"seed: timing seed.py --rows {seed_rows:,} into a scratch file")
        timing = time_seed(args.data_dir, seed_rows, server_url=args.server_url)
    progress(f"seed: {timing.seconds:.1f} s wall")
    seed = {
        "rows": timing.rows,
        "seconds": timing.seconds,
        "reported_seconds": timing.reported_seconds,
        "output": timing.output,
    }
    return datasets, seed


def _throughput(
    args: argparse.Namespace, datasets: dict[int, Dataset], report: dict[str, Any]
) -> None:
    """Per size: streamtable, floor and handwritten taking turns, then each slow baseline on
    its own."""
    largest = max(args.sizes)
    log_dir = args.out / "logs"
    unfit = {variant.name: reason for variant in VARIANTS if (reason := variant.unfit())}
    fast = [variant for variant in VARIANTS if not variant.slow and variant.name not in unfit]
    slow = [variant for variant in VARIANTS if variant.slow and variant.name not in unfit]
    sqlite_only = []
    if args.server_url:  # the baselines read the SQLite file themselves
        fast, slow, sqlite_only = fast[:1], [], fast[1:] + slow
    for rows in args.sizes:
        report["throughput"].extend(
            {"variant": variant.name, "rows_expected": rows, "skipped": "SQLite only"}
            for variant in sqlite_only
        )
        report["throughput"].extend(
            {"variant": name, "rows_expected": rows, "skipped": reason}
            for name, reason in unfit.items()
        )
        groups = [fast]
        for variant in slow:
            if rows >= SLOW_CAP_ROWS and not args.full:
                done = [
                    r
                    for r in report["throughput"]
                    if r["variant"] == variant.name and r.get("rows_per_s")
                ]
                report["throughput"].append(skipped(variant, rows, done[-1] if done else None))
            else:
                groups.append([variant])
        for group in groups:

            def run(group: list[Variant] = group, rows: int = rows) -> list[dict[str, Any]]:
                with ExitStack() as stack:
                    servers = [
                        stack.enter_context(
                            Server(
                                variant.app,
                                datasets[rows].url,
                                log_dir / f"{variant.name}-{rows}.log",
                            )
                        )
                        for variant in group
                    ]
                    results = measure(list(zip(group, servers, strict=True)), rows)
                    if group[0].name == "streamtable" and rows == largest:
                        _on_streamtable(servers[0], datasets[rows].url, rows, report)
                    return results

            results = _guarded(f"{'+'.join(v.name for v in group)} @ {rows:,}", run)
            if isinstance(results, dict):  # the whole group failed, e.g. a server did not start
                results = [
                    {
                        "variant": variant.name,
                        "rows_expected": rows,
                        "skipped": f"error: {results['error']}",
                    }
                    for variant in group
                ]
            report["throughput"].extend(results)
        floor = next(
            (
                r
                for r in report["throughput"]
                if r["variant"] == "floor" and r["rows_expected"] == rows and r.get("rows_per_s")
            ),
            None,
        )
        handwritten = next(
            (
                r
                for r in report["throughput"]
                if r["variant"] == "handwritten"
                and r["rows_expected"] == rows
                and r.get("rows_per_s")
            ),
            None,
        )
        for r in report["throughput"]:
            if r["rows_expected"] == rows and r.get("rows_per_s") and floor:
                r["ratio_vs_floor"] = round(r["rows_per_s"] / floor["rows_per_s"], 2)
            if r["variant"] == "streamtable" and r.get("rows_per_s") and handwritten:
                r["ratio_vs_handwritten"] = round(r["rows_per_s"] / handwritten["rows_per_s"], 3)


def _on_streamtable(server: Server, database_url: str, rows: int, report: dict[str, Any]) -> None:
    """Sections that reuse the largest streamtable server, once its memory peak was read."""
    report["sort_orders"] = _guarded(
        "sort orders", lambda: sorts.measure(server, database_url, rows)
    )
    report["views"] = _guarded("views", lambda: views.measure(server, rows))
    report["compression"] = _guarded("compression", lambda: compression.measure(server, rows))


def _memory(report: dict[str, Any]) -> dict[str, Any]:
    mine = [
        r
        for r in report["throughput"]
        if r["variant"] == "streamtable" and r.get("peak_mb") is not None
    ]
    if len(mine) < 2:
        return {"growth_mb": None}
    small, large = mine[0], mine[-1]
    return {
        "small_rows": small["rows_expected"],
        "small_peak_mb": small["peak_mb"],
        "large_rows": large["rows_expected"],
        "large_peak_mb": large["peak_mb"],
        "growth_mb": round(large["peak_mb"] - small["peak_mb"], 1),
        # VmHWM counts the mapped database file; the heap alone says whether memory is flat.
        "small_anon_mb": small.get("peak_anon_mb"),
        "large_anon_mb": large.get("peak_anon_mb"),
        "anon_growth_mb": (
            round(large["peak_anon_mb"] - small["peak_anon_mb"], 1)
            if large.get("peak_anon_mb") is not None and small.get("peak_anon_mb") is not None
            else None
        ),
    }


def _concurrency(args: argparse.Namespace, datasets: dict[int, Dataset]) -> dict[str, Any]:
    rows = max(args.sizes)
    if args.quick and rows >= SLOW_CAP_ROWS:
        return {"note": "skipped with --quick at 1M rows"}
    log_path = args.out / "logs" / f"concurrency-{rows}.log"
    with Server(VARIANTS[0].app, datasets[rows].url, log_path) as server:
        return concurrency.measure(server, rows, args.streams)


def _browser(args: argparse.Namespace, datasets: dict[int, Dataset]) -> Any:
    if args.skip_browser:
        return {"note": "skipped (--skip-browser or --quick)"}
    sizes = [rows for rows in args.sizes if rows >= BROWSER_MIN_ROWS] or [max(args.sizes)]
    runs = []
    for rows in sizes:
        cap = BROWSER_CAP_SECONDS.get(rows, 60.0 if rows < SLOW_CAP_ROWS else 180.0)

        def run(rows: int = rows, cap: float = cap) -> dict[str, Any]:
            log_path = args.out / "logs" / f"browser-{rows}.log"
            with Server(VARIANTS[0].app, datasets[rows].url, log_path) as server:
                return browser.measure(server.url, rows, cap)

        result = _guarded(f"browser @ {rows:,}", run)
        result.setdefault("rows", rows)
        result.setdefault("cap_s", cap)
        runs.append(result)
    return runs


def _postgresql_version(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(text("SHOW server_version"))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    options = {
        "sizes": args.sizes,
        "quick": args.quick,
        "full": args.full,
        "browser": not args.skip_browser,
        "browser_only": args.browser_only,
        "streams": args.streams,
        "database": args.database,
    }
    progress(f"options: {options}")
    report: dict[str, Any] = {"machine": describe(), "options": options, "throughput": []}
    if args.server_url:
        report["machine"]["postgresql"] = _postgresql_version(args.server_url)
    report["date"] = report["machine"]["date"]
    datasets, report["seed"] = _prepare_data(args)
    report["data"] = [
        {"rows": d.rows, "url": d.shown_url, "reused": d.reused, "seconds": d.seconds}
        for d in sorted(datasets.values(), key=lambda d: d.rows)
    ]
    if not args.browser_only:
        report["csv_load"] = _guarded(
            "csv load", lambda: csvload.measure(args.data_dir, max(args.sizes), args.csv_runs)
        )
        report["renderers"] = _guarded("renderers", renderers.measure)
        _throughput(args, datasets, report)
        report["memory"] = _memory(report)
        report["concurrency"] = _guarded("concurrency", lambda: _concurrency(args, datasets))
    report["browser"] = _browser(args, datasets)
    report["targets"] = targets.evaluate(report)
    # Other work on a shared machine skews every figure: say how busy it was at the end too.
    report["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]

    text = json.dumps(report, indent=2, default=str)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (args.out / "latest.json").write_text(text)
    (args.out / f"bench-{stamp}.json").write_text(text)
    sys.stdout.write(render(report))
    progress(f"wrote {args.out / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
