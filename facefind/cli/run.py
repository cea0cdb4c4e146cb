"""The long-running processes: `facefind run` (the Telegram bot) and `facefind worker`. This is
where the composition root starts a front end: the only imports of bot/ in facefind/."""

from __future__ import annotations

import argparse

from facefind.runtime.settings import Settings


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runner import run_bot

    return run_bot(settings)


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from bot.worker import run_worker

    return run_worker(settings)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("run", help="run the Telegram bot").set_defaults(func=cmd_run)
    sub.add_parser(
        "worker",
        help="answer lookups from the queue (add workers on this or other machines; see "
        "docs/scaling.md)",
    ).set_defaults(func=cmd_worker)
