"""The printed report: plain-text tables with aligned columns, built from the JSON's content."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .csvload import lines as csv_lines


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    formats: Sequence[str] | None = None,
) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned.

    ``formats`` holds a format spec per column (``",.0f"``), used for numbers only.
    """
    specs = list(formats or [""] * len(headers))
    cells = [[_cell(value, specs[i]) for i, value in enumerate(row)] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    numeric = [
        bool(rows) and all(_is_number(row[i]) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.rjust(widths[i]) if numeric[i] else value.ljust(widths[i])
            for i, value in enumerate(values)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in cells)])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _is_number(value):
        return format(value, spec or (",d" if isinstance(value, int) else ",.2f"))
    return str(value)


def _header(report: dict[str, Any]) -> list[str]:
    m = report["machine"]
    dirty = (
        f", {m['git_dirty_files']} uncommitted file(s) in the app" if m["git_dirty_files"] else ""
    )
    return [
        f"streamtable bench  {m['date']}",
        f"machine  {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, load average "
        f"{m['load_avg']} at the start, {m.get('load_avg_end')} at the end",
        f"software Python {m['python']}, SQLite {m['sqlite']}, "
        + (f"PostgreSQL {m['postgresql']}, " if m.get("postgresql") else "")
        + f"{m['chromium'] or 'no Chromium'}",
        f"code     git {m['git_commit']}{dirty}; options {report['options']}",
    ]


def _throughput(report: dict[str, Any]) -> list[str]:
    rows = []
    for r in report.get("throughput", []):
        if r.get("skipped"):
            rows.append([r["variant"], r["rows_expected"], *[None] * 9, r["skipped"]])
            continue
        note = "" if r.get("complete") else f"INCOMPLETE ({r.get('error') or 'no footer'})"
        if r.get("rows") != r["rows_expected"]:
            note = (note + f" got {r.get('rows'):,} rows").strip()
        rows.append(
            [
                r["variant"],
                r["rows_expected"],
                r.get("ttfb_ms"),
                r.get("first_row_ms"),
                r.get("total_s"),
                r.get("rows_per_s"),
                r.get("mb_per_s"),
                r.get("peak_mb"),
                r.get("peak_anon_mb"),
                r.get("ratio_vs_floor"),
                r.get("ratio_vs_handwritten"),
                note,
            ]
        )
    headers = [
        "variant",
        "rows",
        "ttfb ms",
        "first row ms",
        "total s",
        "rows/s",
        "MB/s",
        "peak MB",
        "anon MB",
        "vs floor",
        "vs hand",
        "note",
    ]
    formats = ["", ",d", ",.1f", ",.1f", ",.2f", ",.0f", ".1f", ".1f", ".1f", ".2f", ".3f", ""]
    return [
        "Whole table, one client (median of each figure over the runs; streamtable, floor and",
        "handwritten take turns; vs hand = streamtable's rows/s over handwritten's, the same app",
        "with the hand-written row renderer the generated one replaced). peak = worker VmHWM",
        "(peak resident memory, file pages included); anon = sampled peak RssAnon (heap)",
        table(headers, rows, formats),
    ]


def _sorts(report: dict[str, Any]) -> list[str]:
    section = report.get("sort_orders") or {}
    if "results" not in section:
        return [f"Sort orders: {section.get('error') or section.get('note') or 'not measured'}"]
    rows = [
        [
            r["key"],
            r["dir"],
            r.get("status"),
            r.get("first_row_ms"),
            r.get("cold_ms"),
            r.get("max_ms"),
            r.get("note", ""),
        ]
        for r in section["results"]
    ]
    return [
        f"Sort orders @ {section['rows']:,} rows: time to first row bytes "
        f"(median of {section['samples']}; cold = first request)",
        table(
            ["sort", "dir", "status", "first row ms", "cold ms", "max ms", "note"],
            rows,
            ["", "", "d", ".1f", ".1f", ".1f", ""],
        ),
    ]


def _memory(report: dict[str, Any]) -> list[str]:
    m = report.get("memory") or {}
    if m.get("growth_mb") is None:
        return ["Memory: not measured (needs two sizes)"]
    lines = [
        f"Memory  streamtable worker VmHWM: {m['small_peak_mb']} MB @ {m['small_rows']:,} rows, "
        f"{m['large_peak_mb']} MB @ {m['large_rows']:,} rows ({m['growth_mb']:+.1f} MB)"
    ]
    if m.get("anon_growth_mb") is not None:
        lines.append(
            f"        heap (peak RssAnon): {m['small_anon_mb']} MB -> {m['large_anon_mb']} MB "
            f"({m['anon_growth_mb']:+.1f} MB)"
        )
    return lines


