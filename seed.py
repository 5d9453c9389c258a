"""Fill the stocks table with generated, realistic-looking data.

    python seed.py --rows 1000000 --seed 7 --reset

The database is the app's (DATABASE_URL, or the SQLite file in instance/) unless
--database-url names another. The load runs in one transaction: an interrupted or failed
seed leaves the previous data as it was.
"""

from __future__ import annotations

import sys
from time import perf_counter

import click
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from tqdm import tqdm

from web import create_app
from web.db import get_engine
from web.seeding import SeedError, count_rows, seed


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
def main(rows: int, seed_value: int, database_url: str | None, reset: bool, if_empty: bool) -> None:
    """Fill the stocks table with ROWS generated stocks, atomically."""
    try:
        app = create_app({"DATABASE_URL": database_url} if database_url else None)
        engine = get_engine(app)
        url = engine.url.render_as_string(hide_password=True)
        if if_empty and (existing := count_rows(engine)):
            click.echo(f"{url} already has {existing:,} stocks; leaving them as they are.")
            return
        started = perf_counter()
        with tqdm(total=rows, unit=" rows", unit_scale=True, disable=None) as bar:

            def progress(written: int, stage: str) -> None:
                bar.set_description(stage)
                bar.update(written - bar.n)

            result = seed(engine, rows, seed_value, reset=reset, progress=progress)
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
