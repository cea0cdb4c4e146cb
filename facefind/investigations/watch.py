"""Watchlists as the front ends use them: entries added, changed and removed by admins, and the
alerts a lookup raises when it gives a watched identity as a candidate; each audited."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from facefind.access.actors import SYSTEM_ACTOR, Requester
from facefind.access.rules import require_admin
from facefind.errors import FaceFindError
from facefind.user_input import BadInput, strip_unsafe
from gallery import Gallery, Lookup
from gallery.watchlists import Alert, AlreadyWatched, NotWatchable, WatchEntry

logger = logging.getLogger(__name__)

# A burst: after an alert about an identity, further lookups that give it as a candidate within
# this window are counted, and the count is sent once the window is over.
ALERT_WINDOW = timedelta(hours=1)

REASON_MAX = 500
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

__all__ = [
    "ALERT_WINDOW",
    "AlreadyWatched",
    "NotAnAdmin",
    "NotWatchable",
    "Watchlist",
    "clean_reason",
    "until_end_of",
]


def until_end_of(text: str) -> datetime | None:
    """'YYYY-MM-DD' as the end of that day (UTC): an entry watched until then; None unless it
    is a real day before 2100."""
    if not _DAY.fullmatch(text):
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    if day.year >= 2100:
        return None
    return day + timedelta(days=1)


def clean_reason(text: str) -> str:
    """Why an identity is watched, as admins will read it: no control or bidi characters, not
    empty, at most REASON_MAX characters (BadInput otherwise)."""
    reason = strip_unsafe(text)
    if not reason:
        raise BadInput("reason", "empty")
    if len(reason) > REASON_MAX:
        raise BadInput("reason", "too_long", REASON_MAX)
    return reason


class NotAnAdmin(FaceFindError):
    """An alert may only go to approved admins: it shows another user's lookup."""

    code = "not_an_admin"

    def __init__(self, user_ids: Sequence[int]) -> None:
        super().__init__(f"not approved admins: {', '.join(map(str, user_ids))}")
        self.user_ids = tuple(user_ids)


class Watchlist:
    """Who is watched, and the alerts lookups raise (`alert`); the messages themselves are sent
    by the front end from the gallery's deliveries (claimed, sent once, retried)."""

    def __init__(self, gallery: Gallery, *, window: timedelta = ALERT_WINDOW) -> None:
        self.gallery = gallery
        self.window = window

    async def add(
        self,
        identity_id: int,
        reason: str,
        requester: Requester,
        *,
        expires_at: datetime | None = None,
        recipients: Sequence[int] | None = None,
        alert_possible: bool = True,
    ) -> WatchEntry:
        """Watch an identity, for `reason`, until `expires_at` (None: until removed). Alerts go
        to `recipients` (approved admins; None: every admin at the time of the alert), for
        `possible` candidates too unless `alert_possible` is off. Admins only; audited as
        `watchlist.add`. Raises AlreadyWatched, NotWatchable, NotAnAdmin, ValueError (no
        reason, an expiry in the past)."""
        require_admin(requester)
        reason = clean_reason(reason)
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise ValueError("the expiry is in the past")
        if recipients is not None:
            wanted = sorted({int(u) for u in recipients})
            admins = {u.id for u in await self.gallery.users.admins()}
            if missing := [u for u in wanted if u not in admins]:
                raise NotAnAdmin(missing)
        return await self.gallery.watchlists.add(
            identity_id,
            reason,
            requester.actor,
            expires_at=expires_at,
            recipients=recipients,
            alert_possible=alert_possible,
        )

    async def remove(
        self, identity_id: int, requester: Requester, why: str | None = None
    ) -> WatchEntry | None:
        """Take an identity off the watchlist (its entry stays on record); None when it is not
        on it. Admins only; audited as `watchlist.remove`."""
        require_admin(requester)
        entries = await self.gallery.watchlists.in_force_for([identity_id])
        entry = entries.get(identity_id)
        if entry is None or not await self.gallery.watchlists.remove(
            entry.id, requester.actor, why
        ):
            return None
        return entry

    async def listing(self, requester: Requester) -> list[WatchEntry]:
        """The entries in force. Admins only; audited as `watchlist.list`."""
        require_admin(requester)
        entries = await self.gallery.watchlists.in_force()
        await self.gallery.audit.append(requester.actor, "watchlist.list", None, {})
        return entries

    async def alert(self, lookup: Lookup) -> list[Alert]:
        """The alerts of a finished lookup: each watched identity among its faces' own
        candidates (not their leads) alerts once per lookup, at its best band; a burst of
        lookups about one identity sends one message, then a count. Running it again for the
        same lookup adds nothing."""
        best: dict[int, tuple[float, str, int]] = {}
        for face in lookup.faces:
            for c in face.candidates:
                if c.held_by_face is not None:
                    continue
                if c.identity_id not in best or c.similarity > best[c.identity_id][0]:
                    best[c.identity_id] = (c.similarity, c.band, c.id)
        if not best:
            return []
        entries = await self.gallery.watchlists.in_force_for(sorted(best))
        alerts = []
        for identity_id, entry in entries.items():
            similarity, band, candidate_id = best[identity_id]
            if not entry.alerts_on(band):
                continue
            alert = await self.gallery.watchlists.record_alert(
                entry.id,
                lookup_id=lookup.id,
                band=band,
                similarity=similarity,
                window=self.window,
                actor=SYSTEM_ACTOR,
                candidate_id=candidate_id,
            )
            if alert is not None:
                alerts.append(alert)
        if alerts:
            logger.info("lookup %s: %d watchlist alert(s)", lookup.id, len(alerts))
        return alerts

    async def close_bursts(self) -> int:
        """Bursts whose window is over get their count message; how many were closed."""
        return len(await self.gallery.watchlists.summarise_due(SYSTEM_ACTOR))
