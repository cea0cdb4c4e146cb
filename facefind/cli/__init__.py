"""The `facefind` command line, the composition root: each command group in its own module (data,
gallery, identify, users, watchlist, audit, evaluation, run); `facefind.cli.run` is the one place in
facefind/ that starts a front end (the bot)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence

from facefind.cli import audit as cli_audit
from facefind.cli import data as cli_data
from facefind.cli import evaluation as cli_eval
from facefind.cli import gallery as cli_gallery
from facefind.cli import identify as cli_identify
from facefind.cli import run as cli_run
from facefind.cli import users as cli_users
from facefind.cli import watchlist as cli_watchlist
from facefind.errors import StaleEmbeddings
from facefind.runtime.logs import configure_logging
from facefind.runtime.settings import Settings, SettingsError
from gallery import (
    AuditKeyMismatch,
    DatabaseCheckError,
    MigrationError,
    ModelMismatch,
    RoleError,
)
from recognition import ModelError

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facefind",
        description="Face identification against a PostgreSQL gallery. Settings come from the "
        "environment (or .env): DATABASE_URL, FACEFIND_DATA_DIR, FACEFIND_MODEL_DIR, ... "
        "(see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # the order of `facefind --help`
    cli_data.add_migrate_parser(sub)
    cli_gallery.add_parsers(sub)
    cli_data.add_parsers(sub)
    cli_identify.add_parsers(sub)
    cli_users.add_parsers(sub)
    cli_watchlist.add_parsers(sub)
    cli_audit.add_parsers(sub)
    cli_eval.add_parsers(sub)
    cli_run.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    func: Callable[[Settings, argparse.Namespace], Awaitable[int] | int] = args.func
    try:
        if asyncio.iscoroutinefunction(func):
            return int(asyncio.run(func(settings, args)))
        return int(func(settings, args))  # type: ignore[arg-type]
    except (
        SettingsError,
        ModelError,
        ModelMismatch,
        MigrationError,
        StaleEmbeddings,
        DatabaseCheckError,
        RoleError,
        AuditKeyMismatch,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
