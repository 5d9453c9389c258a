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
import urllib.request
from pathlib import Path
from statistics import quantiles
from time import perf_counter, sleep
from typing import Any

from .log import progress
from .machine import chromium_path

SAMPLE_SECONDS = 0.25
POLL_PAUSE_SECONDS = 0.05  # between round trips: a busy user, not a busy loop on 2 cores
# After the load, clicks on sort headers, each while the stream of the one before is running:
# a pause from its first row painted, varied so the clicks land early and late in a stream.
INPUT_PAUSES_SECONDS = (0.3, 1.2, 2.5, 0.6, 1.8, 0.2, 3.0, 0.9)
INPUT_WAIT_SECONDS = 30.0  # the most one click may take to show its first row
LAUNCH_ARGS = ["--disable-gpu", "--disable-quic"]
# In-page recorder, installed before the page's own scripts. A MutationObserver notes when
# the first row is attached and the frame after it (painted), then disconnects so the rest of
# the load pays nothing. Long tasks are kept with their start, so the blocking time of the
# load can be told from the input phase's. A click (capture phase, so before the page's own
# handler) starts a watch for the first row of a table other than the one clicked in; its
# latency counts from the event's own timestamp, which Chromium takes when the input reaches
# the renderer, so the time the click waited behind a busy main thread is included.
FIRST_ROW_PROBE = """
(() => {
  const probe = (window.__bench = { longTasks: [], inputs: [] });
  try {
    const keep = (entries) => {
      for (const entry of entries) probe.longTasks.push([entry.startTime, entry.duration]);
    };
    probe.observer = new PerformanceObserver((list) => keep(list.getEntries()));
    probe.observer.observe({ type: "longtask", buffered: true });
    probe.takeLongTasks = () => keep(probe.observer.takeRecords()); // not yet delivered
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
  let watch = null;
  document.addEventListener("click", (event) => {
    if (!event.isTrusted) return;
    watch?.disconnect();
    const input = { at: event.timeStamp, painted: null };
    probe.inputs.push(input);
    const old = document.getElementById("rows");
    watch = new MutationObserver(() => {
      const row = document.querySelector("#rows .g tr");
      if (!row || row.closest("#rows") === old) return;
      watch.disconnect();
      watch = null;
      requestAnimationFrame(() => setTimeout(() => (input.painted = performance.now())));
    });
    watch.observe(document.getElementById("stocks"), { childList: true, subtree: true });
  }, true);
})();
"""
# Both O(1) for the page: querySelector stops at the first match, getElementById is a lookup.
PROGRESS = """() => {
  const end = document.getElementById("stream-end");
  return [document.querySelector(".g tr") !== null, end && end.getAttribute("data-rows")];
}"""
PARSED = '() => document.readyState !== "loading"'
DOM_ROWS = '() => document.querySelectorAll(".g tr").length'
# Total blocking time as Lighthouse counts it (each long task's time past 50 ms), over the
# load: the tasks that began before DOMContentLoaded ended, not the input phase's after it.
# The footer is parsed before the end of parsing, whose task is the longest at 1M rows
# (docs/browser-performance.md): the figures are read once DOMContentLoaded is over.
# The page's stylesheets and scripts, each with how long its fetch took: the stylesheets
# hold up the first paint, and the scripts the first row, so a slow one shows here.
PAGE_TIMING = """() => {
  const n = performance.getEntriesByType("navigation")[0] || {};
  const loadEnd = n.domContentLoadedEventEnd || performance.now();
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  const probe = window.__bench || {};
  if (probe.takeLongTasks) probe.takeLongTasks();
  const s = (v) => (v ? Math.round(v) / 1000 : null);
  const tasks = probe.longTasks && probe.longTasks.filter(([start]) => start <= loadEnd);
  const durations = tasks && tasks.map(([, duration]) => duration);
  const last = tasks && tasks[tasks.length - 1];
  return {long_tasks: tasks && tasks.length,
          long_task_max_ms: durations && Math.round(Math.max(0, ...durations)),
          long_task_total_ms: durations && Math.round(durations.reduce((a, b) => a + b, 0)),
          total_blocking_ms: durations &&
            Math.round(durations.reduce((a, b) => a + Math.max(0, b - 50), 0)),
          last_long_task: last ? {start_s: s(last[0]), ms: Math.round(last[1])} : null,
          first_row_attached_s: s(probe.attached), first_row_painted_s: s(probe.painted),
          first_contentful_paint_s: s(fcp && fcp.startTime), response_end_s: s(n.responseEnd),
          dom_content_loaded_s: s(n.domContentLoadedEventEnd), load_event_s: s(n.loadEventEnd),
          assets: performance.getEntriesByType("resource")
            .filter((r) => ["link", "script"].includes(r.initiatorType))
            .map((r) => ({name: new URL(r.name).pathname, fetch_ms: Math.round(r.duration),
                          end_s: s(r.responseEnd)}))};
}"""
NOW = "() => performance.now()"
# Where the sort links are now: the facets above the table come and go during a stream.
SORT_LINKS = """() => [...document.querySelectorAll("#rows thead a[data-sort]")].map((a) => {
  const box = a.getBoundingClientRect();
  return [box.x + box.width / 2, box.y + box.height / 2];
})"""
INPUT_LATENCIES = """() => (window.__bench.inputs || []).map(
  (input) => (input.painted === null ? null : input.painted - input.at))"""
