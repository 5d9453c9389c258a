"""Turn chunks of rows into text: HTML row groups, CSV records and NDJSON lines.

Each per-row loop of the app lives here, generated from a :class:`web.spec.TableSpec` once,
when the app starts: one f-string (or tuple) per row in a list comprehension per chunk, with
each column's format written into it, so no row pays for looking up its columns' specs.
Measured in ``make bench`` against the hand-written renderer this replaced (kept there as a
baseline): the same rows/s. One ``render_template`` per row (the classic baseline) streams
about a fifteenth as many rows/s: README's Benchmark has the figures.

NULL is an empty cell, an empty CSV field and JSON ``null``; only nullable columns pay for
the check.

Values are rendered by their type, whatever the storage holds: SQLite keeps text in an
integer column if it is given text, PostgreSQL keeps ``NaN`` and ``Infinity`` in a
``double precision`` one. Each output has two generated loops. The *fast* one writes each
value as its column's format says, and raises rather than guess when a value is not what
the column declares: a number cell is guarded (``v * 0.0 == 0.0`` is false for NaN and the
infinities and raises for text), a text cell goes through a function that only takes text.
A chunk it refuses is rendered again by the *safe* loop, which writes each value by what it
is (:func:`html_value`, :func:`csv_value`, :func:`json_value`). So ordinary rows pay for a
multiplication and a comparison per number cell, and an odd value costs its chunk a second,
slower pass.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, partial
from typing import Any
from urllib.parse import quote

from flask import Flask, current_app
from sqlalchemy import Row

from .spec import ColumnSpec, Kind, TableSpec, Tone
from .values import as_text, is_finite_number, is_number

try:
    # markupsafe's C escaper without the Markup wrapper: ~0.8 us/row faster than html.escape.
    # It takes text only (anything else raises SystemError): the fast loops rely on that.
    from markupsafe import _escape_inner as escape_text
except ImportError:  # pragma: no cover - a markupsafe that moved it; same output, slower
    from html import escape as escape_text

RenderRows = Callable[[Sequence[Row]], str]

# Text that a spreadsheet would run as a formula. OWASP's list (CSV Injection) is = + - @,
# tab and carriage return at the start of a cell. We go further, as OWASP's advice to treat
# every cell as untrusted allows: the same characters behind leading whitespace (" =1+1",
# "\n=1+1"), because an importer or a user that trims a cell (many do) is left with a
# formula; and their fullwidth forms (U+FF1D, U+FF0B, U+FF0D, U+FF20), which Unicode NFKC
# normalisation, and spreadsheets in East Asian locales, fold into the ASCII ones. The cost
# is an apostrophe on a name that begins so, which no real company name does; the risk left
# undefused is a formula run on a reader's machine.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_SUSPECT_FIRST = frozenset(FORMULA_PREFIXES).union(
    char for char in map(chr, range(sys.maxunicode + 1)) if char.isspace()
)


def defuse(text: str) -> str:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (OWASP)."""
    # One set lookup for the first character keeps ordinary text as fast as one startswith.
    if text[:1] in _SUSPECT_FIRST and (
        text.startswith(FORMULA_PREFIXES) or text.lstrip().startswith(FORMULA_PREFIXES)
    ):
        return "'" + text
    return text


# -- each value by its type, for the safe loops --------------------------------------------
# NaN and the infinities have no JSON form (RFC 8259 section 6): they are null, as
# JavaScript's JSON.stringify writes them, so a number field stays a number or null for
# every reader; a string such as "NaN" would change the field's type under them. In HTML and
# CSV they are spelled as PostgreSQL spells them (web/values.py).


def html_value(value: Any, spec: str | None, scale: float = 1.0, unit: str = "") -> str:
    """A cell's HTML by the value's type: a number in the column's format (scaled, with its
    unit), text escaped."""
    if value is None:
        return ""
    if is_number(value):
        if not is_finite_number(value):
            return as_text(value)
        if not spec:
            return escape_text(str(value))
        return escape_text(format(value if scale == 1 else value / scale, spec) + unit)
    return escape_text(as_text(value))


