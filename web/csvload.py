"""Load the stocks table from a CSV whose header names its columns, parsed by the spec.

``seed.py --csv`` is a thin command line over :class:`CsvRows` and :func:`load_csv`; tests
call them directly. The header names the spec's columns by key or label, in any case; other
columns are ignored and listed, and a required column missing fails before anything is
written. Each cell is parsed by its column's spec: text (at most the column's length),
an enum's choices (in any case), numbers with or without thousands separators (percentages
where the column is in percent), ISO and common date-time forms (stored as the UTC text
``YYYY-MM-DD HH:MM:SS``), empty cells as NULL where the column is nullable.

The file streams through in blocks of :data:`BLOCK_ROWS` into the same atomic load as
generated seeds (:func:`web.seeding.replace_rows`), so a bad row, a repeated unique value or
an interruption leaves the previous data as it was. Memory stays flat but for what finding
repeated symbols needs: ~14 bytes a row (a hash and the symbol's text).

Speed comes from the csv module's C reader and one generated list comprehension per block,
each column's check written into it (C builtins: ``float``, ``int``, a dict lookup, slices);
a cell the quick check does not settle goes to its column's parser, and a block with a bad
row is parsed again row by row, which says where and why.
"""

from __future__ import annotations

import csv
import gc
import io
import math
import re
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from itertools import count, islice
from operator import itemgetter
from typing import BinaryIO

import numpy as np
from sqlalchemy import BigInteger, Engine, SmallInteger

from .models import STOCKS
from .render import FORMULA_PREFIXES
from .seeding import SeedError, replace_rows, rows_to_replace
from .spec import ColumnSpec, Kind, TableSpec

BLOCK_ROWS = 10_000
"""Rows parsed and written per step."""

REPORTED_ROWS = 20
"""Bad rows listed in full; the rest are counted."""

READ_BYTES = 1 << 16

_CACHED_DATES = 100_000  # most dates a timestamp column remembers as valid


class CsvError(SeedError):
    """The file cannot be loaded at all: not UTF-8, not CSV, or a header that does not fit."""


class CsvRowsError(SeedError):
    """Rows of the file are bad or repeat a unique value; the message lists them."""


class BadCell(ValueError):
    """A cell its column cannot hold; the message says why, for people."""


@dataclass(frozen=True)
class BadRow:
    line: int  # where the row starts in the file, counting from 1 (the header)
    problems: tuple[tuple[str | None, str], ...]  # (column key, or None for the row; why)

    def __str__(self) -> str:
        said = "; ".join(f"{key}: {why}" if key else why for key, why in self.problems)
        return f"line {self.line}{',' if self.problems[0][0] else ':'} {said}"


def _shown(cell: str) -> str:
    return repr(cell if len(cell) <= 40 else cell[:40] + "…")


# -- one parser per column kind -------------------------------------------------------------
# Each takes the cell's text and returns the value to store, or raises BadCell. They are the
# authority: the generated quick checks only ever accept what these would return unchanged.


def _undefuse(cell: str) -> str:
    """/stocks.csv writes text a spreadsheet would run as a formula with a leading ``'``
    (web.render.defuse); take it off again, so that an export loads back as it was."""
    return cell[1:] if cell.startswith("'") and cell.startswith(FORMULA_PREFIXES, 1) else cell


def _text_parser(column: ColumnSpec) -> Callable[[str], str]:
    length = getattr(column.sql_type, "length", None)
    defused = column.format.csv == "text"

    def parse(cell: str) -> str:
        value = _undefuse(cell) if defused else cell
        if length is not None and len(value) > length:
            raise BadCell(f"{len(value):,} characters, the column holds at most {length}")
        return value

    return parse


def _enum_parser(column: ColumnSpec) -> Callable[[str], str]:
    folded = {choice.casefold(): choice for choice in column.choices}
    defused = column.format.csv == "text"

    def parse(cell: str) -> str:
        value = _undefuse(cell) if defused else cell
        try:
            return folded[value.strip().casefold()]
        except KeyError:
            raise BadCell(f"{_shown(cell)} is not one of {', '.join(column.choices)}") from None

    return parse


