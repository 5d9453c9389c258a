"""Signals a stream sends as it goes: the app's observation points.

The app logs every stream by listening to :data:`stream_ended` (see
``web.streams.log_report``); the end-to-end test server holds a stream open after its first
rows by listening to :data:`rows_sent`, and a deployment can hang metrics on either.
Receivers run on the streaming thread, so a slow receiver slows the stream.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

rows_sent = _signals.signal("rows-sent")
"""Sent after the server took a chunk of rows; ``rows`` is the count sent so far."""

stream_ended = _signals.signal("stream-ended")
"""Sent when a stream stops, however it stops; ``report`` is a :class:`web.streams.StreamReport`."""
