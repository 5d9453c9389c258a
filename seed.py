"""Fill the stocks table with generated, realistic-looking data, or with a CSV file's rows.

    python seed.py --rows 1000000 --seed 7 --reset
    python seed.py --csv stocks.csv --reset

The database is the app's (DATABASE_URL, or the SQLite file in instance/) unless
--database-url names another. The load runs in one transaction: an interrupted or failed
seed leaves the previous data as it was.
"""

from __future__ import annotations

import os
import stat
import sys
from time import perf_counter
from typing import BinaryIO

import click
from click.core import ParameterSource
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from tqdm import tqdm

from web import create_app
from web.csvload import CsvError, CsvRows, listing, load_csv
from web.db import get_engine
from web.seeding import SeedError, count_rows, seed

GENERATING = {"rows": "--rows", "seed_value": "--seed"}  # options that only generated seeds take


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--rows",
    type=click.IntRange(min=0),
    default=100_000,
    show_default=True,
    help="How many stocks to generate.",
)
@click.option(
    "--seed",
    "seed_value",
    type=int,
    default=0,
    show_default=True,
    help="Random seed: the same rows and seed give the same data.",
)
@click.option("--database-url", help="SQLAlchemy URL (default: the app's database).")
@click.option("--reset", is_flag=True, help="Replace the rows already in the table.")
@click.option(
    "--if-empty",
    is_flag=True,
    help="Seed only an empty table; otherwise leave it and exit successfully.",
)
@click.option(
    "--csv",
    "csv_file",
    type=click.File("rb"),
    help="Load the stocks from this CSV file (- for standard input) instead of generating "
    "them. Its header names the columns, by key or label, in any case.",
)
@click.option(
    "--skip-bad",
    is_flag=True,
    help="With --csv: load the good rows and list the bad ones (by default one bad row "
    "refuses the file).",
)
@click.pass_context
def main(
    ctx: click.Context,
    rows: int,
    seed_value: int,
    database_url: str | None,
    reset: bool,
    if_empty: bool,
    csv_file: BinaryIO | None,
    skip_bad: bool,
) -> None:
    """Fill the stocks table with ROWS generated stocks, or the rows of a CSV, atomically."""
    generating = [flag for name, flag in GENERATING.items() if _given(ctx, name)]
    if csv_file and generating:
        raise click.UsageError(f"{generating[0]} is for generated stocks, not --csv")
    if skip_bad and not csv_file:
        raise click.UsageError("--skip-bad goes with --csv")
    try:
        # The stock table, whatever STREAMTABLE_TABLE serves: seeds only ever write it.
        app = create_app(
            {"TABLE": None, **({"DATABASE_URL": database_url} if database_url else {})}
        )
        engine = get_engine(app)
        url = engine.url.render_as_string(hide_password=True)
        if if_empty and (existing := count_rows(engine)):
            click.echo(f"{url} already has {existing:,} stocks; leaving them as they are.")
            return
        if csv_file:
            _load(engine, url, csv_file, reset, skip_bad)
            return
        started = perf_counter()
        with tqdm(total=rows, unit=" rows", unit_scale=True, disable=None) as bar:

            def progress(written: int, stage: str) -> None:
                bar.set_description(stage)
                bar.update(written - bar.n)

            result = seed(engine, rows, seed_value, reset=reset, progress=progress)
    except CsvError as error:
        raise click.BadParameter(str(error), param_hint="--csv") from None
    except SeedError as error:
        raise click.ClickException(str(error)) from None
    except ImportError as error:
        reason = f"no driver for it: {error}"
        raise click.BadParameter(reason, param_hint="--database-url") from None
    except ArgumentError as error:
        raise click.BadParameter(str(error), param_hint="--database-url") from None
    except SQLAlchemyError as error:
        # The driver's own words, first line only: "unable to open database file", ...
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise click.ClickException(f"database error: {reason}") from None
    except KeyboardInterrupt:
        raise click.ClickException("interrupted; the table is as it was before") from None
    replaced = f", replacing {result.replaced:,}" if result.replaced else ""
    click.echo(
        f"Seeded {result.rows:,} stocks into {url} in {perf_counter() - started:.1f} s{replaced}."
    )


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is not ParameterSource.DEFAULT


def _load(engine: Engine, url: str, source: BinaryIO, reset: bool, skip_bad: bool) -> None:
    """Load the CSV ``source``, with a progress bar by bytes read; say what was left out."""
    name = "standard input" if source is sys.stdin.buffer else click.format_filename(source.name)
    started = perf_counter()
    rows = CsvRows(source, name=name, skip_bad=skip_bad)
    if rows.ignored:
        click.echo(f"Ignoring columns the table does not have: {', '.join(rows.ignored)}", err=True)
    info = os.fstat(source.fileno()) if hasattr(source, "fileno") else None
    size = info.st_size if info and stat.S_ISREG(info.st_mode) else None
    with tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, disable=None) as bar:

        def progress(read: int, stage: str) -> None:
            bar.set_description(stage)
            bar.update(read - bar.n)

        result = load_csv(engine, rows, reset=reset, progress=progress)
    if result.skipped:
        click.echo(f"Skipped {result.skipped:,} bad rows of {name}:", err=True)
        for line in listing(rows.bad, result.skipped):
            click.echo(f"  {line}", err=True)
    replaced = f", replacing {result.replaced:,}" if result.replaced else ""
    skipped = f", skipping {result.skipped:,} bad rows" if result.skipped else ""
    click.echo(
        f"Loaded {result.rows:,} stocks from {name} into {url} "
        f"in {perf_counter() - started:.1f} s{replaced}{skipped}."
    )


def run() -> None:
    """Run the command with one-line errors, usage errors included."""
    try:
        main.main(standalone_mode=False)
    except click.UsageError as error:
        click.echo(f"Error: {error.format_message()} (see --help)", err=True)
        sys.exit(error.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    run()