def _concurrency(report: dict[str, Any]) -> list[str]:
    c = report.get("concurrency") or {}
    if "streams" not in c:
        return [f"Concurrency: {c.get('error') or c.get('note') or 'not measured'}"]
    errors = f"\n             errors: {'; '.join(c['errors'])}" if c["errors"] else ""
    if c.get("incomplete_rows"):
        errors += f"\n             rows received by the incomplete ones: {c['incomplete_rows']}"
    if c.get("server_error"):
        errors += f"\n             server log: {c['server_error']}"
    return [
        f"Concurrency  {c['streams']} streams x {c['rows']:,} rows, one worker: "
        f"{c['completed']}/{c['streams']} complete, wall {c['wall_s']} s, "
        f"{c['rows_per_s_total']:,} rows/s in all, "
        f"slowest first row {c['slowest_first_row_ms']} ms,\n             worker VmHWM "
        f"{c['peak_mb']} MB, peak RssAnon {c.get('peak_anon_mb')} MB, "
        f"peak RssFile {c.get('peak_file_mb')} MB{errors}"
    ]


def _renderers(report: dict[str, Any]) -> list[str]:
    section = report.get("renderers") or {}
    if "results" not in section:
        return [f"Renderers: {section.get('error') or section.get('note') or 'not measured'}"]
    rows = [
        [
            r["output"],
            r.get("generated_rows_per_s"),
            r.get("handwritten_rows_per_s"),
            r.get("ratio"),
            r.get("error", ""),
        ]
        for r in section["results"]
    ]
    return [
        f"Row renderers in process, {section['rows']:,} rows, medians of {section['rounds']}"
        " (ratio = generated speed / hand-written speed)",
        table(
            ["output", "generated rows/s", "hand-written rows/s", "ratio", "note"],
            rows,
            ["", ",d", ",d", ".3f", ""],
        ),
        *_feature_costs(section),
    ]


def _feature_costs(section: dict[str, Any]) -> list[str]:
    """What the facets and the symbol's link cost the page's renderer (issue 10)."""
    lines = []
    if facets := section.get("facets"):
        lines.append(
            f"Facets ({', '.join(facets['facets'])}) counted with the rows: page rows/s "
            f"{facets['rows_per_s_ratio']:.3f}x of the same page without them"
        )
    if link := section.get("row_link"):
        raw, packed = link["bytes_per_row"], link["zstd_bytes_per_row"]
        lines.append(
            f"The symbol's link to its row page: rows/s {link['rows_per_s_ratio']:.3f}x without "
            f"it; bytes a row {raw['unlinked']} -> {raw['linked']} raw "
            f"({link['bytes_ratio']:.3f}x), "
            f"{packed['unlinked']} -> {packed['linked']} as served with zstd "
            f"({link['zstd_bytes_ratio']:.3f}x)"
        )
    return lines


def _compression(report: dict[str, Any]) -> list[str]:
    c = report.get("compression") or {}
    notes = "; ".join(c.get("notes", []))
    if c.get("error"):
        return [f"Compression: error: {c['error']}"]
    if not c.get("enabled"):
        return [f"Compression: {notes or 'not measured'}"]
    ident, comp = c["identity"], c["compressed"]
    rows = [
        [
            "identity",
            ident["wire_bytes"],
            ident["rows_per_s"],
            ident["first_row_ms"],
            ident["total_s"],
        ],
        [
            c["encoding"],
            comp["wire_bytes"],
            comp["rows_per_s"],
            comp["first_row_ms"],
            comp["total_s"],
        ],
    ]
    return [
        f"Compression @ {c['rows']:,} rows: wire ratio {c.get('wire_ratio')}, first row before "
        f"the end: {'yes' if c['first_row_before_end'] else 'NO'}"
        + (f" ({notes})" if notes else ""),
        table(
            ["encoding", "wire bytes", "rows/s", "first row ms", "total s"],
            rows,
            ["", ",d", ",.0f", ".1f", ".2f"],
        ),
    ]


