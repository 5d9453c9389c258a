"""Load test with slow clients (issue 14): many stalled or trickling connections from ten
loopback addresses, while a new visitor keeps asking for the whole table.

    python -m bench.load --slow-clients 1000                 # gunicorn faces the clients
    python -m bench.load --slow-clients 1000 --nginx         # deploy/nginx.conf in front
    scripts/with-postgres .venv/bin/python -m bench.load --slow-clients 1000 --database postgresql

The slow clients come from 127.0.0.2 ... 127.0.0.11 and ask for ``/stocks`` uncompressed
(the most bytes to hold). Half of them stall: they read nothing and reconnect every
:data:`RECONNECT_SECONDS`, as an attacker renewing its hold would. The other half trickle
:data:`TRICKLE_BYTES` every :data:`TRICKLE_SECONDS` and reconnect when the server lets go.
One thread drives them all, so a thousand cost the machine a thousand sockets, not threads.

Meanwhile a visitor from 127.0.0.1 reads the whole table again and again, and another
glances at it every :data:`GLANCE_SECONDS` (leaves at its first row), for enough samples of
the first row. The report gives the first-row latency of both (median, p95: the bound is
:data:`FIRST_ROW_BOUND_MS`), how many whole views were complete, the workers'
peak memory, how the slow clients' streams ended and how long a stalled one held its
database connection (from the app's log: the cut comes SEND_TIMEOUT after the socket
buffers filled), and leaks: on PostgreSQL, any session of the app still in a query or a
transaction once the clients are gone.

Directly, gunicorn runs with ``STREAMTABLE_STREAMS_PER_CLIENT=2``, the setting
docs/deployment.md gives for a gunicorn facing clients; behind nginx with the app's
defaults, nginx's ``limit_conn`` counting addresses instead.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from statistics import median, quantiles
from time import monotonic, perf_counter, sleep
from typing import Any

from .client import FetchResult, fetch
from .log import progress
from .server import MemorySampler, Server, ended_streams, peak_mb

ADDRESSES = tuple(f"127.0.0.{last}" for last in range(2, 12))
PATH = "/stocks"
RECONNECT_SECONDS = 15.0
TRICKLE_BYTES = 8192
TRICKLE_SECONDS = 0.5  # 16 KB/s: a chunk (~64 KB) takes 4 s, inside SEND_TIMEOUT
TICK_SECONDS = 0.05
GLANCE_SECONDS = 0.5
QUIET_SECONDS = 5.0
RAMP_SECONDS = 5.0  # for the slow clients to connect and take what they can, before probing
SETTLE_SECONDS = 30.0  # for the server to end the streams of the clients once they left
FIRST_ROW_BOUND_MS = 100.0
MEMORY_BOUND_MB = 200.0
DIRECT_ENV = {"STREAMTABLE_STREAMS_PER_CLIENT": "2"}


@dataclass
class _Slow:
    address: str
    trickles: bool
    sock: socket.socket | None = None
    opened: float = 0.0
    next_read: float = 0.0


class SlowClients(threading.Thread):
    """``count`` slow connections to ``host:port``, kept open (reopened) until :meth:`stop`."""

    def __init__(self, host: str, port: int, count: int, trickle_share: float) -> None:
        super().__init__(name="slow-clients", daemon=True)
        self.host, self.port = host, port
        tricklers = round(count * trickle_share)
        self.clients = [
            _Slow(ADDRESSES[i % len(ADDRESSES)], trickles=i < tricklers) for i in range(count)
        ]
        self.connects = 0
        self.connect_errors: Counter[str] = Counter()
        self._stopping = threading.Event()
        self._request = (
            f"GET {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Encoding: identity\r\n\r\n"
        ).encode()

    def _open(self, client: _Slow, now: float) -> None:
        sock = socket.socket()
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window
            sock.bind((client.address, 0))
            sock.settimeout(5)
            sock.connect((self.host, self.port))
            sock.sendall(self._request)
            sock.setblocking(False)
        except OSError as error:
            sock.close()
            self.connect_errors[type(error).__name__] += 1
            return
        client.sock, client.opened, client.next_read = sock, now, now
        self.connects += 1

    def _close(self, client: _Slow) -> None:
        if client.sock is not None:
            client.sock.close()
            client.sock = None

    def run(self) -> None:
        while not self._stopping.is_set():
            now = monotonic()
            for client in self.clients:
                if self._stopping.is_set():
                    break
                if client.sock is None:
                    self._open(client, now)
                elif not client.trickles and now - client.opened > RECONNECT_SECONDS:
                    self._close(client)
                elif client.trickles and now >= client.next_read:
                    client.next_read = now + TRICKLE_SECONDS
                    try:
                        if not client.sock.recv(TRICKLE_BYTES):
                            self._close(client)  # the server let go: come back
                    except BlockingIOError:
                        pass
                    except OSError:
                        self._close(client)
            self._stopping.wait(TICK_SECONDS)  # a pace to keep, not an event to wait on
        for client in self.clients:
            self._close(client)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=30)

    def open_now(self) -> int:
        return sum(1 for client in self.clients if client.sock is not None)


def _visit_until(host: str, port: int, deadline: float, glance: bool) -> list[FetchResult]:
    """A new visitor from 127.0.0.1 until ``deadline``: whole-table views one after another,
    or (``glance``) one first row every :data:`GLANCE_SECONDS`, leaving at once."""
    results = []
    while monotonic() < deadline:
        result = fetch(host, port, PATH, stop_after_first_row=glance, timeout=120, read_timeout=60)
        results.append(result)
        if result.status == 503:
            sleep(float(result.headers.get("retry-after", "1")))  # as told
        elif glance:
            sleep(GLANCE_SECONDS)  # a pace to keep: many samples of the first row
    return results


def _settled(log_path: Path) -> int:
    """Wait until the server logs no more stream ends for 2 s (at most SETTLE_SECONDS)."""
    deadline = monotonic() + SETTLE_SECONDS
    seen, quiet_since = len(ended_streams(log_path)), monotonic()
    while monotonic() < deadline and monotonic() - quiet_since < 2.0:
        sleep(0.2)  # another process's log: nothing to wait on but the file
        now_seen = len(ended_streams(log_path))
        if now_seen != seen:
            seen, quiet_since = now_seen, monotonic()
    return seen


def _ms(seconds: list[float], share: float) -> float | None:
    if not seconds:
        return None
    if len(seconds) == 1:
        return round(seconds[0] * 1000, 1)
    return round(quantiles(seconds, n=100, method="inclusive")[int(share * 100) - 1] * 1000, 1)


def run(args: Any, dataset_url: str, lingering: Callable[[str], list[str]]) -> dict[str, Any]:
    """One slow-clients run against the production server settings; the report.
    ``lingering`` lists the app's PostgreSQL sessions left in a query or a transaction."""
    front = "nginx" if args.nginx else "direct"
    log_path = args.out / "logs" / f"slow-clients-{args.database}-{front}.log"
    env = {} if args.nginx else DIRECT_ENV
    with ExitStack() as stack:
        server = stack.enter_context(
            Server("web:create_app()", dataset_url, log_path, workers=None, env=env)
        )
        host, port = server.host, server.port
        if args.nginx:
            from tests.e2e.servers import nginx  # the harness the e2e tests run nginx with

            prefix = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nginx-")))
            proxy = stack.enter_context(nginx([f"{host}:{port}"], prefix, "/health"))
            host, port = "127.0.0.1", int(proxy.url.rsplit(":", 1)[1])
        samplers = [MemorySampler(pid) for pid in server.worker_pids()]
        for sampler in samplers:
            sampler.start()
        report = _attack(args, host, port, log_path, samplers)
        report["lingering_sessions"] = (
            lingering(dataset_url) if args.database == "postgresql" else []
        )
        for sampler in samplers:
            sampler.stop()
    report["passed"] = report["passed"] and not report["lingering_sessions"]
    return report