_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


def _number_text(column: ColumnSpec, cell: str) -> str:
    """The cell as Python's float() and int() read it: thousands separators and a percent
    sign (where the column is in percent) taken off, or BadCell."""
    text = cell.strip().replace("\u2212", "-")  # a typographic minus, as spreadsheets print
    if text.endswith("%"):
        if not column.percent:
            raise BadCell(f"{_shown(cell)} is a percentage, and {column.key} is not one")
        text = text[:-1].rstrip()
    if "," in text:
        if not _GROUPED.fullmatch(text):
            raise BadCell(f"{_shown(cell)}: a comma may only separate thousands (1,234.5)")
        text = text.replace(",", "")
    return text


def _float_parser(column: ColumnSpec) -> Callable[[str], float]:
    def parse(cell: str) -> float:
        try:
            value = float(_number_text(column, cell))
        except ValueError as error:
            if isinstance(error, BadCell):
                raise
            raise BadCell(f"{_shown(cell)} is not a number") from None
        if not math.isfinite(value):
            raise BadCell(f"{_shown(cell)} is not a finite number")
        return value

    return parse


def _integer_bounds(column: ColumnSpec) -> tuple[int, int]:
    bits = 64 if isinstance(column.sql_type, BigInteger) else 32
    bits = 16 if isinstance(column.sql_type, SmallInteger) else bits
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _integer_parser(column: ColumnSpec) -> Callable[[str], int]:
    low, high = _integer_bounds(column)

    def parse(cell: str) -> int:
        text = _number_text(column, cell)
        try:
            value = int(text)
        except ValueError:
            try:
                exact = Decimal(text)
            except InvalidOperation:
                raise BadCell(f"{_shown(cell)} is not a number") from None
            if not exact.is_finite() or exact != exact.to_integral_value():
                raise BadCell(f"{_shown(cell)} is not a whole number") from None
            value = int(exact)
        if not low <= value <= high:
            raise BadCell(f"{_shown(cell)} is out of range ({low:,} to {high:,})")
        return value

    return parse


_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_TIME_OF_DAY = (
    r"(?:,?\s+(?:at\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
    r"\s*(?P<half>[ap]\.?m\.?)?)?\s*(?P<zone>z|utc|gmt|[+-]\d{2}:?\d{2})?"
)
_NAMED_MONTH = [  # "20 Nov 2026 16:00", "Fri, 20 Nov 2026 16:00:00 +0000", "Nov 20, 2026 4:00 PM"
    re.compile(
        r"(?:[a-z]+,?\s+)?" + date + _TIME_OF_DAY,
        re.IGNORECASE,
    )
    for date in (
        r"(?P<day>\d{1,2})\s+(?P<month>[a-z]+)\.?,?\s+(?P<year>\d{4})",
        r"(?P<month>[a-z]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})",
    )
]
_DAY_MONTH_YEAR = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b")


def _named_month(text: str) -> datetime | None:
    for pattern in _NAMED_MONTH:
        if (found := pattern.fullmatch(text)) and found["month"].lower() in _MONTHS:
            break
    else:
        return None
    hour = int(found["hour"] or 0)
    if found["half"]:
        if not 1 <= hour <= 12:
            raise ValueError("hour out of range")
        hour = hour % 12 + (12 if found["half"][0].lower() == "p" else 0)
    moment = datetime(
        int(found["year"]),
        _MONTHS[found["month"].lower()],
        int(found["day"]),
        hour,
        int(found["minute"] or 0),
        int(found["second"] or 0),
    )
    zone = (found["zone"] or "").lower()
    if zone[:1] in ("+", "-"):
        return datetime.fromisoformat(f"{moment.isoformat()}{zone}")
    return moment.replace(tzinfo=UTC) if zone else moment


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)  # ISO 8601: T or space, Z or offsets, fractions
    except ValueError:
        pass
    try:
        if text[4:5] == "/":  # 2026/11/20 16:00
            return datetime.fromisoformat(text.replace("/", "-", 2))
        if (moment := _named_month(text)) is not None:
            return moment
    except ValueError:
        raise BadCell(f"{_shown(text)} is not a valid date and time") from None
    if _DAY_MONTH_YEAR.match(text):
        raise BadCell(f"{_shown(text)}: is the day or the month first? Write YYYY-MM-DD")
    raise BadCell(f"{_shown(text)} is not a date and time (2026-11-20 16:00:00, ISO 8601)")