def _browser(report: dict[str, Any]) -> list[str]:
    runs = report.get("browser")
    if not isinstance(runs, list) or not runs:
        note = runs.get("note") or runs.get("error") if isinstance(runs, dict) else None
        return [f"Browser: {note or 'not measured'}"]
    rows = []
    for r in runs:
        ev = r.get("evaluate") or {}
        timing = r.get("timing") or {}
        note = "CRASHED " if r.get("crashed") else ""
        if not r.get("finished"):
            note += f"not finished in {r['cap_s']:g} s "
        elif r.get("dom_rows") != r["rows"] or r.get("footer_rows") != r["rows"]:
            note += f"{r.get('dom_rows')} rows in the DOM, footer says {r.get('footer_rows')} "
        note += r.get("error", "")
        rows.append(
            [
                r["rows"],
                timing.get("first_row_painted_s"),
                r.get("first_row_s"),
                r.get("footer_s"),
                timing.get("dom_content_loaded_s"),
                r.get("peak_pss_mb"),
                ev.get("count"),
                ev.get("p50_ms"),
                ev.get("p95_ms"),
                ev.get("max_ms"),
                timing.get("long_task_max_ms"),
                timing.get("total_blocking_ms"),
                (r.get("inputs") or {}).get("p95_ms"),
                note.strip(),
            ]
        )
    headers = [
        "rows",
        "row painted s",
        "row polled s",
        "footer s",
        "DCL s",
        "peak PSS MB",
        "evals",
        "eval p50 ms",
        "eval p95 ms",
        "eval max ms",
        "long task ms",
        "TBT ms",
        "click p95 ms",
        "note",
    ]
    formats = [
        ",d",
        ".2f",
        ".2f",
        ".2f",
        ".2f",
        ",.0f",
        ",d",
        ".0f",
        ".0f",
        ".0f",
        ",d",
        ",d",
        ",.0f",
        "",
    ]
    return [
        "Browser (Chromium; painted/DCL: in-page clock from navigation start; polled/footer:",
        "Playwright round trips from goto, so they include waiting on a busy renderer; TBT:",
        "long tasks' time past 50 ms until the footer; click: sort header clicked during a",
        "stream to its first new row painted, in-page clock)",
        table(headers, rows, formats),
    ]


def _data(report: dict[str, Any]) -> list[str]:
    seed = report.get("seed") or {}
    lines = []
    if "seconds" in seed:
        reported = seed.get("reported_seconds")
        lines.append(
            f"Seed  python seed.py --rows {seed['rows']:,}: {seed['seconds']:.1f} s wall"
            + (f" ({reported:.1f} s as the CLI reports it, without start-up)" if reported else "")
        )
    else:
        lines.append(f"Seed: {seed.get('error', 'not measured')}")
    for d in report.get("data", []):
        how = "reused" if d["reused"] else f"seeded in {d['seconds']} s"
        lines.append(f"  data {d['rows']:>9,} rows: {d['url']} ({how})")
    return lines


def _views(report: dict[str, Any]) -> list[str]:
    section = report.get("views") or {}
    if "pages" not in section:
        return [f"Views: {section.get('error') or 'not measured'}"]
    pages = [
        [p["path"], p["status"], p["first_row_ms"], p["total_s"], p["rows"]]
        for p in section["pages"]
    ]
    exports = [
        [e["path"], e["status"], e["total_s"], e["mb"], e["rows_per_s"]] for e in section["exports"]
    ]
    return [
        f"Views @ {section['rows']:,} rows (one request each, no compression)",
        table(
            ["view", "status", "first row ms", "total s", "rows"],
            pages,
            ["", "d", ".1f", ".3f", ",d"],
        ),
        "",
        table(
            ["export", "status", "total s", "MB", "rows/s"],
            exports,
            ["", "d", ".2f", ".1f", ",d"],
        ),
        "",
        "Views matrix: first row (median of 3, leaving after it), whole view (one request)",
        matrix_table(section.get("matrix", [])),
    ]


def matrix_table(cells: list[dict[str, Any]]) -> str:
    """The views matrix (bench/views.py), a cell a line."""
    rows = [
        [c["kind"], c["view"], c["sort"], c["first_row_ms"], c["whole_s"], c["rows"]] for c in cells
    ]
    return table(
        ["kind", "view", "sort", "first row ms", "whole s", "rows"],
        rows,
        ["", "", "", ".1f", ".3f", ",d"],
    )


def _targets(report: dict[str, Any]) -> list[str]:
    rows = [[t["status"], t["name"], t["goal"], t["measured"]] for t in report.get("targets", [])]
    return ["Targets", table(["", "target", "goal", "measured"], rows)]


def render(report: dict[str, Any]) -> str:
    """The whole printed report."""
    sections = [
        _header(report),
        _throughput(report),
        _sorts(report),
        _views(report),
        _memory(report),
        _concurrency(report),
        _renderers(report),
        _compression(report),
        _browser(report),
        _data(report),
        csv_lines(report.get("csv_load") or {}),
        _targets(report),
    ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"
