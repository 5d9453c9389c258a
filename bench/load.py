"""Load test: many streams at once against the production server settings.

    python -m bench.load                       # 50 readers of 100k rows + 200 that leave early
    python -m bench.load --readers 500 --leavers 0
    scripts/with-postgres .venv/bin/python -m bench.load --database postgresql
    python -m bench.load --slow-clients 1000 [--nginx]   # stalled and trickling clients:
                                               # bench/slow_clients.py says what it measures

gunicorn runs with gunicorn.conf.py as deployed (2 workers of 32 threads unless the
environment says otherwise). Readers stream the whole table; leavers drop the connection as
soon as the first row arrives, like a user clicking away. It reports requests tried, server
errors, incomplete streams, the workers' peak memory, and leaks: every stream the server
started must have logged its end (its connection released), and on PostgreSQL no session of
the app may be left running a query or idle in a transaction. A leaver's stream ends
"aborted" once the server's next write fails; a small table may fit in the socket buffers
and end "completed" instead, which is no leak either. A client turned away because every
stream slot was taken (503 with Retry-After, web/admission.py) waits as told and asks
again, up to :data:`BUSY_RETRIES` times; those 503s are counted apart from other 5xx.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter, sleep
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from . import slow_clients
from .client import FetchResult, fetch
from .data import ensure_database
from .log import progress
from .server import MemorySampler, Server, ended_streams, peak_mb

HERE = Path(__file__).resolve().parent
PATH = "/stocks"
TIMEOUT_SECONDS = 900.0  # for the whole run: a wedged stream ends the test, not the machine
SETTLE_SECONDS = 30.0  # for the server to log the end of streams whose clients left
MEMORY_BOUND_MB = 150.0  # issue 3: a worker under many concurrent streams
BUSY_RETRIES = 100  # 503s a client takes (waiting Retry-After each time) before it gives up
MAX_SLOW_CLIENTS = 5000  # file descriptors: the clients' and the server's ends, and nginx's


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--readers", type=int, default=50, help="clients that read every row")
    parser.add_argument("--leavers", type=int, default=200, help="clients that leave at once")
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the table")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", help="PostgreSQL server (default: scripts/with-postgres)")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--slow-clients",
        type=int,
        default=0,
        help="instead of readers and leavers: this many stalled or trickling clients from "
        "10 loopback addresses, and a visitor reading the whole table meanwhile",
    )
    parser.add_argument(
        "--trickle-share", type=float, default=0.5, help="of the slow clients, those reading"
    )
    parser.add_argument(
        "--seconds", type=float, default=40.0, help="how long the slow clients stay (10-600)"
    )
    parser.add_argument("--nginx", action="store_true", help="with deploy/nginx.conf in front")
    args = parser.parse_args(argv)
    if not 0 <= args.slow_clients <= MAX_SLOW_CLIENTS:
        parser.error(f"--slow-clients must be between 0 and {MAX_SLOW_CLIENTS}")
    if not 0.0 <= args.trickle_share <= 1.0 or not 10.0 <= args.seconds <= 600.0:
        parser.error("--trickle-share must be between 0 and 1, --seconds between 10 and 600")
    if args.nginx and not args.slow_clients:
        parser.error("--nginx goes with --slow-clients")
    if args.readers < 0 or args.leavers < 0 or args.readers + args.leavers == 0:
        parser.error("--readers and --leavers must be zero or more, and not both zero")
    if args.database == "postgresql":
        import os

        args.database_url = args.database_url or os.environ.get("STREAMTABLE_TEST_DATABASE_URL")
        if not args.database_url:
            parser.error("--database postgresql needs --database-url or scripts/with-postgres")
    return args


def _client(server: Server, leave: bool) -> tuple[FetchResult, int]:
    """One client's request, asked again while the server is busy; and its 503s."""
    for busy in range(BUSY_RETRIES + 1):
        result = fetch(
            server.host, server.port, PATH, stop_after_first_row=leave, timeout=TIMEOUT_SECONDS
        )
        retry_after = result.headers.get("retry-after")
        if result.status != 503 or retry_after is None or busy == BUSY_RETRIES:
            return result, busy
        sleep(float(retry_after))  # as the server asked
    raise AssertionError("unreachable")


def _lingering_sessions(url: str) -> list[str]:
    """PostgreSQL sessions of the app still running a query or idle in a transaction."""
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT state, left(query, 60) FROM pg_stat_activity "
                    "WHERE application_name = 'streamtable' "
                    "AND (state = 'active' OR state LIKE 'idle in transaction%')"
                )
            ).all()
        return [f"{state}: {query}" for state, query in rows]
    finally:
        engine.dispose()