_HOURS_MINUTES = frozenset(f" {h:02}:{m:02}" for h in range(24) for m in range(60))
_SECONDS = frozenset(f":{s:02}" for s in range(60))


class _TimeParser:
    """Timestamps in, the UTC text ``YYYY-MM-DD HH:MM:SS`` out (whole seconds: a fraction is
    dropped). Remembers the dates it has returned, so that the quick check accepts a cell
    already in that form by looking up its date, hours and minutes, and seconds in sets
    (~5x faster than parsing it; a file has few distinct dates)."""

    hours_minutes = _HOURS_MINUTES  # " 16:00"
    seconds = _SECONDS  # ":00"

    def __init__(self) -> None:
        self.dates: set[str] = set()  # "2026-11-20"

    def __call__(self, cell: str) -> str:
        moment = _moment(cell.strip())
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        text = moment.replace(microsecond=0).isoformat(" ")
        if len(self.dates) < _CACHED_DATES:
            self.dates.add(text[:10])
        return text


def _nullable(column: ColumnSpec, parse: Callable[[str], object]) -> Callable[[str], object]:
    """Empty cells (blank ones too, but for text: spaces are text) are NULL where the column
    allows it, else bad."""
    text = column.kind in (Kind.TEXT,)

    def parse_cell(cell: str) -> object:
        if not cell if text else not cell.strip():
            if column.nullable:
                return None
            raise BadCell("empty, and the column needs a value")
        return parse(cell)

    return parse_cell


def _parser(column: ColumnSpec) -> Callable[[str], object]:
    if column.kind is Kind.TIME:
        return _TimeParser()
    if column.kind is Kind.ENUM:
        return _enum_parser(column)
    if column.kind is Kind.TEXT:
        return _text_parser(column)
    python_type = column.sql_type.python_type
    if python_type is float:
        return _float_parser(column)
    if python_type is int:
        return _integer_parser(column)
    raise ValueError(f"{column.key}: no CSV parser for a {python_type.__name__} number")


# -- the quick checks, generated per file ---------------------------------------------------


def _quick(column: ColumnSpec, c: str, n: int, lenient: bool) -> str:
    """The expression a row's tuple holds for ``column``, whose cell is the name ``c``;
    ``P{n}`` is the column's parser. Every expression only ever takes a value the parser
    would return unchanged, and hands anything else to the parser; ``lenient``: the file has
    numbers the quick check does not read (1,234), so they go straight to the parser."""
    p = f"P{n}"
    if column.kind is Kind.TIME:
        checked = f"{c}[:10] in D{n} and {c}[10:16] in HM{n} and {c}[16:] in S{n}"
        return f"({c} if {checked} else {p}({c}))"
    if column.kind is Kind.ENUM:
        return f"(E{n}[{c}] if {c} in E{n} else {p}({c}))"
    if column.kind is Kind.TEXT:
        length = getattr(column.sql_type, "length", None)
        fits = f"0 < len({c}) <= {int(length)}" if length is not None else c
        return f'({c} if {fits} and {c}[0] != "\'" else {p}({c}))'
    if lenient:
        return f"{p}({c})"
    v = f"v{n}"
    if column.sql_type.python_type is float:
        quick = f"({v} if ({v} := float({c})) - {v} == 0.0 else {p}({c}))"  # NaN, inf: no
    else:
        low, high = _integer_bounds(column)
        quick = f"({v} if {low} <= ({v} := int({c})) <= {high} else {p}({c}))"
    return f"(None if not {c} else {quick})" if column.nullable else quick


def _quick_ok(column: ColumnSpec, cell: str) -> bool:
    """Whether the quick check of a number column reads ``cell`` by itself."""
    if column.kind is not Kind.NUMBER or (column.nullable and not cell):
        return True
    try:
        value = (float if column.sql_type.python_type is float else int)(cell)
    except ValueError:
        return False
    return value - value == 0