def _attack(
    args: Any, host: str, port: int, log_path: Path, samplers: list[MemorySampler]
) -> dict[str, Any]:
    progress(
        f"slow clients: {args.slow_clients} from {len(ADDRESSES)} addresses"
        f"{' through nginx' if args.nginx else ''}, {args.seconds:g} s, "
        f"a visitor reading {args.rows:,} rows meanwhile"
    )
    # The same glances first with no slow client: on a shared machine, the figure to hold
    # the loaded ones against.
    quiet = _visit_until(host, port, monotonic() + QUIET_SECONDS, True)
    started = perf_counter()
    slow = SlowClients(host, port, args.slow_clients, args.trickle_share)
    slow.start()
    sleep(RAMP_SECONDS)  # the clients connect as fast as they can: give them the head start
    open_at_start = slow.open_now()
    deadline = monotonic() + args.seconds - RAMP_SECONDS
    with ThreadPoolExecutor(max_workers=2) as visitors:
        glances = visitors.submit(_visit_until, host, port, deadline, True)
        probes = _visit_until(host, port, deadline, False)
        glances = glances.result()
    open_at_end = slow.open_now()
    slow.stop()
    ended_count = _settled(log_path)
    after = fetch(host, port, PATH, timeout=120, read_timeout=60)  # the server came back
    wall = perf_counter() - started
    ended = ended_streams(log_path)
    # Let go by the app (stalled) or, behind nginx, by nginx's send_timeout (aborted); the
    # tricklers' streams end "aborted" too, when they leave at the end.
    stalled = [s["seconds"] for s in ended if s["outcome"] == "stalled"]
    first_rows = [p.first_row for p in probes + glances if p.first_row is not None]
    quiet_rows = [p.first_row for p in quiet if p.first_row is not None]
    complete = [p for p in probes if p.status == 200 and p.complete and p.rows == args.rows]
    peaks = [
        {"pid": s.pid, "peak_mb": peak_mb(s.pid), "peak_anon_mb": round(s.peak_anon_kb / 1024, 1)}
        for s in samplers
    ]
    report = {
        "database": args.database,
        "front": "nginx" if args.nginx else "gunicorn",
        "rows": args.rows,
        "slow_clients": args.slow_clients,
        "trickle_share": args.trickle_share,
        "connects": slow.connects,
        "connect_errors": dict(slow.connect_errors),
        "open_after_ramp": open_at_start,
        "open_at_end": open_at_end,
        "probes": len(probes),
        "probe_statuses": dict(Counter(p.status for p in probes)),
        "glances": len(glances),
        "glance_statuses": dict(Counter(p.status for p in glances)),
        "probes_complete": len(complete),
        "first_row_median_ms": _ms(first_rows, 0.5),
        "first_row_p95_ms": _ms(first_rows, 0.95),
        "quiet_first_row_median_ms": _ms(quiet_rows, 0.5),
        "quiet_first_row_p95_ms": _ms(quiet_rows, 0.95),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "streams_ended": ended_count,
        "outcomes": dict(Counter(s["outcome"] for s in ended)),
        "stalled_held_median_s": round(median(stalled), 1) if stalled else None,
        "stalled_held_max_s": round(max(stalled), 1) if stalled else None,
        "after_complete": after.status == 200 and after.complete and after.rows == args.rows,
        "workers": peaks,
        "wall_s": round(wall, 1),
    }
    report["passed"] = (
        bool(probes)
        and len(complete) == len(probes)
        and set(report["glance_statuses"]) == {200}
        and (report["first_row_p95_ms"] or float("inf")) <= FIRST_ROW_BOUND_MS
        and report["after_complete"]
        and all((w["peak_mb"] or 0) < MEMORY_BOUND_MB for w in peaks)
    )
    return report


