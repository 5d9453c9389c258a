"""The generated row renderers against the hand-written ones they replaced, in process.

The page's renderer is also measured end to end (the handwritten variant of the throughput
table); this section times each output's renderer alone, so a slower CSV or NDJSON
renderer shows here even when the database or the network hides it. Same rows, same
process, the two taking turns; medians of ``ROUNDS``.
"""

from __future__ import annotations

import timeit
from dataclasses import replace
from statistics import median
from typing import Any

from web.compression import COMPRESSORS
from web.models import STOCKS
from web.render import renderers_for
from web.seeding import generate_rows
from web.streams import Tally

from . import baselines
from .log import progress

ROWS = 20_000
CHUNK_ROWS = 500
ROUNDS = 15


def measure() -> dict[str, Any]:
    if reason := baselines.handwritten_unfit():
        return {"note": reason}
    rows = [row[1:] for block in generate_rows(ROWS, seed=1) for row in block]
    chunks = [rows[i : i + CHUNK_ROWS] for i in range(0, len(rows), CHUNK_ROWS)]
    generated = renderers_for(STOCKS)
    pairs = {
        "html": (generated.html, baselines.handwritten_row_group),
        "csv": (generated.csv, baselines.handwritten_csv_rows),
        "ndjson": (generated.ndjson, baselines.handwritten_ndjson_rows),
    }
    results = []
    for name, (made, by_hand) in pairs.items():
        if made(chunks[0]) != by_hand(chunks[0]):
            results.append({"output": name, "error": "the outputs differ"})
            continue
        times: dict[str, list[float]] = {"generated": [], "handwritten": []}
        for _ in range(ROUNDS):
            for kind, render in (("generated", made), ("handwritten", by_hand)):
                times[kind].append(timeit.timeit(lambda r=render: [r(c) for c in chunks], number=1))
        generated_s, handwritten_s = median(times["generated"]), median(times["handwritten"])
        results.append(
            {
                "output": name,
                "generated_rows_per_s": round(ROWS / generated_s),
                "handwritten_rows_per_s": round(ROWS / handwritten_s),
                "ratio": round(handwritten_s / generated_s, 3),
            }
        )
        progress(f"renderer {name}: generated {results[-1]['ratio']}x hand-written")
    return {
        "rows": ROWS,
        "rounds": ROUNDS,
        "results": results,
        "row_link": _row_link(chunks),
        "facets": _facets(chunks),
    }


def _facets(chunks: list) -> dict[str, Any]:
    """What counting the facets costs the page: each chunk rendered and tallied (footer
    figures, as every page does) with the facet counts and without, in rows/s."""
    render = renderers_for(STOCKS).html
    plain = replace(STOCKS, columns=tuple(replace(c, facetable=False) for c in STOCKS.columns))

    def page(table) -> None:
        tally = Tally(table, totals=True)
        for chunk in chunks:
            tally.add(chunk)
            render(chunk)

    times: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(ROUNDS):
        for name, table in (("with", STOCKS), ("without", plain)):
            times[name].append(timeit.timeit(lambda t=table: page(t), number=1))
    result = {
        "facets": [column.key for _, column in STOCKS.facets],
        "rows_per_s_ratio": round(median(times["without"]) / median(times["with"]), 3),
    }
    progress(f"facets: {result}")
    return result


def _row_link(chunks: list) -> dict[str, Any]:
    """What the symbol's link to its row page costs the page's renderer: the same spec with
    and without it, in bytes a row (raw and compressed as served) and rows/s."""
    key = STOCKS.row_key.key
    unlinked = replace(
        STOCKS,
        columns=tuple(replace(c, links=False) if c.key == key else c for c in STOCKS.columns),
    )
    pair = {"linked": renderers_for(STOCKS).html, "unlinked": renderers_for(unlinked).html}
    times: dict[str, list[float]] = {name: [] for name in pair}
    for _ in range(ROUNDS):
        for name, render in pair.items():
            times[name].append(timeit.timeit(lambda r=render: [r(c) for c in chunks], number=1))
    pages = {name: [render(c).encode() for c in chunks] for name, render in pair.items()}
    packed = {name: _served_zstd(groups) for name, groups in pages.items()}
    pages = {name: b"".join(groups) for name, groups in pages.items()}
    result = {
        "bytes_per_row": {name: round(len(page) / ROWS, 1) for name, page in pages.items()},
        "zstd_bytes_per_row": {name: round(size / ROWS, 1) for name, size in packed.items()},
        "bytes_ratio": round(len(pages["linked"]) / len(pages["unlinked"]), 3),
        "zstd_bytes_ratio": round(packed["linked"] / packed["unlinked"], 3),
        "rows_per_s_ratio": round(median(times["unlinked"]) / median(times["linked"]), 3),
    }
    progress(f"row link: {result}")
    return result


def _served_zstd(chunks: list[bytes]) -> int:
    """Bytes on the wire with zstd as the app serves it: one flushed block per chunk."""
    compress, finish = COMPRESSORS["zstd"]()
    return sum(len(compress(chunk)) for chunk in chunks) + len(finish())
