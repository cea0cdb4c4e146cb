"""Who acts: the actor strings written to the audit log, for Telegram users, the CLI and the
service itself, and whether they act with an admin's rights."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from gallery import User

# the service's own housekeeping (retention, closed lookups), as the audit log names it
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Requester:
    """Who asks: an audit actor string, for Telegram users their id, and whether they may act as
    an admin (an approved admin as their record stood when they asked; the CLI's operator and
    the service itself always)."""

    actor: str
    user_id: int | None = None
    admin: bool = False

    @classmethod
    def telegram(cls, user_id: int) -> Requester:
        return cls(actor=f"tg:{user_id}", user_id=user_id)

    @classmethod
    def of(cls, user: User) -> Requester:
        """A person by their record: a Telegram user, in the bot or the console."""
        return cls(actor=f"tg:{user.id}", user_id=user.id, admin=user.is_admin)

    @classmethod
    def cli(cls) -> Requester:
        """The operator at the command line, by login name: they hold the data folder and the
        database already, so nothing is refused to them."""
        try:
            user = getpass.getuser()
        except Exception:  # no login name in some containers
            user = "unknown"
        return cls(actor=f"cli:{user}", admin=True)

    @classmethod
    def system(cls) -> Requester:
        return cls(actor=SYSTEM_ACTOR, admin=True)
