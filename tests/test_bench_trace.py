"""``python -m bench.trace``: the renderer's longest tasks, and what their time went to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.trace import summarise

from .harness import ROOT

MAIN = {"pid": 7, "tid": 1}


def _event(name: str, start_ms: float, ms: float, **where: int) -> dict:
    return {"ph": "X", "name": name, "ts": start_ms * 1000, "dur": ms * 1000, **(where or MAIN)}


def _trace(tmp_path: Path) -> Path:
    events = [
        {"ph": "M", "name": "thread_name", "args": {"name": "CrRendererMain"}, **MAIN},
        {"ph": "M", "name": "thread_name", "args": {"name": "Compositor"}, "pid": 7, "tid": 2},
        _event("ThreadControllerImpl::RunTask", 0, 300),
        _event("ParseHTML", 10, 250),
        _event("V8.GC", 100, 40),  # inside the parse: its time is not the parser's
        _event("BlinkScheduler_PerformMicrotaskCheckpoint", 400, 120),
        _event("FunctionCall", 410, 100),
        _event("ThreadControllerImpl::RunTask", 600, 20),
        _event("ThreadControllerImpl::RunTask", 0, 5000, pid=7, tid=2),  # not the main thread
    ]
    path = tmp_path / "trace.json"
    path.write_text(json.dumps({"traceEvents": events}))
    return path


def test_tasks_longest_first_with_each_events_own_time(tmp_path: Path):
    lines = [line.strip() for line in summarise(_trace(tmp_path), top=5).splitlines()]
    assert lines[0] == "renderer 7 main thread: 3 tasks, 0.44 s busy, 320 ms past 50 ms"
    assert "210 ms  ParseHTML" in lines  # 250 less the collection's 40
    assert "40 ms  V8.GC" in lines
    tasks = [line for line in lines if " at " in line]
    assert tasks[0].startswith("ThreadControllerImpl::RunTask at 0.00 s: 300 ms (ParseHTML 210")
    assert tasks[1].startswith("BlinkScheduler_PerformMicrotaskCheckpoint at 0.40 s: 120 ms")
    assert len(tasks) == 3 and "5,000" not in "\n".join(lines)


def test_a_missing_trace_is_a_usage_error(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "bench.trace", str(tmp_path / "nope.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "no such file" in done.stderr
    assert "Traceback" not in done.stderr
