"""Turn chunks of rows into text: HTML row groups, CSV records and NDJSON lines.

Each per-row loop of the app lives here, generated from a :class:`web.spec.TableSpec` once,
when the app starts: one f-string (or tuple) per row in a list comprehension per chunk, with
each column's format written into it, so no row pays for looking up its columns' specs.
Measured in ``make bench`` against the hand-written renderer this replaced (kept there as a
baseline): the same rows/s. One ``render_template`` per row (the classic baseline) streams
about a fifteenth as many rows/s: README's Benchmark has the figures.

NULL is an empty cell, an empty CSV field and JSON ``null``; only nullable columns pay for
the check.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from flask import Flask, current_app
from sqlalchemy import Row

from .spec import ColumnSpec, TableSpec

try:
    # markupsafe's C escaper without the Markup wrapper: ~0.8 us/row faster than html.escape.
    from markupsafe import _escape_inner as escape_text
except ImportError:  # pragma: no cover - a markupsafe that moved it; same output, slower
    from html import escape as escape_text

RenderRows = Callable[[Sequence[Row]], str]

# Text that a spreadsheet would run as a formula (OWASP's list: = + - @, tab, carriage return).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def defuse(text: str) -> str:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (OWASP)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


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
    """The table's renderers, generated once per table."""
    names = [f"v{i}" for i in range(len(table.columns))]
    return Renderers(
        html=_compile("html_row_group", _html_source(table, names)),
        csv=_compile("csv_rows", _csv_source(table, names)),
        ndjson=_compile("ndjson_rows", *_json_source(table, names, "ndjson_rows", "", "\\n")),
        json=_compile("json_rows", *_json_source(table, names, "json_rows", ",", "")),
        csv_header=_csv_record(table.keys),
    )


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
    "c": defuse,
    "dumps": json.dumps,
    "io": io,
    "csv": csv,
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


def _html_cell(column: ColumnSpec, v: str) -> str:
    spec = column.format.html
    if not column.nullable:
        return f"{{e({v})}}" if spec is None else f"{{{v}:{_format_spec(spec)}}}"
    # Double quotes inside: the row is a single-quoted f-string (Python 3.11).
    value = f"e({v})" if spec is None else f"format({v}, {json.dumps(_format_spec(spec))})"
    return f'{{"" if {v} is None else {value}}}'


def _html_source(table: TableSpec, names: Sequence[str]) -> str:
    # HTML's optional end tags (</td>, </tr>) are left out: a fifth fewer bytes. A group is a
    # <tbody> of the page's one table (templates/stocks/_table_open.html).
    row = "<tr>" + "".join(
        f"<td>{_html_cell(c, v)}" for c, v in zip(table.columns, names, strict=True)
    )
    return (
        "def html_row_group(rows):\n"
        "    return ''.join([\n"
        "        '<tbody class=\"g\">',\n"
        f"        *[f'{row}' for {_unpack(names)} in rows],\n"
        "        '</tbody>',\n"
        "    ])\n"
    )


def _csv_cell(column: ColumnSpec, v: str) -> str:
    # csv writes None as an empty field by itself.
    if column.format.csv != "text":
        return v
    return f"c({v})" if not column.nullable else f"(None if {v} is None else c({v}))"


def _csv_source(table: TableSpec, names: Sequence[str]) -> str:
    record = ", ".join(_csv_cell(c, v) for c, v in zip(table.columns, names, strict=True))
    return (
        "def csv_rows(rows):\n"
        "    out = io.StringIO()\n"
        f"    csv.writer(out).writerows([({record},) for {_unpack(names)} in rows])\n"
        "    return out.getvalue()\n"
    )


_JSON_VALUES = {
    "string": "dumps({v})",  # dumps(None) is null already
    "number": "repr({v})",
    "integer": "{v}",
    "utc_timestamp": 'dumps({v}.replace(" ", "T") + "Z")',
}


def _json_value(column: ColumnSpec, v: str) -> str:
    kind = column.format.json
    if kind == "number" and not column.nullable:
        return f"{{{v}!r}}"
    value = _JSON_VALUES[kind].format(v=v)
    if column.nullable and kind != "string":
        value = f'"null" if {v} is None else {value}'
    return f"{{{value}}}"


def _json_source(
    table: TableSpec, names: Sequence[str], name: str, between: str, after: str
) -> tuple[str, dict[str, str]]:
    """One JSON object per row, ``after`` each (escaped as in source), ``between`` them."""
    constants: dict[str, str] = {}
    fields = ",".join(
        _fstring_text(json.dumps(c.key) + ":", constants) + _json_value(c, v)
        for c, v in zip(table.columns, names, strict=True)
    )
    source = (
        f"def {name}(rows):\n"
        f"    return '{between}'.join([f'{{{{{fields}}}}}{after}' for {_unpack(names)} in rows])\n"
    )
    return source, constants
