"""`facefind watchlist`: put identities on the watchlist, take them off, list it; the same
service actions, rules and audit rows as the bot's /watch, /unwatch and /watchlist."""

from __future__ import annotations

import argparse
import sys

from facefind.access.actors import Requester
from facefind.cli.common import db_id, open_gallery
from facefind.investigations.watch import (
    AlreadyWatched,
    NotAnAdmin,
    NotWatchable,
    Watchlist,
    until_end_of,
)
from facefind.runtime.settings import Settings
from facefind.user_input import BadInput
from gallery.watchlists import WatchEntry


def _day(text: str) -> str:
    if until_end_of(text) is None:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}")
    return text


def entry_line(e: WatchEntry) -> str:
    until = f"{e.expires_at:%Y-%m-%d %H:%M} UTC" if e.expires_at else "until removed"
    who = ",".join(map(str, e.recipients)) if e.recipients else "every admin"
    bands = "strong and possible" if e.alert_possible else "strong only"
    return f"{e.identity_id}\t{e.display_name}\t{e.reason}\t{until}\t{who}\t{bands}\t{e.created_by}"


async def cmd_watchlist(settings: Settings, args: argparse.Namespace) -> int:
    async with open_gallery(settings) as gallery:
        watch = Watchlist(gallery)
        requester = Requester.cli()
        if args.action in (None, "list"):
            for e in await watch.listing(requester):
                print(entry_line(e))
            return 0
        if args.action == "remove":
            removed = await watch.remove(args.identity_id, requester, args.why)
            if removed is None:
                print(f"identity {args.identity_id} is not watched", file=sys.stderr)
                return 1
            print(f"identity {args.identity_id} ({removed.display_name}) is no longer watched")
            return 0
        try:
            entry = await watch.add(
                args.identity_id,
                args.reason,
                requester,
                expires_at=until_end_of(args.until) if args.until else None,
                recipients=args.notify or None,
                alert_possible=not args.strong_only,
            )
        except AlreadyWatched as exc:
            print(f"error: {exc}; remove it first to change it", file=sys.stderr)
            return 1
        except NotWatchable:
            print(f"error: no active identity {args.identity_id}", file=sys.stderr)
            return 1
        except (NotAnAdmin, BadInput, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(entry_line(entry))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "watchlist", help="identities whose appearance as a candidate alerts admins at once"
    )
    wsub = p.add_subparsers(dest="action", metavar="ACTION")
    wsub.add_parser("list", help="the identities watched (default)")
    ap = wsub.add_parser("add", help="watch an identity")
    ap.add_argument("identity_id", type=db_id, help="the identity's id (facefind identities)")
    ap.add_argument("--reason", required=True, help="why: every alert says it")
    ap.add_argument("--until", type=_day, help="the last day watched, YYYY-MM-DD (UTC)")
    ap.add_argument(
        "--notify",
        type=db_id,
        action="append",
        metavar="USER_ID",
        help="an admin to alert (repeat for more; default: every admin)",
    )
    ap.add_argument(
        "--strong-only", action="store_true", help="alert on strong candidates only, not possible"
    )
    rp = wsub.add_parser("remove", help="stop watching an identity (kept on record)")
    rp.add_argument("identity_id", type=db_id)
    rp.add_argument("--why", help="why it is taken off")
    p.set_defaults(func=cmd_watchlist)