def link_text(value: Any) -> str:
    """A row link's text, whatever the value is (the safe loop's)."""
    return "" if value is None else as_text(value)


def is_negative(value: Any) -> bool:
    """Whether a signed cell is marked negative, whatever the value is (the safe loop's)."""
    return is_number(value) and value < 0


def csv_value(value: Any) -> Any:
    """A CSV field by the value's type: a number as it is, anything else as defused text."""
    if value is None or is_finite_number(value):
        return value
    if is_number(value):
        return as_text(value)  # NaN, Infinity: our own literal, never a formula of the data's
    return defuse(as_text(value))


def json_value(value: Any, kind: str) -> str:
    """A JSON value by the value's type: a finite number, a string, or null."""
    if value is None:
        return "null"
    if is_number(value):
        if not is_finite_number(value):
            return "null"
        return str(value) if isinstance(value, Decimal) else repr(value)  # both valid JSON
    text = as_text(value)
    if kind == "utc_timestamp":  # as the fast loop writes it, whatever the text
        text = text.replace(" ", "T") + "Z"
    return json.dumps(text)


@dataclass(frozen=True)
class Renderers:
    html: RenderRows  # one row group: a fixed-layout table in a content-visibility block
    csv: RenderRows  # RFC 4180 records (CRLF line ends, quotes only where needed)
    ndjson: RenderRows  # one JSON object per line
    json: RenderRows  # JSON objects separated by commas, for the items of an array
    csv_header: str


EXTENSION_KEY = "streamtable.renderers"


def init_app(app: Flask, table: TableSpec) -> None:
    """Generate the served table's renderers when the app starts (a bad spec fails here)."""
    app.extensions[EXTENSION_KEY] = renderers_for(table)


def current_renderers() -> Renderers:
    return current_app.extensions[EXTENSION_KEY]


@cache
def renderers_for(table: TableSpec) -> Renderers:
    """The table's renderers, generated once per table: each a fast loop, and a safe one
    for the chunks the fast one refuses (see the module's docstring)."""
    names = [f"v{i}" for i in range(len(table.columns))]

    def both(name: str, source: Callable[..., tuple[str, dict]], *args: str) -> RenderRows:
        fast = _compile(name, *source(table, names, name, False, *args))
        safe = _compile(f"{name}_safe", *source(table, names, f"{name}_safe", True, *args))
        return _with_fallback(fast, safe)

    return Renderers(
        html=both("html_row_group", _html_source),
        csv=both("csv_rows", _csv_source),
        ndjson=both("ndjson_rows", _json_source, "", "\\n"),
        json=both("json_rows", _json_source, ",", ""),
        csv_header=_csv_record(table.keys),
    )


class OddValue(Exception):
    """Raised by a fast loop for a value its column's format cannot write as it is."""


def _odd() -> None:
    raise OddValue


def _with_fallback(fast: RenderRows, safe: RenderRows) -> RenderRows:
    def render_rows(rows: Sequence[Row]) -> str:
        try:
            return fast(rows)
        # What the fast loop raises on a value it does not take: OddValue from a number
        # guard, TypeError or ValueError from a format, SystemError from markupsafe's
        # escaper, AttributeError from a text method. The safe loop then decides.
        except Exception:
            return safe(rows)

    render_rows.fast, render_rows.safe = fast, safe
    render_rows.source = fast.source  # for reading: what each ordinary row runs
    return render_rows