Convert = Callable[[list[list[str]], int], list[tuple]]


def _compile_convert(
    columns: Sequence[tuple[ColumnSpec, int | None]],
    width: int,
    parsers: Sequence[Callable[[str], object]],
    cells: Sequence[Callable[[str], object]],
    lenient: set[str],
) -> Convert:
    """One list comprehension turning a block of CSV rows into row tuples: the id, then the
    spec's columns. Cells are bound to positional names (c0, c1...), so nothing of the
    file or of the spec's names becomes code. A row of the wrong width fails to unpack."""
    helpers: dict[str, object] = {"zip": zip, "count": count, "float": float, "int": int}
    parts = ["i"]
    for n, ((column, position), parse) in enumerate(zip(columns, parsers, strict=True)):
        if position is None:
            parts.append("None")
            continue
        helpers[f"P{n}"] = cells[n]
        if column.kind is Kind.ENUM:
            helpers[f"E{n}"] = {choice: choice for choice in column.choices}
        if column.kind is Kind.TIME:
            helpers[f"D{n}"], helpers[f"HM{n}"] = parse.dates, parse.hours_minutes
            helpers[f"S{n}"] = parse.seconds
        parts.append(_quick(column, f"c{position}", n, column.key in lenient))
    names = ", ".join(f"c{i}" for i in range(width))
    source = (
        "def convert(rows, first_id):\n"
        f"    {', '.join(helpers)}, = _helpers\n"
        f"    return [({', '.join(parts)},)\n"
        f"            for i, ({names},) in zip(count(first_id), rows)]\n"
    )
    namespace = {"_helpers": tuple(helpers.values())}
    exec(compile(source, "<generated csv convert>", "exec"), namespace)
    convert = namespace["convert"]
    convert.source = source  # for reading and for tests: what each row runs
    return convert


# -- reading -----------------------------------------------------------------------------------


