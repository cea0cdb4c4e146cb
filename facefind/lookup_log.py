"""The record of lookups, as people read it: one lookup shown again, a list (the bot's ten lines,
the console's filtered pages), an export as CSV, the pictures, and feedback on a candidate; each
with its access rule and its audit row, for every front end."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from facefind.access.actors import Requester
from facefind.access.rules import may_judge_candidate, may_see_lookup, require_admin
from gallery import CandidateRef, Gallery, Lookup, LookupSummary, User
from gallery.lookup_pages import PAGE_SIZE, FaceCrop, LookupFilters, LookupPage

EXPORT_COLUMNS = [
    "lookup_id", "created_at", "user_id", "actor", "source", "status", "face_count",
    "photo_sha256", "model", "face_index", "det_score", "rank", "identity_id", "display_name",
    "external_ref", "face_id", "similarity", "band", "verdict", "held_by_face",
]  # fmt: skip
VERDICTS = ("confirmed", "rejected")


@dataclass(frozen=True)
class LookupExport:
    """Lookups and their candidates between two days, as a CSV file (UTF-8)."""

    first: datetime
    last: datetime
    rows: int
    csv: bytes

    @property
    def filename(self) -> str:
        return f"facefind-lookups-{self.first:%Y-%m-%d}-{self.last:%Y-%m-%d}.csv"


class LookupLog:
    """Reading the lookups: officers their own, admins any, every admin view audited."""

    def __init__(self, gallery: Gallery) -> None:
        self.gallery = gallery

    async def view(self, lookup_id: int, requester: Requester) -> Lookup | None:
        """A lookup with its faces and candidates, audited as `lookup.view`; None when there is
        none or it is not the requester's to see (an officer learns nothing about other
        people's lookups, not even that they exist)."""
        found = await self.gallery.lookups.get(lookup_id)
        if found is None or not may_see_lookup(requester, found):
            return None
        await self.gallery.audit.append(requester.actor, "lookup.view", f"lookup:{found.id}")
        return found

    async def asked_by(self, lookup: Lookup) -> User | None:
        """Who asked for a lookup (None: the command line, or a user the gallery forgot)."""
        return await self.gallery.users.get(lookup.user_id) if lookup.user_id else None

    async def history(self, requester: Requester, *, limit: int = 10) -> list[LookupSummary]:
        """The requester's own last lookups, newest first."""
        if requester.user_id is None:
            return []
        return await self.gallery.lookups.recent(user_id=requester.user_id, limit=limit)

    async def listing(
        self,
        requester: Requester,
        *,
        user_id: int | None = None,
        day: datetime | None = None,
        limit: int = 30,
    ) -> list[LookupSummary]:
        """Lookups of everyone (or of one user), of one day (midnight UTC) or all, newest
        first; admins only, audited as `lookups.list`."""
        require_admin(requester)
        until = day + timedelta(days=1) if day else None
        rows = await self.gallery.lookups.recent(
            user_id=user_id, since=day, until=until, limit=limit
        )
        await self.gallery.audit.append(
            requester.actor,
            "lookups.list",
            f"user:{user_id}" if user_id else None,
            {"day": day.date().isoformat() if day else None, "rows": len(rows)},
        )
        return rows

    async def page(
        self,
        requester: Requester,
        filters: LookupFilters,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = PAGE_SIZE,
    ) -> LookupPage:
        """A page of the history, newest first, filtered (the console's /lookups); admins only,
        audited as `lookups.list` (as the bot's /lookups) with its filters and what it showed."""
        require_admin(requester)
        page = await self.gallery.lookup_pages.page(
            filters, before=before, after=after, limit=limit
        )
        details: dict[str, Any] = {
            "rows": len(page.rows),
            "first": page.rows[0].id if page.rows else None,
            "last": page.rows[-1].id if page.rows else None,
        }
        for name, value in (
            ("user", filters.user_id),
            ("since", filters.since.isoformat() if filters.since else None),
            ("until", filters.until.isoformat() if filters.until else None),
            ("identity", filters.identity_id),
            ("band", filters.band),
            ("status", filters.status),
            ("feedback", filters.feedback),
            ("before", before),
            ("after", after),
        ):
            if value is not None:
                details[name] = value
        target = f"user:{filters.user_id}" if filters.user_id is not None else None
        await self.gallery.audit.append(requester.actor, "lookups.list", target, details)
        return page

    async def face_crop(self, lookup_face_id: int, requester: Requester) -> FaceCrop:
        """A query face's crop for a page that shows it (`jpeg` None: purged by retention);
        admins only. Not audited one by one: the page that showed it was."""
        require_admin(requester)
        return await self.gallery.lookup_pages.face_crop(lookup_face_id)

    async def overview(self, lookup_id: int, requester: Requester) -> bytes | None:
        """A lookup's photo with numbered boxes, for the page that shows the lookup (None: it
        had a single face, or retention purged it); admins only, not audited again."""
        require_admin(requester)
        return await self.gallery.lookups.overview(lookup_id)

    async def export(self, requester: Requester, first: datetime, last: datetime) -> LookupExport:
        """Lookups and candidates from day `first` to day `last` (inclusive, midnight UTC) as
        CSV; admins only, audited as `lookups.export`."""
        require_admin(requester)
        rows = await self.gallery.lookups.export_rows(first, last + timedelta(days=1))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
        await self.gallery.audit.append(
            requester.actor,
            "lookups.export",
            None,
            {"from": f"{first:%Y-%m-%d}", "to": f"{last:%Y-%m-%d}", "rows": len(rows)},
        )
        return LookupExport(first, last, len(rows), buffer.getvalue().encode("utf-8"))

    async def judge(
        self, candidate_id: int, verdict: str, requester: Requester
    ) -> CandidateRef | None:
        """Store "confirmed" or "rejected" on a candidate; None (and nothing stored) when there
        is no such candidate or it is not the requester's to judge (their own lookup's, or
        any for an admin)."""
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        candidate = await self.gallery.feedback.candidate(candidate_id)
        if candidate is None or not may_judge_candidate(requester, candidate):
            return None
        await self.gallery.feedback.add(candidate_id, requester.user_id, requester.actor, verdict)
        return candidate


def csv_cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        # a name typed by a person must not run as a formula in a spreadsheet
        return "'" + value
    return value
