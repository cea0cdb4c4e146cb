"""Who acts: the actor strings written to the audit log, for Telegram users and the CLI."""

from __future__ import annotations

import getpass
from dataclasses import dataclass


@dataclass(frozen=True)
class Requester:
    """Who asks: an audit actor string and, for Telegram users, their id."""

    actor: str
    user_id: int | None = None

    @classmethod
    def telegram(cls, user_id: int) -> Requester:
        return cls(actor=f"tg:{user_id}", user_id=user_id)

    @classmethod
    def cli(cls) -> Requester:
        """The operator at the command line, by login name."""
        try:
            user = getpass.getuser()
        except Exception:  # no login name in some containers
            user = "unknown"
        return cls(actor=f"cli:{user}")
