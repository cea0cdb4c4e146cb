"""Reading the audit log: the chain's state as `facefind audit verify` reports it, rows filtered
and paged, the rows about one lookup, and a CSV export; admins only, every read audited."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from facefind.access.actors import Requester
from facefind.access.rules import require_admin
from facefind.access.witness import Verdict, Witness, verify
from gallery import AuditHead, Gallery, Lookup
from gallery.audit_log import AuditFilters

EXPORT_COLUMNS = ["id", "at", "actor", "action", "target", "details"]
# an export holds at most this many rows (the newest); narrower filters give the rest
EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class ChainCheck:
    """A full check of the chain: the verdict and when it was made."""

    verdict: Verdict
    checked_at: datetime


@dataclass(frozen=True)
class AuditState:
    """Where the log stands (unchecked), what the data folder's witness saw of it, and the
    last full check made by this process."""

    head: AuditHead | None
    witnessed: AuditHead | None
    witnessed_at: str | None
    last_check: ChainCheck | None


@dataclass(frozen=True)
class AuditExport:
    rows: int
    csv: bytes
    filename: str
    complete: bool  # False: cut at EXPORT_LIMIT rows


class AuditTrail:
    """The audit log as admins read it. The last full check is kept, since it walks every
    row: a page shows it, and an admin asks for a new one."""

    def __init__(self, gallery: Gallery) -> None:
        self.gallery = gallery
        self.last_check: ChainCheck | None = None

    async def check_chain(self, requester: Requester, witness: Witness) -> ChainCheck:
        """Every seal and link under the key and the witnessed head still in the chain, as
        `facefind audit verify` checks them (the witness then moves forward); admins only,
        audited as `audit.verify` with the verdict."""
        require_admin(requester)
        verdict = await verify(self.gallery, witness)
        await self.gallery.audit.append(
            requester.actor, "audit.verify", None, {"ok": verdict.ok, "message": verdict.message}
        )
        self.last_check = ChainCheck(verdict, datetime.now(UTC))
        return self.last_check

    async def state(self, requester: Requester, witness: Witness) -> AuditState:
        """The log's head, the witness's, and the last check; admins only."""
        require_admin(requester)
        head = await self.gallery.audit.head()
        witnessed = witness.head_for(head.genesis) if head else None
        entry = witness.read().get("chains", {}).get(head.genesis) if head else None
        at = entry.get("witnessed_at") if isinstance(entry, dict) else None
        return AuditState(head, witnessed, at, self.last_check)

    async def page(
        self,
        requester: Requester,
        filters: AuditFilters,
        *,
        before: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Rows newest first, filtered; admins only, audited as `audit.list` (who read whose
        record is part of the record)."""
        require_admin(requester)
        rows = await self.gallery.audit.page(filters, before=before, limit=limit)
        await self.gallery.audit.append(
            requester.actor, "audit.list", None, _described(filters, rows=len(rows), before=before)
        )
        return rows

    async def about_lookup(self, lookup: Lookup, requester: Requester) -> list[dict[str, Any]]:
        """The rows about a lookup and its candidates (received, finished, viewed, feedback),
        oldest first; admins only. Read with the lookup, whose view is audited already."""
        require_admin(requester)
        targets = [f"lookup:{lookup.id}"] + [
            f"candidate:{c.id}" for face in lookup.faces for c in face.candidates
        ]
        return await self.gallery.audit.about(targets)

    async def export(self, requester: Requester, filters: AuditFilters) -> AuditExport:
        """The filtered rows as CSV (UTF-8), newest first, at most EXPORT_LIMIT; admins only,
        audited as `audit.export`."""
        require_admin(requester)
        rows = await self.gallery.audit.page(filters, limit=EXPORT_LIMIT + 1)
        complete = len(rows) <= EXPORT_LIMIT
        rows = rows[:EXPORT_LIMIT]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    row["id"],
                    row["at"].isoformat(),
                    _cell(row["actor"]),
                    row["action"],
                    _cell(row["target"] or ""),
                    _cell(json.dumps(row["details"], ensure_ascii=False, sort_keys=True)),
                ]
            )
        await self.gallery.audit.append(
            requester.actor, "audit.export", None, _described(filters, rows=len(rows))
        )
        stamp = f"{datetime.now(UTC):%Y-%m-%d-%H%M}"
        return AuditExport(
            len(rows), buffer.getvalue().encode("utf-8"), f"facefind-audit-{stamp}.csv", complete
        )


def _described(filters: AuditFilters, **extra: object) -> dict[str, object]:
    details: dict[str, object] = {k: v for k, v in extra.items() if v is not None}
    for name, value in (
        ("actor", filters.actor),
        ("action", filters.action),
        ("target", filters.target),
        ("since", filters.since.isoformat() if filters.since else None),
        ("until", filters.until.isoformat() if filters.until else None),
    ):
        if value is not None:
            details[name] = value
    return details


def _cell(value: str) -> str:
    # what a person typed (a name in the details, an actor) must not run as a formula
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
