"""Feedback on candidates: "confirm" or "not this person", one verdict per person and candidate."""

from __future__ import annotations

from gallery.database import Database
from gallery.queries import lookups as q
from gallery.records import CandidateRef


class Feedback:
    """Verdicts on the candidates of lookups, and what a verdict's button needs to know."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def candidate(self, candidate_id: int) -> CandidateRef | None:
        row = await self.db.pool.fetchrow(q.CANDIDATE_GET, candidate_id)
        return CandidateRef(**dict(row)) if row else None

    async def add(self, candidate_id: int, user_id: int | None, actor: str, verdict: str) -> None:
        if verdict not in ("confirmed", "rejected"):
            raise ValueError(f"unknown verdict {verdict!r}")
        async with self.db.transaction() as con:
            await con.execute(q.FEEDBACK_UPSERT, candidate_id, user_id, actor, verdict)
            await self.db.audit(
                actor, f"feedback.{verdict}", f"candidate:{candidate_id}", {}, con=con
            )
