"""What the figures were measured on: numbers without the machine behind them mean little."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _command_output(*command: str) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def chromium_path() -> str:
    """The Chromium the browser section drives: $CHROMIUM, else Debian's."""
    return os.environ.get("CHROMIUM") or "/usr/bin/chromium"


def describe() -> dict[str, Any]:
    """Date, hardware, software versions and the code's git state, for the JSON and header."""
    dirty = _command_output("git", "status", "--porcelain", "--", "web", "templates", "static")
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "chromium": _command_output(chromium_path(), "--version"),
        "packages": {
            name: _version(name)
            for name in ("flask", "sqlalchemy", "gunicorn", "jinja2", "playwright")
        },
        "git_commit": _command_output("git", "rev-parse", "--short", "HEAD"),
        # The app is edited while benches run: say whether the tree differed from the commit.
        "git_dirty_files": len(dirty.splitlines()) if dirty else 0,
    }
