"""The lookup history as pages: newest first, filtered, paged by keyset (the console's /lookups)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gallery.database import Database
from gallery.queries import lookup_pages as q

BANDS = ("strong", "possible", "none")
STATUSES = ("pending", "replying", "done", "no_face", "error", "undelivered")
VERDICTS = ("confirmed", "rejected", "none")
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class LookupFilters:
    """What a page shows; None: not filtered on. `since` inclusive, `until` exclusive."""

    user_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    identity_id: int | None = None
    band: str | None = None  # the lookup's best band: strong / possible / none (no candidate)
    status: str | None = None
    feedback: str | None = None  # some candidate confirmed / rejected; none: no verdict at all

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("band", self.band, BANDS),
            ("status", self.status, STATUSES),
            ("feedback", self.feedback, VERDICTS),
        ):
            if value is not None and value not in allowed:
                raise ValueError(f"unknown {name} {value!r}")

    def statement(self, direction: str) -> str:
        """The page statement for these filters, toward older or newer lookups."""
        key = (direction, self.identity_id is not None, self.band, self.feedback)
        return q.LOOKUP_PAGES[key]

    def params(self) -> tuple[Any, ...]:
        """$1 to $5 of the page statements."""
        return (self.user_id, self.since, self.until, self.status, self.identity_id)


@dataclass(frozen=True)
class PageFace:
    """A query face of a listed lookup: its thumbnail, unless retention purged it."""

    id: int  # lookup_faces.id: the thumbnail's address
    face_index: int
    purged: bool


@dataclass(frozen=True)
class PageCandidate:
    """A face's first own candidate (never a lead), with the latest verdict on it."""

    face_index: int
    identity_id: int
    display_name: str
    similarity: float
    band: str
    identity_deleted: bool
    verdict: str | None


@dataclass(frozen=True)
class LookupRow:
    id: int
    created_at: datetime
    user_id: int | None
    officer: str | None  # the requester's name as Telegram gave it; None: not a Telegram user
    actor: str
    source: str
    status: str
    face_count: int | None
    faces: tuple[PageFace, ...]
    candidates: tuple[PageCandidate, ...]

    @property
    def band(self) -> str:
        """The best band among the faces' first candidates; 'none' without a candidate."""
        bands = {c.band for c in self.candidates}
        return "strong" if "strong" in bands else "possible" if "possible" in bands else "none"


@dataclass(frozen=True)
class LookupPage:
    rows: tuple[LookupRow, ...]
    older: int | None  # the cursor of the next page back in time; None: this is the oldest
    newer: int | None  # the cursor of the page before, toward the newest; None: the newest


@dataclass(frozen=True)
class FaceCrop:
    """A query face's aligned crop: `found` False for an unknown id; `jpeg` None when purged."""

    found: bool
    jpeg: bytes | None


class LookupPages:
    """Pages of the lookup history, and the query faces' crops they show."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self,
        filters: LookupFilters,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = PAGE_SIZE,
    ) -> LookupPage:
        """The `limit` lookups older than lookup `before` (newest first), or newer than lookup
        `after`, or the newest; each with its query faces and their first candidates."""
        if before is not None and after is not None:
            raise ValueError("a page is either before or after a lookup, not both")
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        newer_side = after is not None
        cursor = after if newer_side else before
        async with self.db.transaction() as con:
            await con.execute(q.LOOKUP_PAGE_PLANS)
            statement = filters.statement("newer" if newer_side else "older")
            found = list(await con.fetch(statement, *filters.params(), cursor, limit + 1))
            more = len(found) > limit
            found = found[:limit]
            if newer_side:
                found.reverse()
            ids = [r["id"] for r in found]
            faces = await con.fetch(q.LOOKUP_PAGE_FACES, ids) if ids else []
            candidates = await con.fetch(q.LOOKUP_PAGE_CANDIDATES, ids) if ids else []
        rows = _rows(found, faces, candidates)
        if newer_side:
            return LookupPage(
                rows,
                older=rows[-1].id if rows else None,
                newer=rows[0].id if more and rows else None,
            )
        return LookupPage(
            rows,
            older=rows[-1].id if more and rows else None,
            newer=rows[0].id if before is not None and rows else None,
        )

    async def explain(
        self,
        filters: LookupFilters,
        *,
        before: int | None = None,
        limit: int = PAGE_SIZE,
        analyze: bool = True,
    ) -> dict[str, Any]:
        """The plan of a page's main statement as the server runs it (EXPLAIN, JSON), with the
        same custom planning as `page`: for the benchmark and the tests that check the plan."""
        prefix = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " if analyze else "EXPLAIN (FORMAT JSON) "
        async with self.db.transaction() as con:
            await con.execute(q.LOOKUP_PAGE_PLANS)
            raw = await con.fetchval(
                prefix + filters.statement("older"), *filters.params(), before, limit + 1
            )
        plan = json.loads(raw) if isinstance(raw, str) else raw
        return dict(plan[0])

    async def face_crop(self, lookup_face_id: int) -> FaceCrop:
        row = await self.db.pool.fetchrow(q.LOOKUP_FACE_CROP, lookup_face_id)
        if row is None:
            return FaceCrop(found=False, jpeg=None)
        jpeg = row["crop_jpeg"]
        return FaceCrop(found=True, jpeg=bytes(jpeg) if jpeg is not None else None)


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, depth first."""
    nodes: list[dict[str, Any]] = []
    stack = [plan.get("Plan", plan)]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(reversed(node.get("Plans", [])))
    return nodes


def _rows(found: list[Any], faces: list[Any], candidates: list[Any]) -> tuple[LookupRow, ...]:
    faces_of: dict[int, list[PageFace]] = {}
    for f in faces:
        faces_of.setdefault(f["lookup_id"], []).append(
            PageFace(id=f["id"], face_index=f["face_index"], purged=f["purged"])
        )
    candidates_of: dict[int, list[PageCandidate]] = {}
    for c in candidates:
        candidates_of.setdefault(c["lookup_id"], []).append(
            PageCandidate(
                face_index=c["face_index"],
                identity_id=c["identity_id"],
                display_name=c["display_name"],
                similarity=float(c["similarity"]),
                band=c["band"],
                identity_deleted=c["identity_deleted"],
                verdict=c["verdict"],
            )
        )
    return tuple(
        LookupRow(
            id=r["id"],
            created_at=r["created_at"],
            user_id=r["user_id"],
            officer=_name(r),
            actor=r["actor"],
            source=r["source"],
            status=r["status"],
            face_count=r["face_count"],
            faces=tuple(faces_of.get(r["id"], ())),
            candidates=tuple(candidates_of.get(r["id"], ())),
        )
        for r in found
    )


def _name(row: Any) -> str | None:
    if row["user_id"] is None:
        return None
    name = " ".join(p for p in (row["first_name"], row["last_name"]) if p) or str(row["user_id"])
    return f"{name} (@{row['username']})" if row["username"] else name
