"""The bench's CSV load section at a tiny scale: it writes the export, loads it through the
real seed.py beside the generated seed, and reports. Nothing here asserts on speed."""

from __future__ import annotations

import csv

from bench import csvload, targets
from web.models import STOCKS

ROWS = 1_500


def test_the_csv_load_section_loads_the_export_and_reports(tmp_path):
    section = csvload.measure(tmp_path, ROWS, runs=1)
    assert section["runs"]["csv"][0]["output"].startswith(f"Loaded {ROWS:,} stocks from ")
    assert section["runs"]["generated"][0]["output"].startswith(f"Seeded {ROWS:,} stocks")
    assert section["peak_mb"] > 0
    assert section["rows_per_s"] > 0
    assert section["reported_rows_per_s"] > 0
    with (tmp_path / f"stocks-{ROWS}.csv").open(newline="") as export:
        assert next(csv.reader(export)) == list(STOCKS.keys)
    assert csvload.lines(section)[0].startswith(
        f"CSV load  python seed.py --csv FILE --reset, {ROWS:,}"
    )
    assert targets._csv_load({"csv_load": section})["status"] == "SKIP"  # not at 1M rows