def print_report(report: dict[str, Any]) -> None:
    workers = ", ".join(f"{w['peak_mb']} MB" for w in report["workers"])
    print(
        f"slow clients {report['date']} on {report['database']} via {report['front']}, "
        f"{report['rows']:,}-row table\n"
        f"  slow clients          {report['slow_clients']} from {len(ADDRESSES)} addresses "
        f"({report['trickle_share']:.0%} trickling), {report['connects']} connects, "
        f"{report['open_after_ramp']} open after the ramp, {report['open_at_end']} at the end; "
        f"connect errors {report['connect_errors'] or 'none'}\n"
        f"  visitor's views       {report['probes_complete']}/{report['probes']} complete, "
        f"statuses {report['probe_statuses']}\n"
        f"  visitor's glances     {report['glances']}, statuses {report['glance_statuses']}\n"
        f"  visitor's first row   median {report['first_row_median_ms']} ms, "
        f"p95 {report['first_row_p95_ms']} ms (bound {FIRST_ROW_BOUND_MS:g} ms); with no slow "
        f"client first: median {report['quiet_first_row_median_ms']} ms, "
        f"p95 {report['quiet_first_row_p95_ms']} ms; load average {report['load_average']}\n"
        f"  streams ended (log)   {report['streams_ended']}: {report['outcomes']}\n"
        f"  stalled stream held   median {report['stalled_held_median_s']} s, "
        f"max {report['stalled_held_max_s']} s\n"
        f"  after                 whole view {'yes' if report['after_complete'] else 'NO'}, "
        f"{len(report['lingering_sessions'])} lingering PostgreSQL sessions\n"
        f"  worker peak memory    {workers} (bound {MEMORY_BOUND_MB:g} MB)\n"
        f"  {'PASS' if report['passed'] else 'FAIL'} in {report['wall_s']} s"
    )
    print(json.dumps({k: report[k] for k in ("outcomes", "probe_statuses")}))
