"""Progress lines on stderr, so a ten-minute run shows what it is doing."""

from __future__ import annotations

import sys
from time import monotonic

_STARTED = monotonic()


def progress(message: str) -> None:
    """Print ``message`` to stderr, stamped with the seconds since the bench started."""
    print(f"[bench {monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)
