"""Load the page in Chromium: first row, footer, memory, and whether the page stays usable.

Playwright's sync API is single-threaded, so the main thread drives the page (and times
``evaluate`` round trips, a stand-in for a user's click being handled while rows keep
arriving), while a background thread only reads /proc to sample memory. The Python-side
times include the wait for a busy renderer; the in-page probe (``timing``) says when the
first row was really attached and painted.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from statistics import quantiles
from time import perf_counter, sleep
from typing import Any

from .log import progress
from .machine import chromium_path

SAMPLE_SECONDS = 0.25
POLL_PAUSE_SECONDS = 0.05  # between round trips: a busy user, not a busy loop on 2 cores
LAUNCH_ARGS = ["--disable-gpu", "--disable-quic"]
# In-page clock for the first row: a MutationObserver notes when the first row is attached
# and the frame after it (painted), then disconnects so the rest of the load pays nothing.
FIRST_ROW_PROBE = """
(() => {
  const probe = (window.__bench = { longTasks: [] });
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) probe.longTasks.push(entry.duration);
    }).observe({ type: "longtask", buffered: true });
  } catch (error) {
    probe.longTasks = null; // no Long Tasks API in this browser
  }
  const observer = new MutationObserver(() => {
    if (!document.querySelector(".g tr")) return;
    observer.disconnect();
    probe.attached = performance.now();
    requestAnimationFrame(() => setTimeout(() => (probe.painted = performance.now())));
  });
  observer.observe(document, { childList: true, subtree: true });
})();
"""
# Both O(1) for the page: querySelector stops at the first match, getElementById is a lookup.
PROGRESS = """() => {
  const end = document.getElementById("stream-end");
  return [document.querySelector(".g tr") !== null, end && end.getAttribute("data-rows")];
}"""
DOM_ROWS = '() => document.querySelectorAll(".g tr").length'
PAGE_TIMING = """() => {
  const n = performance.getEntriesByType("navigation")[0] || {};
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  const probe = window.__bench || {};
  const s = (v) => (v ? Math.round(v) / 1000 : null);
  const tasks = probe.longTasks;
  return {long_tasks: tasks && tasks.length,
          long_task_max_ms: tasks && Math.round(Math.max(0, ...tasks)),
          long_task_total_ms: tasks && Math.round(tasks.reduce((a, b) => a + b, 0)),
          first_row_attached_s: s(probe.attached), first_row_painted_s: s(probe.painted),
          first_contentful_paint_s: s(fcp && fcp.startTime), response_end_s: s(n.responseEnd),
          dom_content_loaded_s: s(n.domContentLoadedEventEnd)};
}"""


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return found


def _descendants(root: int) -> list[int]:
    seen: list[int] = []
    stack = [root]
    while stack and len(seen) < 10_000:
        for child in _children(stack.pop()):
            seen.append(child)
            stack.append(child)
    return seen


def _is_chromium(pid: int) -> bool:
    try:
        return "chrom" in os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def chromium_pss_mb() -> float:
    """PSS summed over the Chromium processes under this one (Playwright's driver runs them)."""
    pids = [pid for pid in _descendants(os.getpid()) if _is_chromium(pid)]
    return sum(_pss_kb(pid) for pid in pids) / 1024


class MemorySampler(threading.Thread):
    """Samples the Chromium tree's PSS every ``SAMPLE_SECONDS`` until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb = 0.0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_mb = max(self.peak_mb, chromium_pss_mb())
            self.samples += 1
            self._stop_event.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


def _percentiles(latencies: list[float]) -> dict[str, float | None]:
    if not latencies:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    if len(latencies) == 1:
        cuts = [latencies[0]] * 99
    else:
        cuts = quantiles(latencies, n=100, method="inclusive")
    return {
        "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1),
        "max_ms": round(max(latencies), 1),
    }


def measure(base_url: str, rows: int, cap_seconds: float) -> dict[str, Any]:
    """Load ``/stocks`` once in a fresh browser; every figure is seconds from ``goto``."""
    from playwright.sync_api import Error, sync_playwright

    progress(f"browser @ {rows:,}: loading (cap {cap_seconds:.0f} s)")
    entry: dict[str, Any] = {"rows": rows, "cap_s": cap_seconds, "crashed": False}
    latencies: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
        sampler = MemorySampler()
        try:
            page = browser.new_page()
            crashed = threading.Event()
            page.on("crash", lambda _page: crashed.set())
            page.add_init_script(FIRST_ROW_PROBE)
            entry["idle_pss_mb"] = round(chromium_pss_mb(), 1)
            sampler.start()
            started = perf_counter()
            deadline = started + cap_seconds
            try:
                page.goto(f"{base_url}/stocks", wait_until="commit", timeout=cap_seconds * 1000)
                entry["commit_s"] = round(perf_counter() - started, 3)
                # One loop from commit on: a blocking wait_for_selector here would leave the
                # first (busiest) stretch of the load without responsiveness samples.
                # Each round trip is timed and also reports progress, so no untimed call
                # (a locator count waits on the same busy main thread) hides in the loop.
                while perf_counter() < deadline and not crashed.is_set():
                    before = perf_counter()
                    has_row, footer_rows = page.evaluate(PROGRESS)
                    latencies.append((perf_counter() - before) * 1000)
                    if has_row and "first_row_s" not in entry:
                        entry["first_row_s"] = round(perf_counter() - started, 3)
                    if footer_rows is not None:
                        entry["footer_s"] = round(perf_counter() - started, 3)
                        entry["footer_rows"] = int(footer_rows)
                        break
                    sleep(POLL_PAUSE_SECONDS)
                entry["finished"] = "footer_s" in entry
                if entry["finished"]:  # else the page may be too busy to answer in time
                    entry["timing"] = page.evaluate(PAGE_TIMING)
                    entry["dom_rows"] = page.evaluate(DOM_ROWS)
            except Error as error:
                entry["error"] = str(error).splitlines()[0]
                entry.setdefault("finished", False)
            entry["crashed"] = crashed.is_set()
        finally:
            sampler.stop()
            browser.close()
    entry["peak_pss_mb"] = round(sampler.peak_mb, 1)
    entry["memory_samples"] = sampler.samples
    entry["evaluate"] = {"count": len(latencies), **_percentiles(latencies)}
    progress(
        f"browser @ {rows:,}: first row {entry.get('first_row_s')} s, "
        f"footer {entry.get('footer_s', 'not reached')} s, peak PSS {entry['peak_pss_mb']} MB"
    )
    return entry
