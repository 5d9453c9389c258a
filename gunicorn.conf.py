"""gunicorn settings for serving streams: `gunicorn -c gunicorn.conf.py`.

Every value can be overridden on the command line or by the environment variable named
beside it.
"""

import os

wsgi_app = "web:create_app()"
bind = os.environ.get("BIND", "127.0.0.1:8000")

# Threaded workers: a stream occupies a thread, not a process, while it waits on the socket.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "32"))

# With gthread the timeout is the worker's heartbeat, not a limit per request: a stream
# of any length is fine, while a worker whose main loop hangs is still reaped.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On shutdown, running streams get this long to finish before the worker exits.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5

# "-" logs requests to stdout; an empty value turns the access log off.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None

# gunicorn 25+ opens a control socket at one fixed path per user, which several servers on
# one machine (tests, benchmarks, a dev server) would fight over. Nothing here uses it.
control_socket_disable = True