def run(args: argparse.Namespace) -> dict[str, Any]:
    dataset, _ = ensure_database(args.data_dir, args.rows, server_url=args.database_url)
    log_path = args.out / "logs" / "load.log"
    with Server("web:create_app()", dataset.url, log_path, workers=None) as server:
        samplers = [MemorySampler(pid) for pid in server.worker_pids()]
        for sampler in samplers:
            sampler.start()
        progress(
            f"load: {args.readers} readers of {args.rows:,} rows and {args.leavers} leavers, "
            f"{len(samplers)} workers"
        )
        started = perf_counter()
        kinds = [False] * args.readers + [True] * args.leavers
        random.Random(0).shuffle(kinds)  # leavers arrive while readers stream
        with ThreadPoolExecutor(max_workers=len(kinds)) as pool:
            answers = list(pool.map(lambda leave: (leave, *_client(server, leave)), kinds))
        results = [(leave, result) for leave, result, _ in answers]
        turned_away = [busy for _, _, busy in answers]
        wall = perf_counter() - started
        # Streams whose clients left end when the server next writes: wait for their lines.
        deadline = perf_counter() + SETTLE_SECONDS
        while len(ended_streams(log_path)) < len(kinds) and perf_counter() < deadline:
            sleep(0.2)
        ended = ended_streams(log_path)
        lingering = _lingering_sessions(dataset.url) if args.database == "postgresql" else []
        peaks = [
            {
                "pid": s.pid,
                "peak_mb": peak_mb(s.pid),
                "peak_anon_mb": round(s.peak_anon_kb / 1024, 1),
            }
            for s in samplers
        ]
        for sampler in samplers:
            sampler.stop()
    readers = [r for leave, r in results if not leave]
    leavers = [r for leave, r in results if leave]
    complete = [r for r in readers if r.status == 200 and r.footer and r.rows == args.rows]
    outcomes = Counter(stream["outcome"] for stream in ended)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": args.database,
        "rows": args.rows,
        "requests": len(results),
        "server_errors": sum(1 for _, r in results if r.status >= 500),
        "busy_503s": sum(turned_away),  # each followed by a retry after Retry-After
        "clients_turned_away": sum(1 for busy in turned_away if busy),
        "client_errors": sorted({r.error for _, r in results if r.error and not _left(r)}),
        "readers": len(readers),
        "readers_complete": len(complete),
        "leavers": len(leavers),
        "leavers_saw_a_row": sum(1 for r in leavers if r.first_row is not None),
        "streams_ended": len(ended),
        "outcomes": dict(outcomes),
        "streams_not_ended": len(kinds) - len(ended),
        "lingering_sessions": lingering,
        "wall_s": round(wall, 1),
        "rows_per_s_total": round(sum(r.rows for r in readers) / wall),
        "workers": peaks,
        "memory_bound_mb": MEMORY_BOUND_MB,
    }
    report["passed"] = (
        report["server_errors"] == 0
        and report["readers_complete"] == report["readers"]
        and report["streams_not_ended"] == 0
        and not lingering
        and all((w["peak_mb"] or 0) < MEMORY_BOUND_MB for w in peaks)
    )
    return report


def _left(result: FetchResult) -> bool:
    """A leaver's own hang-up is not an error."""
    return result.first_row is not None


def print_report(report: dict[str, Any]) -> None:
    workers = ", ".join(
        f"{w['peak_mb']} MB (heap {w['peak_anon_mb']} MB)" for w in report["workers"]
    )
    print(
        f"load test {report['date']} on {report['database']}, {report['rows']:,}-row table\n"
        f"  requests tried        {report['requests']} "
        f"({report['readers']} readers, {report['leavers']} leavers)\n"
        f"  5xx responses         {report['server_errors']} in the end; before that "
        f"{report['busy_503s']} busy 503s to {report['clients_turned_away']} clients, "
        f"each asked again after Retry-After\n"
        f"  readers complete      {report['readers_complete']}/{report['readers']} "
        f"in {report['wall_s']} s, {report['rows_per_s_total']:,} rows/s in all\n"
        f"  leavers saw a row     {report['leavers_saw_a_row']}/{report['leavers']}\n"
        f"  streams ended (log)   {report['streams_ended']}/{report['requests']}: "
        f"{report['outcomes']}\n"
        f"  leaks                 {report['streams_not_ended']} streams never ended, "
        f"{len(report['lingering_sessions'])} lingering PostgreSQL sessions\n"
        f"  worker peak memory    {workers} (bound {report['memory_bound_mb']:g} MB)\n"
        f"  client errors         {report['client_errors'] or 'none'}\n"
        f"  {'PASS' if report['passed'] else 'FAIL'}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.slow_clients:
        return _slow_clients(args)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"load-{args.database}-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    return 0 if report["passed"] else 1


def _slow_clients(args: argparse.Namespace) -> int:
    dataset, _ = ensure_database(args.data_dir, args.rows, server_url=args.database_url)
    report = {"date": datetime.now(UTC).isoformat(timespec="seconds")}
    report |= slow_clients.run(args, dataset.url, _lingering_sessions)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"slow-clients-{args.database}-{report['front']}-latest.json"
    (args.out / name).write_text(json.dumps(report, indent=2) + "\n")
    slow_clients.print_report(report)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
