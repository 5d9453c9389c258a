"""gunicorn settings for serving streams: `gunicorn -c gunicorn.conf.py`.

Every value can be overridden on the command line or by the environment variable named
beside it. Deployment, with nginx in front of several servers: docs/deployment.md.
"""

import os
import signal

wsgi_app = "web:create_app()"
bind = os.environ.get("BIND", "127.0.0.1:8000")

# Threaded workers: a stream occupies a thread, not a process, while it waits on the socket.
# The app runs at most STREAMTABLE_MAX_STREAMS (28) streams per worker, so a few threads are
# always free to answer the next one at once with a 503 (web/admission.py); raising the
# threads, raise that with it. docs/deployment.md, "Slow clients and a full server".
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "32"))

# With gthread the timeout is the worker's heartbeat, sent by its main loop at least once a
# second, not a limit per request: a stream of any length is fine, while a worker whose main
# loop hangs is still killed and replaced. (A request thread stuck in a query is not: the
# app's STATEMENT_TIMEOUT ends a query step that runs too long.) tests/e2e/test_nginx.py
# holds a stream for longer than the timeout and stops a worker to see it replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM (and for the old workers on SIGHUP) a worker stops accepting and gives its
# running streams this long to finish; a stream still running then is cut off without its
# last chunk, so clients and nginx see it as incomplete, never as a shorter whole table.
# 30 s covers the largest page measured: 1M rows took 22 s to stream into Chromium. Give
# the process supervisor a longer stop timeout (systemd TimeoutStopSec, docker --time).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Half a second before the grace ends, the streams still running are cut so each logs its
# line (outcome "shutdown"), and once the grace is over the worker exits even if a thread
# is still busy: gthread alone would wait for it until the heartbeat killed the worker
# (web/shutdown.py says what was measured). tests/e2e/test_nginx.py sends HUP and TERM.
# Idle seconds before a kept-alive connection closes. Behind nginx, keep nginx's upstream
# keepalive_timeout below this (deploy/nginx.conf: 4 s), so nginx never reuses a connection
# that gunicorn is closing.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))

# "-" logs requests to stdout; an empty value turns the access log off.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None

# gunicorn 25+ opens a control socket at one fixed path per user, which several servers on
# one machine (tests, benchmarks, a dev server) would fight over. Nothing here uses it.
control_socket_disable = True


def post_worker_init(worker) -> None:
    """Track each request's connection, and plan the cut for when the worker is stopped."""
    from web import shutdown

    worker.wsgi = shutdown.track_connections(worker.wsgi)
    stop = worker.handle_exit

    def on_stop(sig, frame) -> None:
        if worker.alive:
            shutdown.cut_later(worker.cfg.graceful_timeout - shutdown.CUT_MARGIN_SECONDS)
        stop(sig, frame)

    signal.signal(signal.SIGTERM, on_stop)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn has it: no EINTR in requests


def worker_exit(server, worker) -> None:
    """The grace is over: cut what still runs, and exit without waiting for stuck threads."""
    from web import shutdown

    shutdown.exit_when_threads_done()


def when_ready(server) -> None:
    """Say where the table is, once the server listens."""
    for listener in server.LISTENERS:
        server.log.info("streamtable is serving: open %s/stocks", listener)
