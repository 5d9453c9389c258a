"""seed.py --csv: a CSV whose header names the columns loads atomically, parsed by the spec.

The files are made here: an export of the app's own /stocks.csv (the round trip), and small
CSVs written by :func:`csv_bytes`. They run on the database engine under test (conftest.py).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Double, String, select

from web.csvload import BLOCK_ROWS, CsvError, CsvRows, CsvRowsError, load_csv
from web.db import make_engine
from web.models import STOCKS, stocks
from web.seeding import SeedError, count_rows, seed
from web.spec import COUNT, TEXT, UTC_TIMESTAMP, ColumnSpec, Kind, TableSpec

from .harness import ROOT
from .stock_rows import add_stock

HEADER = list(STOCKS.keys)
GOOD = [
    "ACME",
    "Acme Corp.",
    "NYSE",
    "Energy",
    "12.5",
    "-1.25",
    "100",
    "2000",
    "2026-11-20 16:00:00",
]


def csv_bytes(*rows: list[str], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return out.getvalue().encode()


def good_rows(count: int, start: int = 0) -> list[list[str]]:
    return [[f"S{start + i}", *GOOD[1:]] for i in range(count)]


def parsed(data: bytes, spec: TableSpec = STOCKS, **options) -> list[tuple]:
    rows = CsvRows(io.BytesIO(data), name="test.csv", spec=spec, **options)
    return [row for block in rows.blocks() for row in block]


def table(engine) -> list[tuple]:
    """Every row without its id (a load numbers rows in the file's order), by symbol."""
    with engine.connect() as conn:
        columns = [stocks.c[key] for key in STOCKS.keys]
        return [tuple(row) for row in conn.execute(select(*columns).order_by(stocks.c.symbol))]


def load(engine, data: bytes, **options):
    rows = CsvRows(io.BytesIO(data), name="test.csv", skip_bad=options.pop("skip_bad", False))
    return load_csv(engine, rows, **options)


@pytest.fixture
def engine(new_database):
    engine = make_engine(new_database())
    yield engine
    engine.dispose()


@pytest.fixture
def seeded(engine):
    seed(engine, 50, seed=1)
    return engine


AWKWARD_NAMES = [
    "Comma, Semicolon; and Co.",
    'The "Quoted" Fund',
    "Line\nBreak Holdings",
    "Carriage\r\nReturn Ltd",
    "AT&T <Class A> & 'Partners'",
    "Zürich Ørsted Łódź Société Générale",
    "=SUM(A1:A9)",
    "+1 Plus Corp",
    "-Minus Inc.",
    "@Handle plc",
    "\tTabbed AG",
    "\rReturned SA",
    "'Quote first, then text",
    "  spaces around  ",
    " ",
]


def test_an_export_loads_back_as_the_same_table(app, client, engine):
    for n, name in enumerate(AWKWARD_NAMES):
        add_stock(app, symbol=f"ODD{n}", name=name)
    add_stock(app, symbol="=EQ", name="a formula-looking symbol")
    export = client.get("/stocks.csv")
    assert export.status_code == 200
    result = load(engine, export.data)
    assert result.rows == 3_000 + len(AWKWARD_NAMES) + 1
    source = make_engine(app.config["DATABASE_URL"])
    try:
        assert table(engine) == table(source)
    finally:
        source.dispose()


def test_a_quote_before_a_formula_sign_is_read_as_the_export_writes_it():
    """/stocks.csv writes "=x" as "'=x" (defused) and "'=x" as it is, so the two read back
    alike: the loader takes the apostrophe off, since "=x" is by far the likelier name (and
    what a spreadsheet that saved the export as CSV would have meant)."""
    rows = parsed(csv_bytes(["A", "'=x", *GOOD[2:]], ["B", "'plain", *GOOD[2:]]))
    assert [row[2] for row in rows] == ["=x", "'plain"]


def test_the_cli_loads_an_export_from_standard_input(client, new_database):
    url = new_database()
    done = subprocess.run(
        [sys.executable, "seed.py", "--csv", "-", "--database-url", url],
        input=client.get("/stocks.csv").data,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert b"Loaded 3,000 stocks from standard input" in done.stdout
    engine = make_engine(url)
    try:
        assert count_rows(engine) == 3_000
    finally:
        engine.dispose()


def test_the_header_names_columns_by_key_or_label_in_any_case_and_extras_are_listed():
    header = ["ID", "SYMBOL", "Name", "exchange", "Sector", "PRICE", "Change %", "volume"]
    header += ["Market Cap", "updated (utc)", "Currency"]
    rows = CsvRows(io.BytesIO(csv_bytes(["7", *GOOD, "USD"], header=header)))
    assert rows.ignored == ["ID", "Currency"]
    assert [row for block in rows.blocks() for row in block] == [
        (1, "ACME", "Acme Corp.", "NYSE", "Energy", 12.5, -1.25, 100, 2000, "2026-11-20 16:00:00")
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ([k for k in HEADER if k != "price"], "has no price column"),
        ([*HEADER, "Price"], "names price twice (columns 5 and 10)"),
    ],
)
def test_a_header_that_does_not_fit_fails_before_anything_is_written(seeded, header, message):
    before = table(seeded)
    with pytest.raises(CsvError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(seeded, csv_bytes(*good_rows(3), header=header), reset=True)
    assert table(seeded) == before


@pytest.mark.parametrize(
    ("key", "cell", "value"),
    [
        ("price", "1,234.5", 1234.5),
        ("price", " 12 ", 12.0),
        ("price", "1e3", 1000.0),
        ("change_pct", "+12.5%", 12.5),
        ("change_pct", "\u22121.5", -1.5),
        ("volume", "1,234,567", 1_234_567),
        ("market_cap", "1.5E+9", 1_500_000_000),
        ("market_cap", "2.0", 2),
        ("exchange", "nasdaq", "NASDAQ"),
        ("sector", "health care", "Health Care"),
        ("updated_at", "2026-11-20T16:00:00Z", "2026-11-20 16:00:00"),
        ("updated_at", "2026-11-20T17:30:00+01:30", "2026-11-20 16:00:00"),
        ("updated_at", "2026-11-20 16:00:00.999", "2026-11-20 16:00:00"),
        ("updated_at", "2026-11-20 16:00", "2026-11-20 16:00:00"),
        ("updated_at", "2026-11-20", "2026-11-20 00:00:00"),
        ("updated_at", "2026/11/20 16:00:00", "2026-11-20 16:00:00"),
        ("updated_at", "20 Nov 2026 4:00 PM", "2026-11-20 16:00:00"),
        ("updated_at", "November 20, 2026 16:00", "2026-11-20 16:00:00"),
        ("updated_at", "Fri, 20 Nov 2026 16:00:00 +0000", "2026-11-20 16:00:00"),
        ("updated_at", "Nov 20 2026 12:00 AM UTC", "2026-11-20 00:00:00"),
    ],
)
def test_cells_are_parsed_by_their_column(key, cell, value):
    row = list(GOOD)
    row[HEADER.index(key)] = cell
    (loaded,) = parsed(csv_bytes(row))
    assert loaded[1 + HEADER.index(key)] == value
    assert type(loaded[1 + HEADER.index(key)]) is type(value)


def test_a_column_the_quick_check_cannot_read_is_parsed_from_then_on(monkeypatch):
    """The first block with "1,234" is read again row by row, and switches the column to
    its parser: the blocks after it are read once (only the last, with a bad row, twice)."""
    rows = good_rows(3 * BLOCK_ROWS + 5)
    for row in rows[BLOCK_ROWS - 1 :]:
        row[HEADER.index("volume")] = "1,234"
    rows[-1][HEADER.index("volume")] = "1,2345"
    again = []
    row_by_row = CsvRows._row_by_row
    monkeypatch.setattr(
        CsvRows, "_row_by_row", lambda self, *args: again.append(args[1]) or row_by_row(self, *args)
    )
    reader = CsvRows(io.BytesIO(csv_bytes(*rows)), skip_bad=True)
    loaded = [row for block in reader.blocks() for row in block]
    assert len(loaded) == len(rows) - 1
    assert {row[7] for row in loaded[BLOCK_ROWS - 1 :]} == {1234}
    assert [str(bad) for bad in reader.bad] == [
        f"line {len(rows) + 1}, volume: '1,2345': a comma may only separate thousands (1,234.5)"
    ]
    assert again == [1, 3 * BLOCK_ROWS + 1]  # the first ids of the blocks read twice
    assert [str(bad) for bad in reader.bad] == [
        f"line {len(rows) + 1}, volume: '1,2345': a comma may only separate thousands (1,234.5)"
    ]


@pytest.mark.parametrize(
    ("key", "cell", "reason"),
    [
        ("price", "abc", "price: 'abc' is not a number"),
        ("price", "1,5", "price: '1,5': a comma may only separate thousands"),
        ("price", "5%", "price: '5%' is a percentage, and price is not one"),
        ("price", "nan", "price: 'nan' is not a finite number"),
        ("price", "1e999", "price: '1e999' is not a finite number"),
        ("price", "", "price: empty, and the column needs a value"),
        ("volume", "1.5", "volume: '1.5' is not a whole number"),
        ("volume", str(2**63), "volume: '9223372036854775808' is out of range"),
        ("symbol", "", "symbol: empty, and the column needs a value"),
        ("symbol", "X" * 17, "symbol: 17 characters, the column holds at most 16"),
        ("exchange", "AMEX", "exchange: 'AMEX' is not one of NYSE, NASDAQ"),
        ("updated_at", "11/12/2026", "updated_at: '11/12/2026': is the day or the month first?"),
        ("updated_at", "2026-02-30 10:00:00", "updated_at: '2026-02-30 10:00:00' is not a date"),
        ("updated_at", "soon", "updated_at: 'soon' is not a date and time"),
    ],
)
def test_a_bad_cell_is_reported_with_its_line_column_and_reason(key, cell, reason):
    row = list(GOOD)
    row[HEADER.index(key)] = cell
    reader = CsvRows(io.BytesIO(csv_bytes(*good_rows(2), row)), skip_bad=True)
    assert len([row for block in reader.blocks() for row in block]) == 2
    assert len(reader.bad) == 1
    assert str(reader.bad[0]).startswith(f"line 4, {reason}")


def test_a_row_of_the_wrong_width_is_bad_and_blank_lines_are_skipped():
    data = csv_bytes(*good_rows(2)) + b"\r\n" + b"A,B\r\n" + ",".join(good_rows(1, 9)[0]).encode()
    reader = CsvRows(io.BytesIO(data), skip_bad=True)
    assert len([row for block in reader.blocks() for row in block]) == 3
    assert [str(bad) for bad in reader.bad] == ["line 5: 2 fields, the header has 9"]


def test_one_bad_row_refuses_the_load_and_the_first_twenty_are_listed(seeded):
    before = table(seeded)
    rows = good_rows(100)
    for n in range(3, 100, 4):  # 25 bad rows
        rows[n][HEADER.index("price")] = "n/a"
    with pytest.raises(CsvRowsError) as refused:
        load(seeded, csv_bytes(*rows), reset=True)
    lines = str(refused.value).splitlines()
    assert lines[0] == (
        "test.csv: 25 rows are bad; nothing was loaded, the table is as it was; "
        "--skip-bad loads the other 75:"
    )
    assert lines[1:3] == [
        "  line 5, price: 'n/a' is not a number",
        "  line 9, price: 'n/a' is not a number",
    ]
    assert len(lines) == 1 + 20 + 1
    assert lines[-1] == "  and 5 more"
    assert table(seeded) == before


def test_skip_bad_loads_the_good_rows_and_says_how_many_it_skipped(seeded):
    rows = good_rows(10)
    rows[4][HEADER.index("volume")] = "lots"
    result = load(seeded, csv_bytes(*rows), reset=True, skip_bad=True)
    assert (result.rows, result.skipped, result.replaced) == (9, 1, 50)
    assert count_rows(seeded) == 9


def test_a_repeated_symbol_names_both_lines_even_with_skip_bad(seeded):
    before = table(seeded)
    rows = good_rows(BLOCK_ROWS + 10)
    rows[1][1] = "Two\nline name"  # the lines after it count its line break
    rows[BLOCK_ROWS + 5][0] = rows[2][0]
    rows[BLOCK_ROWS + 7][0] = rows[2][0]
    with pytest.raises(CsvRowsError) as refused:
        load(seeded, csv_bytes(*rows), reset=True, skip_bad=True)
    assert str(refused.value).splitlines() == [
        "test.csv: 2 rows repeat another row's symbol; nothing was loaded, the table is as it was:",
        f"  line {BLOCK_ROWS + 8}, symbol: 'S2' repeats line 5",
        f"  line {BLOCK_ROWS + 10}, symbol: 'S2' repeats line 5",
    ]
    assert table(seeded) == before


def test_line_numbers_count_the_lines_inside_quoted_fields():
    rows = good_rows(5)
    rows[0][1] = "one\ntwo\r\nthree\rfour"
    rows[3][HEADER.index("price")] = "x"
    reader = CsvRows(io.BytesIO(csv_bytes(*rows)), skip_bad=True)
    list(reader.blocks())
    assert str(reader.bad[0]).startswith("line 8, price:")


def test_the_file_is_read_as_it_is_loaded_not_first():
    data = csv_bytes(*good_rows(5 * BLOCK_ROWS))
    reader = CsvRows(io.BytesIO(data))
    blocks = reader.blocks()
    next(blocks)
    assert reader.bytes_read < len(data) / 2
    for _ in blocks:
        pass
    assert reader.bytes_read == len(data)


def test_progress_goes_by_bytes_read_up_to_the_file_size(engine):
    data = csv_bytes(*good_rows(3 * BLOCK_ROWS))
    seen = []
    load_csv(engine, CsvRows(io.BytesIO(data)), progress=lambda read, stage: seen.append(read))
    assert seen == sorted(seen)
    assert seen[-1] == len(data)


def test_a_file_that_breaks_off_midway_leaves_the_previous_data(seeded):
    before = table(seeded)
    data = csv_bytes(*good_rows(2 * BLOCK_ROWS)) + b"Z,\xff\xfe,NYSE\r\n"
    with pytest.raises(CsvError, match="not UTF-8 text"):
        load(seeded, data, reset=True)
    assert table(seeded) == before


@pytest.mark.parametrize("tail", [b"", b"Z,\xff\r\n"], ids=["loaded", "failed"])
def test_the_garbage_collector_is_back_on_after_a_load(tail):
    """It is off while a file is read (a quarter of the parse's time, for no garbage)."""
    reader = CsvRows(io.BytesIO(csv_bytes(*good_rows(2 * BLOCK_ROWS)) + tail))
    blocks = reader.blocks()
    next(blocks)
    assert not gc.isenabled()
    with contextlib.suppress(CsvError):
        list(blocks)
    assert gc.isenabled()


def test_a_non_empty_table_needs_reset(seeded):
    with pytest.raises(SeedError, match=r"pass --reset to replace them with the rows of test\.csv"):
        load(seeded, csv_bytes(*good_rows(2)))
    assert count_rows(seeded) == 50


NULLABLE = TableSpec(
    name="listings",
    title="Listings",
    noun=("listing", "listings"),
    columns=(
        ColumnSpec("code", "Code", String(8), Kind.TEXT, TEXT, unique=True),
        ColumnSpec("note", "Note", String(40), Kind.TEXT, TEXT, nullable=True),
        ColumnSpec("size", "Size", Double(), Kind.NUMBER, COUNT, nullable=True),
        ColumnSpec("seen", "Seen", String(19), Kind.TIME, UTC_TIMESTAMP, nullable=True),
        ColumnSpec("gone", "Gone", String(19), Kind.TIME, UTC_TIMESTAMP, nullable=True),
    ),
)


def test_empty_cells_and_missing_columns_are_null_where_the_spec_allows_it():
    data = csv_bytes(
        ["A", "", "", ""],
        ["B", "x", "1.5", " "],
        ["", "", "", ""],
        header=["code", "note", "size", "seen"],
    )
    reader = CsvRows(io.BytesIO(data), spec=NULLABLE, skip_bad=True)
    assert [row for block in reader.blocks() for row in block] == [
        (1, "A", None, None, None, None),
        (2, "B", "x", 1.5, None, None),
    ]
    assert [str(bad) for bad in reader.bad] == ["line 4, code: empty, and the column needs a value"]


@pytest.mark.parametrize(
    ("args", "data", "message"),
    [
        (["--csv", "/nonexistent/stocks.csv"], None, "No such file or directory"),
        (["--csv", "/"], None, "Is a directory"),
        (["--csv", "-"], b"", "standard input is empty"),
        (["--csv", "-"], b"symbol,name\r\nA,B\r\n", "has no exchange, sector, price"),
        (["--csv", "-"], b"symbol,\xff\r\n", "not UTF-8"),
        (["--csv", "-"], csv_bytes() + b'"A"B,C\r\n', "standard input, line 2: ',' expected"),
        (["--csv", "-", "--rows", "5"], b"", "--rows is for generated stocks, not --csv"),
        (["--skip-bad"], None, "--skip-bad goes with --csv"),
    ],
)
def test_cli_bad_input_gives_one_line_and_exit_2(new_database, args, data, message):
    url = new_database()
    done = subprocess.run(
        [sys.executable, "seed.py", "--database-url", url, *args],
        input=data or b"",
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == b""
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ")
    assert message in lines[0]


def test_cli_lists_bad_rows_and_exits_1_leaving_the_table(new_database):
    url = new_database()
    rows = [[*row, "a note"] for row in good_rows(3)]
    rows[1][HEADER.index("price")] = "cheap"
    done = subprocess.run(
        [sys.executable, "seed.py", "--database-url", url, "--csv", "-"],
        input=csv_bytes(*rows, header=[*HEADER, "Notes"]),
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == [
        "Ignoring columns the table does not have: Notes",
        "Error: standard input: 1 row is bad; nothing was loaded, the table is as it was; "
        "--skip-bad loads the other 2:",
        "  line 3, price: 'cheap' is not a number",
    ]
    engine = make_engine(url)
    try:
        assert count_rows(engine) == 0
    finally:
        engine.dispose()


# The quick checks take only what the column's parser would return unchanged, and hand the
# rest to it: reading a file through them must give what reading it row by row gives.
CELLS = {
    Kind.TEXT: ["ACME", "", " ", "'", "'=x", "=x", "-1", "X" * 17, "Zürich\n", "  a  "],
    Kind.ENUM: ["NYSE", "nyse", " TSX ", "'NYSE", "AMEX", "", "Energy"],
    Kind.NUMBER: [
        *("1", "1.5", "-0", " 2 ", "1_0", "1,234", "1,5", "5%", "\u22121", "nan", "inf"),
        *("1e999", "2.0", "1.5e9", str(2**63), str(-(2**63)), "", "x", "0x10", "١٢"),
    ],
    Kind.TIME: [
        *("2026-11-20 16:00:00", " 2026-11-20 16:00:00", "2026-11-20T16:00:00", ""),
        *("2026-11-20 16:00:00+01:00", "2026-11-20 24:00:00", "2026-02-30 10:00:00"),
        *("2026-11-20 16:00:60", "2026-11-20 16:00:00.5", "2026-11-20 16:00", "20 Nov 2026"),
    ],
}
ODD_CELL = st.integers(0, len(HEADER) - 1).flatmap(
    lambda i: st.tuples(
        st.just(i),
        st.one_of(st.sampled_from(CELLS[STOCKS.columns[i].kind]), st.text(max_size=4)),
    )
)
ROWS = st.lists(st.lists(ODD_CELL, max_size=2), min_size=1, max_size=12)  # good rows, but...


def read(data: bytes, quick: bool) -> tuple[list[tuple], list[str]]:
    reader = CsvRows(io.BytesIO(data), skip_bad=True)
    if not quick:

        def row_by_row(rows, first_id):
            raise ValueError("read every block row by row")

        reader._convert = row_by_row
        reader._compiled = lambda: row_by_row
    try:
        loaded = [row for block in reader.blocks() for row in block]
    except CsvRowsError:  # all bad, or a repeated symbol: the same either way
        loaded = []
    return loaded, [str(bad) for bad in reader.bad + reader.repeats]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS)
def test_the_quick_checks_read_what_the_parsers_read(rows):
    made = good_rows(len(rows))
    for row, odd_cells in zip(made, rows, strict=True):
        for i, cell in odd_cells:
            row[i] = cell
    data = csv_bytes(*made)
    assert read(data, quick=True) == read(data, quick=False)
