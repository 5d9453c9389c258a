"""``seed.py --csv`` on a large CSV, beside the generated seed: load rate and peak memory.

    python -m bench.csvload --rows 1000000 --runs 3     # this section alone (~5 min here)

The CSV is what ``/stocks.csv`` sends for the generated table (the app's CSV renderer over
``generate_rows(rows, SEED)``), written once into the data folder and kept while its stamp
matches. Each run is a real ``python seed.py ... --reset`` into a scratch SQLite file, the
CSV load and the generated seed of the same rows taking turns; for each the wall time, the
load time the CLI prints (without the interpreter's start-up), the CPU time and the peak
resident memory of the process (``ru_maxrss`` from ``wait4``) are kept, and medians
reported. The peak of a load of ``SMALL_ROWS`` rows shows whether memory grows with the file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from statistics import median
from time import perf_counter, process_time
from typing import Any

from web.csvload import CsvRows
from web.models import STOCKS
from web.render import renderers_for
from web.seeding import generate_rows

from .data import SEED, SEED_CLI_TIMEOUT, sqlite_url
from .log import progress
from .machine import ROOT

RUNS = 3
SMALL_ROWS = 10_000
CHUNK_ROWS = 500


def _stamp(rows: int) -> dict[str, object]:
    digest = hashlib.sha256()
    for name in ("web/models.py", "web/seeding.py", "web/render.py"):
        digest.update((ROOT / name).read_bytes())
    return {"rows": rows, "seed": SEED, "code": digest.hexdigest()[:16]}


def ensure_csv(data_dir: Path, rows: int) -> Path:
    """The export of ``rows`` generated stocks, written unless a current one is there."""
    path = data_dir / f"stocks-{rows}.csv"
    stamp = path.with_suffix(".csv.json")
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == _stamp(rows):
        return path
    data_dir.mkdir(parents=True, exist_ok=True)
    render = renderers_for(STOCKS)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(render.csv_header)
        for block in generate_rows(rows, SEED):
            values = [row[1:] for row in block]  # the export has no id
            for at in range(0, len(values), CHUNK_ROWS):
                out.write(render.csv(values[at : at + CHUNK_ROWS]))
    stamp.write_text(json.dumps(_stamp(rows)))
    return path


def run_measured(command: list[str]) -> dict[str, Any]:
    """Run ``command`` from the checkout; its wall time, CPU time and peak memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err)
        timer = threading.Timer(SEED_CLI_TIMEOUT, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)  # the child's own rusage
        finally:
            timer.cancel()
        seconds = perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode:
        raise RuntimeError(f"{command[1:3]} failed ({process.returncode}): {stderr or stdout}")
    reported = re.search(r" in ([\d.]+) s", stdout)
    return {
        "seconds": round(seconds, 2),
        "reported_seconds": float(reported.group(1)) if reported else None,
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),  # kilobytes on Linux
        "output": stdout.strip(),
    }


def _seed_command(url: str, *how: str) -> list[str]:
    return [sys.executable, "seed.py", *how, "--database-url", url, "--reset"]


def _parse_rates(path: Path) -> tuple[float, float]:
    """Rows/s of the parse alone, in this process, with no database: by the wall clock, and
    by CPU time (steadier on a shared machine)."""
    started, cpu = perf_counter(), process_time()
    with path.open("rb") as source:
        parsed = sum(len(block) for block in CsvRows(source).blocks())
    return parsed / (perf_counter() - started), parsed / (process_time() - cpu)


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return round(median(values), 2) if values else None


def measure(data_dir: Path, rows: int, runs: int = RUNS) -> dict[str, Any]:
    progress(f"csv load: writing or reusing the {rows:,}-row CSV")
    path = ensure_csv(data_dir, rows)
    small = ensure_csv(data_dir, min(SMALL_ROWS, rows))
    scratch = data_dir / f"csv-load-{rows}.db"
    url = sqlite_url(scratch)
    taken: dict[str, list[dict[str, Any]]] = {"csv": [], "generated": []}
    try:
        for n in range(runs):
            for kind, how in (
                ("csv", ("--csv", str(path))),
                ("generated", ("--rows", str(rows), "--seed", str(SEED))),
            ):
                progress(f"csv load: run {n + 1}/{runs}, {kind}")
                taken[kind].append(run_measured(_seed_command(url, *how)))
                progress(f"  {taken[kind][-1]['seconds']} s, {taken[kind][-1]['peak_mb']} MB")
        small_run = run_measured(_seed_command(url, "--csv", str(small)))
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    parse_rate, parse_cpu_rate = _parse_rates(path)
    csv_runs = taken["csv"]
    seconds, reported = _median(csv_runs, "seconds"), _median(csv_runs, "reported_seconds")
    generated = _median(taken["generated"], "seconds")
    return {
        "rows": rows,
        "bytes": path.stat().st_size,
        "runs": taken,
        "seconds": seconds,
        "reported_seconds": reported,
        "rows_per_s": round(rows / seconds),
        "reported_rows_per_s": round(rows / reported) if reported else None,
        "cpu_s": _median(csv_runs, "cpu_s"),
        "peak_mb": max(run["peak_mb"] for run in csv_runs),
        "small_rows": min(SMALL_ROWS, rows),
        "small_peak_mb": small_run["peak_mb"],
        "cpu_rows_per_s": round(rows / _median(csv_runs, "cpu_s")),
        "parse_rows_per_s": round(parse_rate),
        "parse_cpu_rows_per_s": round(parse_cpu_rate),
        "generated_seconds": generated,
        "generated_reported_seconds": _median(taken["generated"], "reported_seconds"),
        "generated_cpu_s": _median(taken["generated"], "cpu_s"),
        "generated_peak_mb": max(run["peak_mb"] for run in taken["generated"]),
        "vs_generated": round(generated / seconds, 2) if generated else None,
    }


def lines(section: dict[str, Any]) -> list[str]:
    """The section as the printed report shows it."""
    if "rows" not in section:
        return [f"CSV load: {section.get('error') or section.get('note') or 'not measured'}"]
    return [
        f"CSV load  python seed.py --csv FILE --reset, {section['rows']:,} rows "
        f"({section['bytes'] / 2**20:.0f} MB), median of {len(section['runs']['csv'])}:",
        f"  {section['seconds']:.1f} s wall = {section['rows_per_s']:,} rows/s; "
        f"{section['reported_seconds']:.1f} s as the CLI reports it = "
        f"{section['reported_rows_per_s']:,} rows/s; CPU {section['cpu_s']:.1f} s = "
        f"{section['cpu_rows_per_s']:,} rows per CPU second",
        f"  peak memory {section['peak_mb']} MB ({section['small_peak_mb']} MB for "
        f"{section['small_rows']:,} rows); the parse alone {section['parse_rows_per_s']:,} "
        f"rows/s ({section['parse_cpu_rows_per_s']:,} per CPU second)",
        f"  the generated seed of as many rows: {section['generated_seconds']:.1f} s wall, "
        f"CPU {section['generated_cpu_s']:.1f} s, {section['generated_peak_mb']} MB "
        f"(it takes {section['vs_generated']}x the CSV's wall time)",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.csvload", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    section = measure(args.data_dir, args.rows, args.runs)
    section["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (args.out / f"csv-load-{stamp}.json").write_text(json.dumps(section, indent=2))
    sys.stdout.write("\n".join(lines(section)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