class _Counting(io.RawIOBase):
    """A binary stream that counts the bytes read through it, for the progress bar."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._source.readinto(buffer)
        self.bytes_read += n or 0
        return n


def _header_name(text: str) -> str:
    return " ".join(text.replace("_", " ").split()).casefold()


def _line_spans(rows: list[list[str]]) -> list[int]:
    """How many lines of the file each row took: one, plus the line breaks in its quoted
    fields (a blank line is an empty row of one line)."""
    return [
        1 + joined.count("\n") + joined.count("\r") - joined.count("\r\n")
        for joined in map("\0".join, rows)
    ]


class _Repeats:
    """Finds the values of a unique column that repeat, once the whole file was read, from a
    64-bit hash per row (sorted in place at the end) and each block's values as one string:
    ~14 bytes a row, never the rows themselves."""

    def __init__(self, position: int, nullable: bool) -> None:
        self.position = position  # in the row tuples
        self._hashes = array("q")
        self._ids = array("q") if nullable else None  # else the row at p has the id p + 1
        self._firsts: list[int] = []  # where each block starts in _hashes
        self._values: list[str | tuple] = []  # a block's values, joined by NUL when they can be

    def add(self, rows: list[tuple]) -> None:
        values = list(map(itemgetter(self.position), rows))
        if self._ids is not None:
            self._ids.extend(
                row[0] for row, value in zip(rows, values, strict=True) if value is not None
            )
            values = [value for value in values if value is not None]  # NULLs never repeat
        if not values:
            return
        self._firsts.append(len(self._hashes))
        self._hashes.extend(map(hash, values))
        try:
            joined = "\0".join(values)
        except TypeError:  # not text
            joined = None
        fits = joined is not None and joined.count("\0") == len(values) - 1
        self._values.append(joined if fits else tuple(values))

    def pairs(self) -> list[tuple[int, int, object]]:
        """(id of a row, id of the first row with the same value, the value), by id."""
        hashes = np.frombuffer(self._hashes, dtype=np.int64)
        hashes.sort()  # in place: the hashes are not needed in the file's order again
        repeated = set(np.unique(hashes[1:][hashes[1:] == hashes[:-1]]).tolist())
        if not repeated:
            return []
        # Rare: find the rows again by hashing their values, block by block, in file order.
        first: dict[object, int] = {}
        found = []
        for block, start in enumerate(self._firsts):
            values = self._values[block]
            values = values.split("\0") if isinstance(values, str) else values
            for position, value in enumerate(values, start):
                if hash(value) not in repeated:
                    continue
                row_id = self._ids[position] if self._ids is not None else position + 1
                earliest = first.setdefault(value, row_id)
                if earliest != row_id:
                    found.append((row_id, earliest, value))
        return found


class _Lines:
    """Which line of the file each loaded row starts on, in a few bytes a row: a block
    whose rows are one line each keeps only its first line."""

    def __init__(self) -> None:
        self._firsts: list[int] = []
        self._lines: list[int | np.ndarray] = []  # a block's first line, or each row's

    def add(self, first_id: int, lines: int | list[int]) -> None:
        self._firsts.append(first_id)
        self._lines.append(lines if isinstance(lines, int) else np.array(lines, np.int64))

    def of(self, row_id: int) -> int:
        block = bisect_right(self._firsts, row_id) - 1
        first, lines = self._firsts[block], self._lines[block]
        return lines + row_id - first if isinstance(lines, int) else int(lines[row_id - first])


class CsvRows:
    """The rows of a CSV file, parsed by ``spec``, read in blocks as :meth:`blocks` is
    iterated. The header is read at once: a file that does not fit fails here, with
    :class:`CsvError`, before anything is written.

    By default one bad row fails the load, once the whole file was read to list them (the
    first :data:`REPORTED_ROWS`, then a count); ``skip_bad`` loads the others. A unique
    column's value on two rows fails it either way: which of the two is right is for a
    person to say.
    """

    def __init__(
        self,
        source: BinaryIO,
        name: str = "the CSV",
        spec: TableSpec = STOCKS,
        skip_bad: bool = False,
    ) -> None:
        self.name, self.spec, self.skip_bad = name, spec, skip_bad
        self._counting = _Counting(source)
        text = io.TextIOWrapper(
            io.BufferedReader(self._counting, READ_BYTES), encoding="utf-8-sig", newline=""
        )
        self._reader = csv.reader(text, strict=True)  # a stray quote is an error, not data
        header = self._read(lambda: next(self._reader, None))
        if not header:
            raise CsvError(f"{name} is empty: it needs a header line naming the columns")
        self.width = len(header)
        self.columns, self.ignored = self._match(header)
        self._parsers = [_parser(column) for column, _ in self.columns]
        self._cells = [
            _nullable(c, p) for (c, _), p in zip(self.columns, self._parsers, strict=True)
        ]
        self._lenient: set[str] = set()
        self._convert = self._compiled()
        self.good = 0  # rows that parsed
        self.loaded = 0  # rows handed to the load
        self.bad_count = 0
        self.bad: list[BadRow] = []  # the first REPORTED_ROWS
        self.repeat_count = 0
        self.repeats: list[BadRow] = []  # the first REPORTED_ROWS

    @property
    def bytes_read(self) -> int:
        return self._counting.bytes_read

    def _match(self, header: list[str]) -> tuple[list[tuple[ColumnSpec, int | None]], list[str]]:
        """(column, its position in the file or None) for each of the spec's columns, and the
        header's names that are none of them."""
        names: dict[str, ColumnSpec] = {}
        for column in self.spec.columns:
            for name in {_header_name(column.key), _header_name(column.label)}:
                if names.setdefault(name, column) is not column:
                    raise ValueError(f"{self.spec.name}: {name!r} names two columns")
        found: dict[str, int] = {}
        ignored = []
        for position, text in enumerate(header):
            column = names.get(_header_name(text))
            if column is None:
                ignored.append(text or f"(column {position + 1}, unnamed)")
            elif column.key in found:
                raise CsvError(
                    f"the header of {self.name} names {column.key} twice "
                    f"(columns {found[column.key] + 1} and {position + 1})"
                )
            else:
                found[column.key] = position
        missing = [c.key for c in self.spec.columns if c.key not in found and not c.nullable]
        if missing:
            needed = ", ".join(c.key for c in self.spec.columns if not c.nullable)
            raise CsvError(
                f"the header of {self.name} has no {', '.join(missing)} column "
                f"(it needs {needed}: by key or label, in any case)"
            )
        return [(column, found.get(column.key)) for column in self.spec.columns], ignored

    def _compiled(self) -> Convert:
        return _compile_convert(self.columns, self.width, self._parsers, self._cells, self._lenient)

    def _read(self, read: Callable[[], object]):
        try:
            return read()
        except UnicodeDecodeError:
            raise CsvError(
                f"{self.name} is not UTF-8 text (somewhere after line {self._reader.line_num});"
                " save it as UTF-8"
            ) from None
        except csv.Error as error:
            raise CsvError(f"{self.name}, line {self._reader.line_num}: {error}") from None

    def blocks(self, progress: Callable[[], None] = lambda: None) -> Iterator[list[tuple]]:
        """Blocks of row tuples (the id, then the spec's columns), for
        :func:`web.seeding.replace_rows`; raises :class:`CsvRowsError` at the end when rows
        were bad (unless ``skip_bad``) or a unique value repeats. ``progress`` is called
        for each block read that is not handed on."""
        # Rows are tuples of text and numbers, never cycles, yet each block's lists and tuples
        # set off the collector: its passes cost a quarter of the parse (measured, 1M rows:
        # 9.1 s of CPU with it, 6.8 s without). Off while the file is read, back on after.
        collecting = gc.isenabled()
        gc.disable()
        try:
            yield from self._blocks(progress)
        finally:
            if collecting:
                gc.enable()

    def _blocks(self, progress: Callable[[], None]) -> Iterator[list[tuple]]:
        reader = self._reader
        lines = _Lines()
        repeats = [_Repeats(1 + n, c.nullable) for n, (c, _) in enumerate(self.columns) if c.unique]
        next_id = 1
        while True:
            first_line = reader.line_num + 1
            rows = self._read(lambda: list(islice(reader, BLOCK_ROWS)))
            if not rows:
                break
            regular = reader.line_num - first_line + 1 == len(rows)
            try:
                converted = self._convert(rows, next_id)
            except Exception:  # a cell the quick check and the parsers refuse: find it
                converted, kept_lines = self._row_by_row(rows, next_id, first_line, regular)
            else:
                kept_lines = first_line if regular else _starts(rows, first_line)
            if converted:
                lines.add(next_id, kept_lines)
                for repeat in repeats:
                    repeat.add(converted)
                next_id += len(converted)
                self.good += len(converted)
            if self.bad_count and not self.skip_bad:
                progress()  # the load will fail: read on only to list the bad rows
                continue
            self.loaded += len(converted)
            yield converted
        self._find_repeats(repeats, lines)
        self._finish()

    def _row_by_row(
        self, rows: list[list[str]], next_id: int, first_line: int, regular: bool
    ) -> tuple[list[tuple], list[int]]:
        """The block again, a row at a time: the good rows, and each bad one reported.
        A number column whose good cells the quick check could not read is read by its
        parser from now on."""
        starts = range(first_line, first_line + len(rows)) if regular else _starts(rows, first_line)
        converted: list[tuple] = []
        kept_lines = []
        lenient = set()
        for row, line in zip(rows, starts, strict=True):
            if not row:
                continue  # a blank line
            if len(row) != self.width:
                fields = "1 field" if len(row) == 1 else f"{len(row)} fields"
                said = f"{fields}, the header has {self.width}"
                self._report(BadRow(line, ((None, said),)))
                continue
            values: list[object] = [next_id + len(converted)]
            problems = []
            for (column, position), parse in zip(self.columns, self._cells, strict=True):
                if position is None:
                    values.append(None)
                    continue
                cell = row[position]
                try:
                    values.append(parse(cell))
                except BadCell as error:
                    problems.append((column.key, str(error)))
                    continue
                if not _quick_ok(column, cell):
                    lenient.add(column.key)
            if problems:
                self._report(BadRow(line, tuple(problems)))
            else:
                converted.append(tuple(values))
                kept_lines.append(line)
        if lenient - self._lenient:
            self._lenient |= lenient
            self._convert = self._compiled()
        return converted, kept_lines

    def _report(self, bad: BadRow) -> None:
        self.bad_count += 1
        if len(self.bad) < REPORTED_ROWS:
            self.bad.append(bad)

    def _find_repeats(self, repeats: list[_Repeats], lines: _Lines) -> None:
        found = []
        for repeat in repeats:
            key = self.columns[repeat.position - 1][0].key
            found += [(row_id, key, first, value) for row_id, first, value in repeat.pairs()]
        found.sort(key=lambda repeat: repeat[0])  # ids follow the file's order
        self.repeat_count = len(found)
        self.repeats = [
            BadRow(
                lines.of(row_id), ((key, f"{_shown(str(value))} repeats line {lines.of(first)}"),)
            )
            for row_id, key, first, value in found[:REPORTED_ROWS]
        ]

    def _finish(self) -> None:
        """Fail the load if it must, listing why."""
        if self.repeat_count:
            keys = " or ".join(c.key for c, _ in self.columns if c.unique)
            said = f"{self.repeat_count:,} {_rows(self.repeat_count)} another row's {keys}"
            if self.bad_count:
                said += f", and {self.bad_count:,} {_rows(self.bad_count, 'is', 'are')} bad"
            listed = sorted(self.bad + self.repeats, key=lambda bad: bad.line)
            raise CsvRowsError(self._listing(said, listed, self.repeat_count + self.bad_count))
        if not self.bad_count:
            return
        if not self.skip_bad:
            said = f"{self.bad_count:,} {_rows(self.bad_count, 'is', 'are')} bad"
            hint = f"; --skip-bad loads the other {self.good:,}"
            raise CsvRowsError(self._listing(said, self.bad, self.bad_count, hint))
        if not self.loaded:
            said = f"all {self.bad_count:,} {_rows(self.bad_count, 'is', 'are')} bad"
            raise CsvRowsError(self._listing(said, self.bad, self.bad_count))

    def _listing(self, said: str, listed: list[BadRow], total: int, hint: str = "") -> str:
        head = f"{self.name}: {said}; nothing was loaded, the table is as it was{hint}"
        return "\n".join(
            [head + ":", *(f"  {line}" for line in listing(listed[:REPORTED_ROWS], total))]
        )