def _csv_record(values: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()


# -- code generation ----------------------------------------------------------------------
# Values are bound to positional names (v0, v1, ...); literal text goes into the source only
# when it is plain ASCII, and is passed in as a constant otherwise; format specs are checked.
# So a column's key or label can never become code, whatever a database calls its columns.

_NAMESPACE = {
    "e": escape_text,
    "u": partial(quote, safe=""),
    "c": defuse,
    "dumps": json.dumps,
    "io": io,
    "csv": csv,
    "odd": _odd,
    "h": html_value,
    "k": csv_value,
    "j": json_value,
    "text": link_text,
    "negative": is_negative,
}


def _compile(name: str, source: str, constants: dict[str, str] | None = None) -> RenderRows:
    helpers = {**_NAMESPACE, **(constants or {})}
    # Each helper becomes a local of the function (a closure cell of its comprehension):
    # a global of an exec'd namespace is looked up in a plain dict for every use, which made
    # NDJSON ~2x slower than the hand-written renderer (5 dumps calls a row).
    names = ", ".join(helpers)
    header, body = source.split("\n", 1)
    source = f"{header}\n    {names}, = _helpers\n{body}"
    namespace = {"_helpers": tuple(helpers.values())}
    # The source is ours: values are positional names, literal text was checked.
    exec(compile(source, f"<generated {name}>", "exec"), namespace)
    function = namespace[name]
    function.source = source  # for reading and for tests: what each row runs
    return function


def _unpack(names: Sequence[str]) -> str:
    return f"({', '.join(names)},)"


def _fstring_text(text: str, constants: dict[str, str]) -> str:
    """``text`` as the literal part of a single-quoted f-string: written in when it is plain
    ASCII (free of the cost of a replacement field), else a constant of the namespace."""
    if "\\" in text or "'" in text or not all(" " <= char <= "~" for char in text):
        name = f"t{len(constants)}"
        constants[name] = text
        return f"{{{name}}}"
    return text.replace("{", "{{").replace("}", "}}")


def _format_spec(spec: str) -> str:
    if not re.fullmatch(r"[\w,.+\- %#<>^=]*", spec):
        raise ValueError(f"not a format spec: {spec!r}")
    return spec


def _guarded(v: str) -> str:
    """The value, if it is a finite number; else the fast loop gives up on the chunk.
    ``v * 0.0 == 0.0`` is false for NaN and the infinities (their product is NaN), and an
    error for text, bytes, None and a Decimal. Measured in process against the same loops
    unguarded (CPU time, best of 20 passes over 20k rows, three runs at a load average of
    ~7 on 2 cores): HTML 0.89-0.94x, CSV 0.94-0.97x, NDJSON 0.92-0.98x; the chained
    ``-inf < v < inf`` gave 0.89-0.95x, 0.85-0.93x and 0.87-0.90x."""
    return f"({v} if {v} * 0.0 == 0.0 else odd())"


def _nullable(column: ColumnSpec, v: str, null: str, value: str) -> str:
    return f"({null} if {v} is None else {value})" if column.nullable else value


def _constant(value: str, constants: dict[str, str]) -> str:
    """The name of a constant of the namespace holding ``value``, for use in an expression."""
    name = f"t{len(constants)}"
    constants[name] = value
    return name


# Double quotes inside the cells: each row is a single-quoted f-string (Python 3.11).


def _html_open(column: ColumnSpec, v: str, safe: bool) -> str:
    """A cell's start tag; a signed column marks its negatives (``class=d``, ~4 bytes a row
    on average) for their colour: the sign stays the cue that needs no colour."""
    if column.tone is not Tone.SIGNED:
        return "<td>"
    if safe:
        negative = f"negative({v})"
    else:
        negative = f"{v} is not None and {v} < 0" if column.nullable else f"{v} < 0"
    return f'<td{{" class=d" if {negative} else ""}}>'


def _row_link(
    table: TableSpec, column: ColumnSpec, v: str, constants: dict[str, str], safe: bool
) -> str:
    """The cell of the column naming each row's page: a link, relative (``stocks/AAPL``, from
    the page at ``/stocks``) so it holds under any mount point. A value of letters and
    digits is a path segment as it is; anything else is percent-encoded, which also makes
    it safe unquoted in the attribute. Measured in README: bytes and rows/s it costs."""
    base = _fstring_text(table.slug + "/", constants)
    if safe:  # whatever the value is, as text: percent-encoded, escaped
        return f"<a href={base}{{u(text({v}))}}>{{e(text({v}))}}</a>"
    if column.kind is Kind.NUMBER:  # an integer key: digits, safe as they are (":d" or raise)
        return f"<a href={base}{{{v}:d}}>{{{v}:d}}</a>"
    return f"<a href={base}{{{v} if {v}.isalnum() else u({v})}}>{{e({v})}}</a>"


def _html_cell(column: ColumnSpec, v: str, constants: dict[str, str], safe: bool) -> str:
    spec, scale, unit = column.format.html, column.format.scale, column.format.unit
    if spec is not None:
        spec = _format_spec(spec)
    if safe:
        spec_arg = "None" if spec is None else json.dumps(spec)
        unit_arg = _constant(unit, constants) if unit else '""'
        return f"{{h({v}, {spec_arg}, {float(scale)!r}, {unit_arg})}}"
    if spec is None:
        return "{" + _nullable(column, v, '""', f"e({v})") + "}"
    scaled = _guarded(v) if scale == 1 else f"{_guarded(v)} / {float(scale)!r}"
    if not column.nullable:
        return f"{{{scaled}:{spec}}}{_fstring_text(unit, constants)}"
    value = f"format({scaled}, {json.dumps(spec)})"
    if unit:
        value = f"{value} + {_constant(unit, constants)}"
    return "{" + _nullable(column, v, '""', value) + "}"


def _html_source(
    table: TableSpec, names: Sequence[str], name: str, safe: bool
) -> tuple[str, dict[str, str]]:
    # HTML's optional end tags (</td>, </tr>) are left out: a fifth fewer bytes. A group is a
    # <tbody> of the page's one table (templates/stocks/_table_open.html).
    constants: dict[str, str] = {}
    row = "<tr>" + "".join(
        _html_open(c, v, safe)
        + (
            _row_link(table, c, v, constants, safe)
            if c.links
            else _html_cell(c, v, constants, safe)
        )
        for c, v in zip(table.columns, names, strict=True)
    )
    source = (
        f"def {name}(rows):\n"
        "    return ''.join([\n"
        "        '<tbody class=\"g\">',\n"
        f"        *[f'{row}' for {_unpack(names)} in rows],\n"
        "        '</tbody>',\n"
        "    ])\n"
    )
    return source, constants


def _csv_cell(column: ColumnSpec, v: str, safe: bool) -> str:
    # csv writes None as an empty field by itself. A cell that is not a number is defused,
    # whatever its column's format: a timestamp never starts like a formula, text planted
    # in its column may.
    if safe:
        return f"k({v})"
    if column.kind in (Kind.NUMBER, Kind.BLOB) and column.format.csv == "value":
        return _nullable(column, v, "None", _guarded(v))
    return _nullable(column, v, "None", f"c({v})")


def _csv_source(
    table: TableSpec, names: Sequence[str], name: str, safe: bool
) -> tuple[str, dict[str, str]]:
    record = ", ".join(_csv_cell(c, v, safe) for c, v in zip(table.columns, names, strict=True))
    source = (
        f"def {name}(rows):\n"
        "    out = io.StringIO()\n"
        f"    csv.writer(out).writerows([({record},) for {_unpack(names)} in rows])\n"
        "    return out.getvalue()\n"
    )
    return source, {}


_JSON_VALUES = {
    "string": "dumps({v})",  # dumps(None) is null already
    "number": "repr({g})",
    "integer": "{g}",
    "utc_timestamp": 'dumps({v}.replace(" ", "T") + "Z")',
}


def _json_value(column: ColumnSpec, v: str, safe: bool) -> str:
    kind = column.format.json
    if safe:
        return f"{{j({v}, {json.dumps(kind)})}}"
    if kind == "number" and not column.nullable:
        return f"{{{_guarded(v)}!r}}"
    value = _JSON_VALUES[kind].format(v=v, g=_guarded(v))
    if kind != "string":
        value = _nullable(column, v, '"null"', value)
    return f"{{{value}}}"


def _json_source(
    table: TableSpec, names: Sequence[str], name: str, safe: bool, between: str, after: str
) -> tuple[str, dict[str, str]]:
    """One JSON object per row, ``after`` each (escaped as in source), ``between`` them."""
    constants: dict[str, str] = {}
    fields = ",".join(
        _fstring_text(json.dumps(c.key) + ":", constants) + _json_value(c, v, safe)
        for c, v in zip(table.columns, names, strict=True)
    )
    source = (
        f"def {name}(rows):\n"
        f"    return '{between}'.join([f'{{{{{fields}}}}}{after}' for {_unpack(names)} in rows])\n"
    )
    return source, constants
