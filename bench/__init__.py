"""Benchmark streamtable against baselines: ``python -m bench`` prints a table and writes JSON.

Each variant runs under gunicorn with the repo's production settings over the same SQLite
data, and a raw-socket client times the bytes as they arrive.
"""
