"""Summarise a Chromium trace: the renderer's longest tasks and what their time went to.

    python -m bench.trace TRACE.json [--top 10]

``bench.browser.measure(..., trace_path=...)`` records one (Playwright's ``start_tracing``).
For the main thread of each page renderer it prints the longest top-level tasks, each with
the events inside it that took the most time (self time: an event's duration less its
children's), and the same totals over the whole trace, so "where does the time go" has a
figure per cause: HTML parsing, style, layout, script, garbage collection.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any


def _top_level(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events no other one contains: the thread's tasks, and the microtask checkpoints
    that Chromium runs between tasks (an htmx swap's promise chain is one)."""
    tasks, end = [], -1
    for e in events:
        if e["ts"] >= end:
            tasks.append(e)
            end = e["ts"] + e["dur"]
    return tasks


def _main_threads(events: list[dict[str, Any]]) -> set[tuple[int, int]]:
    return {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M"
        and e.get("name") == "thread_name"
        and e.get("args", {}).get("name") == "CrRendererMain"
    }


def _complete(events: list[dict[str, Any]], thread: tuple[int, int]) -> list[dict[str, Any]]:
    """The thread's events with a duration (``X``, or ``B``/``E`` pairs), sorted by start."""
    done: list[dict[str, Any]] = []
    open_: list[dict[str, Any]] = []
    for e in sorted(
        (e for e in events if (e.get("pid"), e.get("tid")) == thread and "ts" in e),
        key=lambda e: e["ts"],
    ):
        if e.get("ph") == "X" and "dur" in e:
            done.append({"name": e["name"], "ts": e["ts"], "dur": e["dur"]})
        elif e.get("ph") == "B":
            open_.append(e)
        elif e.get("ph") == "E" and open_:
            begin = open_.pop()
            done.append({"name": begin["name"], "ts": begin["ts"], "dur": e["ts"] - begin["ts"]})
    return sorted(done, key=lambda e: (e["ts"], -e["dur"]))


def _self_times(events: list[dict[str, Any]]) -> Counter[str]:
    """Per event name, its time less the time of the events nested in it (microseconds)."""
    totals: Counter[str] = Counter()
    stack: list[dict[str, Any]] = []
    for e in events:
        while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
            stack.pop()
        if stack:
            totals[stack[-1]["name"]] -= min(e["dur"], stack[-1]["ts"] + stack[-1]["dur"] - e["ts"])
        totals[e["name"]] += e["dur"]
        stack.append(e)
    return totals


def summarise(path: Path, top: int = 10) -> str:
    data = json.loads(path.read_text())
    events = data["traceEvents"] if isinstance(data, dict) else data
    lines = []
    for thread in sorted(_main_threads(events)):
        complete = _complete(events, thread)
        tasks = _top_level(complete)
        if not tasks:
            continue
        origin = tasks[0]["ts"]
        busy = sum(t["dur"] for t in tasks)
        lines.append(
            f"renderer {thread[0]} main thread: {len(tasks):,} tasks, {busy / 1e6:.2f} s busy, "
            f"{sum(max(0, t['dur'] - 50_000) for t in tasks) / 1e3:,.0f} ms past 50 ms"
        )
        lines.append("  whole trace, self time by event:")
        for name, us in _self_times(complete).most_common(top):
            lines.append(f"    {us / 1e3:10,.0f} ms  {name}")
        for task in sorted(tasks, key=lambda t: -t["dur"])[:top]:
            inside = [e for e in complete if task["ts"] <= e["ts"] < task["ts"] + task["dur"]]
            parts = ", ".join(
                f"{name} {us / 1e3:,.0f}" for name, us in _self_times(inside).most_common(5)
            )
            lines.append(
                f"  {task['name']} at {(task['ts'] - origin) / 1e6:.2f} s: "
                f"{task['dur'] / 1e3:,.0f} ms ({parts})"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.trace", description=__doc__.splitlines()[0]
    )
    parser.add_argument("trace", type=Path, help="a trace written by Playwright's start_tracing")
    parser.add_argument("--top", type=int, default=10, help="tasks and events to list")
    args = parser.parse_args(argv)
    if not args.trace.is_file():
        parser.error(f"no such file: {args.trace}")
    print(summarise(args.trace, args.top), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
