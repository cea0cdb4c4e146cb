"""Watchlists' records: entries, alerts, what a message tells, deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

BANDS = ("strong", "possible")
KINDS = ("alert", "count")


class AlreadyWatched(RuntimeError):
    """The identity has an entry in force already (one per identity): change that one."""

    def __init__(self, entry_id: int) -> None:
        super().__init__(f"the identity is on the watchlist already (entry {entry_id})")
        self.entry_id = entry_id


class NotWatchable(RuntimeError):
    """No active identity with that id."""


@dataclass(frozen=True)
class WatchEntry:
    id: int
    identity_id: int
    display_name: str
    reason: str
    expires_at: datetime | None
    recipients: tuple[int, ...] | None  # None: every admin
    alert_possible: bool
    created_by: str
    created_at: datetime
    updated_by: str | None
    updated_at: datetime | None
    removed_by: str | None
    removed_at: datetime | None
    removal_reason: str | None

    def in_force(self, now: datetime) -> bool:
        return self.removed_at is None and (self.expires_at is None or self.expires_at > now)

    def alerts_on(self, band: str) -> bool:
        """Whether a candidate in this band alerts: strong always, possible when switched on."""
        if band not in BANDS:
            raise ValueError(f"unknown band {band!r}")
        return band == "strong" or self.alert_possible


@dataclass(frozen=True)
class Alert:
    id: int
    entry_id: int
    identity_id: int
    lookup_id: int
    candidate_id: int | None
    band: str
    similarity: float
    recipients: tuple[int, ...]
    burst_of: int | None  # the alert whose message this one is counted in; None: it is sent
    window_ends_at: datetime | None  # the burst's end (its first alert only)
    summarised_at: datetime | None
    summarised_count: int | None
    actor: str
    created_at: datetime

    @property
    def sent(self) -> bool:
        """This alert has its own message (it opened a burst)."""
        return self.burst_of is None


@dataclass(frozen=True)
class AlertDetails:
    """What a message about an alert tells: who looked and when, the candidate, the entry."""

    id: int
    entry_id: int
    identity_id: int
    display_name: str
    external_ref: str | None
    reason: str
    lookup_id: int
    looked_by: int | None
    looked_actor: str
    looked_at: datetime
    candidate_id: int | None
    lookup_face_id: int | None
    band: str
    similarity: float
    false_candidate_rate: float | None
    burst_of: int | None
    summarised_count: int | None
    created_at: datetime
    forgotten: bool  # the identity was forgotten since: nothing about it may leave


@dataclass(frozen=True)
class Delivery:
    alert_id: int
    user_id: int
    kind: str  # alert | count
    attempts: int
    created_at: datetime
    forgotten: bool  # its identity was forgotten: withhold it


def entry_of(r: Any) -> WatchEntry:
    return WatchEntry(
        id=int(r["id"]),
        identity_id=int(r["identity_id"]),
        display_name=r["display_name"],
        reason=r["reason"],
        expires_at=r["expires_at"],
        recipients=tuple(int(u) for u in r["recipients"]) if r["recipients"] is not None else None,
        alert_possible=bool(r["alert_possible"]),
        created_by=r["created_by"],
        created_at=r["created_at"],
        updated_by=r["updated_by"],
        updated_at=r["updated_at"],
        removed_by=r["removed_by"],
        removed_at=r["removed_at"],
        removal_reason=r["removal_reason"],
    )


def alert_of(r: Any) -> Alert:
    return Alert(
        id=int(r["id"]),
        entry_id=int(r["entry_id"]),
        identity_id=int(r["identity_id"]),
        lookup_id=int(r["lookup_id"]),
        candidate_id=r["candidate_id"],
        band=r["band"],
        similarity=float(r["similarity"]),
        recipients=tuple(int(u) for u in r["recipients"]),
        burst_of=r["burst_of"],
        window_ends_at=r["window_ends_at"],
        summarised_at=r["summarised_at"],
        summarised_count=r["summarised_count"],
        actor=r["actor"],
        created_at=r["created_at"],
    )