def _rows(n: int, one: str = "repeats", more: str = "repeat") -> str:
    return f"row {one}" if n == 1 else f"rows {more}"


def _starts(rows: list[list[str]], first_line: int) -> list[int]:
    """The line each row starts on."""
    starts, line = [], first_line
    for span in _line_spans(rows):
        starts.append(line)
        line += span
    return starts


def listing(bad: Sequence[BadRow], total: int) -> list[str]:
    """The bad rows as lines for people: the first ones, then how many more."""
    lines = [str(row) for row in bad]
    if total > len(bad):
        lines.append(f"and {total - len(bad):,} more")
    return lines


@dataclass(frozen=True)
class CsvResult:
    rows: int
    replaced: int
    skipped: int  # bad rows left out (with skip_bad)


Progress = Callable[[int, str], None]
"""Called with the bytes of the file read so far and the stage: "loading", "indexing", or
"checking" (a bad row was found: the rest is read only to list the bad rows)."""


def load_csv(
    engine: Engine,
    rows: CsvRows,
    reset: bool = False,
    progress: Progress = lambda read, stage: None,
) -> CsvResult:
    """Replace the stocks table with the rows of the CSV, in one transaction (the previous
    data stays if anything fails). Refuses a non-empty table unless ``reset`` is given."""
    if rows.spec is not STOCKS:
        raise ValueError("the loaders write the stocks table; parse other specs with CsvRows")
    existing = rows_to_replace(engine, reset, f"the rows of {rows.name}")

    def loaded(written: int, stage: str) -> None:
        progress(rows.bytes_read, "loading" if stage == "inserting" else stage)

    replace_rows(engine, rows.blocks(lambda: loaded(0, "checking")), loaded)
    return CsvResult(rows=rows.loaded, replaced=existing, skipped=rows.bad_count)
