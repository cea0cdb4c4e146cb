"""Lookups with their faces and candidates, feedback on candidates, export and retention."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from gallery import queries as q
from gallery.base import GalleryBase
from gallery.records import (
    CandidateRef,
    DeliveryCheck,
    Lookup,
    LookupSummary,
    NewLookupFace,
    StoredCandidate,
    StoredLookupFace,
)


class LookupStore(GalleryBase):
    async def create_lookup(
        self,
        *,
        user_id: int | None,
        actor: str,
        source: str,
        chat_id: int | None = None,
        message_id: int | None = None,
        file_id: str | None = None,
        update_id: int | None = None,
        language: str | None = None,
    ) -> int | None:
        """A new pending lookup, audited as received; None when this chat message already has
        one (a re-delivery)."""
        async with self.transaction() as con:
            lookup_id = await con.fetchval(
                q.LOOKUP_CREATE,
                user_id,
                actor,
                source,
                chat_id,
                message_id,
                file_id,
                update_id,
                language,
            )
            if lookup_id is None:
                return None
            await self.audit(
                actor,
                "lookup.receive",
                f"lookup:{lookup_id}",
                {"source": source, "chat_id": chat_id, "message_id": message_id},
                con=con,
            )
        return int(lookup_id)

    async def lookup_for_message(self, chat_id: int, message_id: int) -> tuple[int, str] | None:
        """(id, status) of the lookup this chat message already has, if any."""
        row = await self.pool.fetchrow(q.LOOKUP_BY_MESSAGE, chat_id, message_id)
        return (int(row["id"]), str(row["status"])) if row else None

    async def lookup_handled_by(self, lookup_id: int, worker: str) -> None:
        """Record which worker process is analysing a lookup."""
        await self.pool.execute(q.LOOKUP_HANDLED_BY, lookup_id, worker)

    async def finish_lookup(
        self,
        lookup_id: int,
        *,
        actor: str,
        status: str,
        photo_sha256: str | None = None,
        model: str | None = None,
        error: str | None = None,
        faces: Iterable[NewLookupFace] = (),
        timings: dict[str, Any] | None = None,
        bands: dict[str, Any] | None = None,
        reply_owed: bool = False,
        overview_jpeg: bytes | None = None,
    ) -> dict[tuple[int, int], int]:
        """Store a lookup's faces and candidates; returns candidate ids by (face index, rank).

        `status` is the outcome (done, no_face, error). When a reply is owed (Telegram), the
        lookup is `replying` until the outbox has delivered it.
        """
        ids: dict[tuple[int, int], int] = {}
        face_list = list(faces)
        async with self.transaction() as con:
            for f in face_list:
                lf_id = await con.fetchval(
                    q.LOOKUP_FACE_INSERT,
                    lookup_id,
                    f.face_index,
                    [float(v) for v in f.bbox],
                    float(f.det_score),
                    f.quality,
                    f.crop_jpeg,
                )
                for c in f.candidates:
                    ids[(f.face_index, c.rank)] = await con.fetchval(
                        q.LOOKUP_CANDIDATE_INSERT,
                        lf_id,
                        c.rank,
                        c.identity_id,
                        c.face_id,
                        float(c.similarity),
                        c.band,
                        c.false_candidate_rate,
                        c.low_quality_ref,
                        c.held_by_face,
                    )
            await con.execute(
                q.LOOKUP_FINISH,
                lookup_id,
                photo_sha256,
                model,
                "replying" if reply_owed else status,
                error,
                len(face_list),
                timings or {},
                bands or {},
                status,
                overview_jpeg,
            )
            await self.audit(
                actor,
                "lookup.finish",
                f"lookup:{lookup_id}",
                {"status": status, "faces": len(face_list), "candidates": len(ids), "error": error},
                con=con,
            )
        return ids

    async def get_lookup(self, lookup_id: int) -> Lookup | None:
        async with self.pool.acquire() as con:
            row = await con.fetchrow(q.LOOKUP_GET, lookup_id)
            if row is None:
                return None
            face_rows = await con.fetch(q.LOOKUP_FACES, lookup_id)
            cand_rows = await con.fetch(q.LOOKUP_CANDIDATES, lookup_id)
        by_face: dict[int, list[StoredCandidate]] = {}
        for c in cand_rows:
            by_face.setdefault(c["lookup_face_id"], []).append(
                StoredCandidate(
                    id=c["id"],
                    rank=c["rank"],
                    identity_id=c["identity_id"],
                    face_id=c["face_id"],
                    similarity=float(c["similarity"]),
                    band=c["band"],
                    display_name=c["display_name"],
                    external_ref=c["external_ref"],
                    identity_deleted=c["deleted_at"] is not None,
                    verdict=c["verdict"],
                    false_candidate_rate=c["false_candidate_rate"],
                    low_quality_ref=c["low_quality_ref"],
                    identity_erased=c["erased_at"] is not None,
                    held_by_face=c["held_by_face"],
                )
            )
        faces = [
            StoredLookupFace(
                id=f["id"],
                face_index=f["face_index"],
                bbox=tuple(f["bbox"]),
                det_score=float(f["det_score"]),
                quality=f["quality"],
                crop_jpeg=f["crop_jpeg"],
                candidates=by_face.get(f["id"], []),
            )
            for f in face_rows
        ]
        return Lookup(**{k: row[k] for k in row.keys()}, faces=faces)

    async def list_lookups(
        self,
        *,
        user_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10,
    ) -> list[LookupSummary]:
        rows = await self.pool.fetch(q.LOOKUP_LIST, user_id, since, until, limit)
        return [LookupSummary(**dict(r)) for r in rows]

    async def lookup_overview(self, lookup_id: int) -> bytes | None:
        """The stored photo with numbered boxes, if there is one (several faces)."""
        data = await self.pool.fetchval(q.LOOKUP_OVERVIEW, lookup_id)
        return bytes(data) if data is not None else None

    # --- the outbox -----------------------------------------------------------------------
    async def reply_progress(self, lookup_id: int, sent: int) -> None:
        """Record that the first `sent` messages of the reply arrived."""
        await self.pool.execute(q.LOOKUP_REPLY_PROGRESS, lookup_id, sent)

    async def reply_delivered(self, lookup_id: int) -> str | None:
        """The whole reply arrived: the lookup takes its outcome as status (None if it was not
        waiting for its reply)."""
        status = await self.pool.fetchval(q.LOOKUP_REPLY_DELIVERED, lookup_id)
        return str(status) if status is not None else None

    async def reply_undelivered(self, lookup_id: int, actor: str, error: str) -> bool:
        """Delivery was given up: audited, counted, visible to admins."""
        async with self.transaction() as con:
            done = await con.fetchval(q.LOOKUP_REPLY_UNDELIVERED, lookup_id, error)
            if done is None:
                return False
            await self.audit(
                actor, "lookup.undelivered", f"lookup:{lookup_id}", {"error": error}, con=con
            )
        return True

    async def delivery_check(self, lookup_id: int) -> DeliveryCheck:
        """May the reply's next message go out, and without which identities."""
        row = await self.pool.fetchrow(q.LOOKUP_DELIVERY_CHECK, lookup_id)
        if row is None:
            return DeliveryCheck(False, frozenset())
        return DeliveryCheck(bool(row["allowed"]), frozenset(int(i) for i in row["withheld"]))

    async def reply_withdrawn(self, lookup_id: int, actor: str, reason: str) -> bool:
        """The requester may no longer be answered: the lookup is closed without (the rest of)
        its reply, as `error` with `reason`, and audited; False if it was not waiting for it."""
        async with self.transaction() as con:
            row = await con.fetchrow(q.LOOKUP_REPLY_WITHDRAWN, lookup_id, reason)
            if row is None:
                return False
            await self.audit(
                actor,
                "lookup.withdrawn",
                f"lookup:{lookup_id}",
                {"reason": reason, "outcome": row["outcome"], "messages_sent": row["reply_sent"]},
                con=con,
            )
        return True

    async def count_undelivered(self) -> int:
        return int(await self.pool.fetchval(q.LOOKUP_COUNT_UNDELIVERED))

    async def count_open_lookups(self) -> int:
        return int(await self.pool.fetchval(q.LOOKUP_COUNT_OPEN))

    async def open_lookups_without_job(self, task_name: str) -> list[int]:
        return [int(r["id"]) for r in await self.pool.fetch(q.LOOKUP_OPEN_WITHOUT_JOB, task_name)]

    async def count_lookups_since(self, user_id: int, since: datetime) -> int:
        return int(await self.pool.fetchval(q.LOOKUP_COUNT_SINCE, user_id, since))

    async def export_lookups(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch(q.LOOKUP_EXPORT, since, until)]

    async def purge_before(self, cutoff: datetime, actor: str) -> tuple[int, int]:
        """Retention: drop query face crops and Telegram file ids of lookups older than cutoff."""
        async with self.transaction() as con:
            crops = int((await con.execute(q.RETENTION_PURGE_CROPS, cutoff)).split()[-1])
            # the overview picture is the user's photo with boxes: a face image too
            crops += int((await con.execute(q.RETENTION_PURGE_OVERVIEWS, cutoff)).split()[-1])
            files = int((await con.execute(q.RETENTION_PURGE_FILE_IDS, cutoff)).split()[-1])
            if crops or files:
                await self.audit(
                    actor,
                    "retention.purge",
                    None,
                    {"cutoff": cutoff.isoformat(), "crops": crops, "file_ids": files},
                    con=con,
                )
        return crops, files

    # --- feedback -------------------------------------------------------------------------
    async def get_candidate(self, candidate_id: int) -> CandidateRef | None:
        row = await self.pool.fetchrow(q.CANDIDATE_GET, candidate_id)
        return CandidateRef(**dict(row)) if row else None

    async def add_feedback(
        self, candidate_id: int, user_id: int | None, actor: str, verdict: str
    ) -> None:
        if verdict not in ("confirmed", "rejected"):
            raise ValueError(f"unknown verdict {verdict!r}")
        async with self.transaction() as con:
            await con.execute(q.FEEDBACK_UPSERT, candidate_id, user_id, actor, verdict)
            await self.audit(actor, f"feedback.{verdict}", f"candidate:{candidate_id}", {}, con=con)
