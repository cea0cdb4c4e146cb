"""The record: `facefind audit` (verify the sealed log, list its rows) and `facefind purge` (the
retention limit and erasure, now)."""

from __future__ import annotations

import argparse
import json

from facefind.access.actors import Requester
from facefind.access.erasure import Eraser
from facefind.access.witness import Witness, parse_head, verify
from facefind.cli.common import db_id, open_gallery
from facefind.runtime.settings import Settings


async def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    async with open_gallery(settings, witness=False) as gallery:
        if args.action == "list":
            for row in reversed(await gallery.audit.recent(args.limit)):
                details = json.dumps(row["details"], ensure_ascii=False)
                at = f"{row['at']:%Y-%m-%d %H:%M:%S}"
                target = row["target"] or ""
                print(f"{row['id']}\t{at}\t{row['actor']}\t{row['action']}\t{target}\t{details}")
            return 0
        verdict = await verify(gallery, Witness.of(settings), expect=args.head)
    print(verdict.message)
    return 0 if verdict.ok else 1


def days_argument(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > 100000:
        raise argparse.ArgumentTypeError(f"a number of days from 0 to 100000, not {text!r}")
    return int(text)


def head_argument(text: str) -> tuple[int, str]:
    try:
        return parse_head(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


async def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    # --days 0: everything now; FACEFIND_RETENTION_DAYS=0: keep (no retention limit)
    days = args.days if args.days is not None else (settings.retention_days or None)
    async with open_gallery(settings) as gallery:
        report = await Eraser(gallery).purge(
            Requester.cli(), retention_days=days, grace_days=settings.forget_grace_days
        )
    if days is None:
        print("FACEFIND_RETENTION_DAYS=0 keeps query faces and file ids (use --days N to purge)")
    else:
        print(
            f"purged {report.crops} query face crop(s) and {report.file_ids} Telegram file id(s) "
            f"of lookups older than {days} days"
        )
    if report.erased:
        print("erased forgotten identities: " + ", ".join(f"#{i}" for i in report.erased))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="the append-only audit log")
    asub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    av = asub.add_parser(
        "verify",
        help="check every row's seal under the audit key, and that the log still holds the "
        "head the witness (and, with --head, an admin's check-point) saw",
    )
    av.add_argument(
        "--head",
        type=head_argument,
        metavar="ROW:SEAL",
        help="a check-point from the bot's daily message: that row must still carry that seal",
    )
    al = asub.add_parser("list", help="show the most recent audit rows")
    al.add_argument("-n", "--limit", type=db_id, default=50)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser(
        "purge",
        help="apply the retention limit and erase identities past their grace period now "
        "(the bot also does so daily)",
    )
    p.add_argument(
        "--days",
        type=days_argument,
        metavar="N",
        help="purge query faces and file ids of lookups older than N days (0: all), instead "
        "of FACEFIND_RETENTION_DAYS",
    )
    p.set_defaults(func=cmd_purge)