INPUT_PAINTED = """() => {
  const inputs = window.__bench.inputs;
  return inputs.length > 0 && inputs[inputs.length - 1].painted !== null;
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


def _inputs(page: Any, pauses: tuple[float, ...]) -> dict[str, Any]:
    """Click sort headers, each during the stream the one before started; per click, the
    time from the click to its first new row painted (in-page clocks, see FIRST_ROW_PROBE).
    A click whose row does not paint in ``INPUT_WAIT_SECONDS`` counts as that long."""
    for number, pause in enumerate(pauses):
        links = page.evaluate(SORT_LINKS)
        x, y = links[(number + 1) % len(links)]
        page.mouse.click(x, y)
        deadline = perf_counter() + INPUT_WAIT_SECONDS
        while perf_counter() < deadline and not page.evaluate(INPUT_PAINTED):
            sleep(POLL_PAUSE_SECONDS)
        sleep(pause)  # a person's pause, so the next click lands later in this stream
    measured = page.evaluate(INPUT_LATENCIES)
    latencies = [INPUT_WAIT_SECONDS * 1000 if ms is None else ms for ms in measured]
    return {
        "count": len(latencies),
        "painted": sum(ms is not None for ms in measured),
        **_percentiles(latencies),
    }


# What a trace (``trace_path``) records: the main thread's tasks and what ran in them.
TRACE_CATEGORIES = ["toplevel", "devtools.timeline", "loading", "blink", "blink_gc", "v8"]


WARM_UP_BYTES = 64 * 1024


def warm_up(base_url: str) -> None:
    """Start reading one page and leave: a fresh worker's first page pays for compiling its
    templates and opening the database (~1 s of the first row measured on a busy machine),
    which a person's page, served by a worker that has served others, does not."""
    with urllib.request.urlopen(f"{base_url}/stocks", timeout=60) as response:
        response.read(WARM_UP_BYTES)


def measure(
    base_url: str, rows: int, cap_seconds: float, trace_path: Path | None = None
) -> dict[str, Any]:
    """Load ``/stocks`` once in a fresh browser; every figure is seconds from ``goto``.
    With ``trace_path``, the load (not the clicks after it) is also recorded as a Chromium
    trace there, for ``python -m bench.trace``: tracing slows the page, so not in the bench."""
    from playwright.sync_api import Error, sync_playwright

    progress(f"browser @ {rows:,}: loading (cap {cap_seconds:.0f} s)")
    warm_up(base_url)
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
            if trace_path is not None:
                browser.start_tracing(page=page, path=trace_path, categories=TRACE_CATEGORIES)
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
                while entry["finished"] and perf_counter() < deadline:
                    if page.evaluate(PARSED):
                        break
                    sleep(POLL_PAUSE_SECONDS)
                if entry["finished"]:  # else the page may be too busy to answer in time
                    entry["timing"] = page.evaluate(PAGE_TIMING)
                    entry["dom_rows"] = page.evaluate(DOM_ROWS)
                    if trace_path is not None:
                        browser.stop_tracing()
                        trace_path = None
                    entry["inputs"] = _inputs(page, INPUT_PAUSES_SECONDS)
            except Error as error:
                entry["error"] = str(error).splitlines()[0]
                entry.setdefault("finished", False)
            entry["crashed"] = crashed.is_set()
            if trace_path is not None:
                browser.stop_tracing()
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
