"""`facefind users`: list the bot's users, and the decisions on them the bot's admins take too."""

from __future__ import annotations

import argparse
import sys

from facefind.access.actors import Requester
from facefind.access.decisions import USER_ACTIONS, UserDecisions, readmitted_at_start
from facefind.cli.common import db_id, open_gallery
from facefind.errors import AlreadyDecided
from facefind.runtime.settings import Settings
from gallery import User


async def cmd_users(settings: Settings, args: argparse.Namespace) -> int:
    async with open_gallery(settings) as gallery:
        if args.action in (None, "list"):
            for u in await gallery.users.all(getattr(args, "status", None)):
                print(f"{u.id}\t{u.display}\t{u.role}\t{u.status}")
            return 0
        try:
            decisions = UserDecisions(gallery)
            user = await decisions.decide(args.user_id, args.action, Requester.cli(), create=True)
        except AlreadyDecided as decided:
            user = decided.user
            # already where the action puts them: done; else another decision stands
            print(f"nothing changed: {decided}", file=sys.stdout if decided.same else sys.stderr)
            _warn_readmitted(settings, user)
            return 0 if decided.same else 1
        assert user is not None
        print(f"user {user.id}: role {user.role}, status {user.status}")
        _warn_readmitted(settings, user)
    return 0


def _warn_readmitted(settings: Settings, user: User) -> None:
    if readmitted_at_start(user, settings.admin_ids):
        print(
            f"warning: user {user.id} is listed in ADMIN_IDS and will be made an approved admin "
            "again at the bot's next start; to make this last, remove them from ADMIN_IDS",
            file=sys.stderr,
        )


USER_ACTION_HELP = {
    "approve": "let a Telegram user run lookups",
    "reject": "refuse a pending access request",
    "revoke": "withdraw an approved user's access",
    "promote": "make an admin (also approves): this is how the first admin is made",
    "demote": "make an admin an officer again",
}
assert set(USER_ACTION_HELP) == set(USER_ACTIONS)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="bot users: list, approve, reject, revoke, promote, demote")
    usub = p.add_subparsers(dest="action", metavar="ACTION")
    lp = usub.add_parser("list", help="list users (default)")
    lp.add_argument("--status", choices=["pending", "approved", "rejected", "revoked"])
    for action, text in USER_ACTION_HELP.items():
        ap = usub.add_parser(action, help=text)
        ap.add_argument("user_id", type=db_id, help="Telegram user id")
    p.set_defaults(func=cmd_users)
