"""Seeded SQLite databases, reused across runs, and the timing of the real seed CLI.

Seeding a million rows takes seconds, so a database is kept next to a small JSON stamp and
reused while the stamp still matches: the same rows, the same seed and the same schema and
generator code (a new index in ``web/models.py`` must not be benched against an old file).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

from web.db import make_engine
from web.seeding import count_rows, seed

from .machine import ROOT

SEED = 7
SEED_CLI_TIMEOUT = 600


@dataclass(frozen=True)
class Dataset:
    rows: int
    path: Path
    reused: bool
    seconds: float | None  # how long seeding took, None when reused


@dataclass(frozen=True)
class SeedTiming:
    rows: int
    seconds: float  # wall time of the whole `python seed.py ...` process
    reported_seconds: float | None  # what the CLI printed: the load without interpreter start
    output: str


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("web/models.py", "web/seeding.py"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def _stamp(rows: int) -> dict[str, object]:
    return {"rows": rows, "seed": SEED, "code": _fingerprint()}


def database_path(data_dir: Path, rows: int) -> Path:
    return data_dir / f"stocks-{rows}.db"


def _stamp_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _is_current(path: Path, rows: int) -> bool:
    stamp = _stamp_path(path)
    if not path.exists() or not stamp.exists():
        return False
    try:
        if json.loads(stamp.read_text()) != _stamp(rows):
            return False
    except (OSError, ValueError):
        return False
    engine = make_engine(f"sqlite:///{path}")
    try:
        return count_rows(engine) == rows
    finally:
        engine.dispose()


def run_seed_cli(path: Path, rows: int) -> SeedTiming:
    """Run ``seed.py`` as a user would and time the whole process."""
    command = [
        sys.executable,
        "seed.py",
        "--rows",
        str(rows),
        "--seed",
        str(SEED),
        "--database-url",
        f"sqlite:///{path}",
        "--reset",
    ]
    started = perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=SEED_CLI_TIMEOUT, check=False
    )
    seconds = perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"seed.py failed ({done.returncode}): {done.stderr or done.stdout}")
    match = re.search(r" in ([\d.]+) s", done.stdout)
    return SeedTiming(
        rows=rows,
        seconds=round(seconds, 2),
        reported_seconds=float(match.group(1)) if match else None,
        output=done.stdout.strip(),
    )


def ensure_database(
    data_dir: Path, rows: int, via_cli: bool = False
) -> tuple[Dataset, SeedTiming | None]:
    """The database of ``rows`` rows, seeded unless a current one is already there.

    With ``via_cli`` a needed seed runs through ``seed.py`` and its timing is returned too.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = database_path(data_dir, rows)
    if _is_current(path, rows):
        return Dataset(rows=rows, path=path, reused=True, seconds=None), None
    _remove(path)
    _stamp_path(path).unlink(missing_ok=True)
    timing = None
    started = perf_counter()
    if via_cli:
        timing = run_seed_cli(path, rows)
    else:
        engine = make_engine(f"sqlite:///{path}")
        try:
            seed(engine, rows, seed=SEED)
        finally:
            engine.dispose()
    seconds = round(perf_counter() - started, 2)
    _stamp_path(path).write_text(json.dumps(_stamp(rows)))
    return Dataset(rows=rows, path=path, reused=False, seconds=seconds), timing


def time_seed(data_dir: Path, rows: int) -> SeedTiming:
    """Time ``seed.py`` into a scratch file, for when the kept database was reused."""
    scratch = data_dir / f"seed-timing-{rows}.db"
    _remove(scratch)
    try:
        return run_seed_cli(scratch, rows)
    finally:
        _remove(scratch)
