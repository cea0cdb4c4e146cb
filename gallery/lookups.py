"""Lookups with their faces and candidates: recorded, finished, read, listed, exported, counted;
the retention purge of their pictures."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from gallery.database import Connection, Database
from gallery.queries import lookups as q
from gallery.records import (
    Lookup,
    LookupSummary,
    NewLookupFace,
    StoredCandidate,
    StoredLookupFace,
)


class Lookups:
    """Every photo someone asked about, what was found in it, and what became of its reply."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
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
        media: str = "photo",
        con: Connection | None = None,
    ) -> int | None:
        """A new pending lookup, audited as received; None when this chat message already has
        one (a re-delivery). In the caller's transaction when `con` is given (an album)."""
        async with self.db.joined(con) as c:
            lookup_id = await c.fetchval(
                q.LOOKUP_CREATE,
                user_id,
                actor,
                source,
                chat_id,
                message_id,
                file_id,
                update_id,
                language,
                media,
            )
            if lookup_id is None:
                return None
            await self.db.audit(
                actor,
                "lookup.receive",
                f"lookup:{lookup_id}",
                {"source": source, "chat_id": chat_id, "message_id": message_id, "media": media},
                con=c,
            )
        return int(lookup_id)

    async def for_message(self, chat_id: int, message_id: int) -> tuple[int, str] | None:
        """(id, status) of the lookup this chat message already has, if any."""
        row = await self.db.pool.fetchrow(q.LOOKUP_BY_MESSAGE, chat_id, message_id)
        return (int(row["id"]), str(row["status"])) if row else None

    async def handled_by(self, lookup_id: int, worker: str) -> None:
        """Record which worker process is analysing a lookup."""
        await self.db.pool.execute(q.LOOKUP_HANDLED_BY, lookup_id, worker)

    async def finish(
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
        faces_left_out: int = 0,
    ) -> dict[tuple[int, int], int]:
        """Store a lookup's faces and candidates; returns candidate ids by (face index, rank).

        `status` is the outcome (done, no_face, error). When a reply is owed (Telegram), the
        lookup is `replying` until the outbox has delivered it.
        """
        ids: dict[tuple[int, int], int] = {}
        face_list = list(faces)
        async with self.db.transaction() as con:
            for f in face_list:
                lf_id = await con.fetchval(
                    q.LOOKUP_FACE_INSERT,
                    lookup_id,
                    f.face_index,
                    [float(v) for v in f.bbox],
                    float(f.det_score),
                    f.quality,
                    f.crop_jpeg,
                    f.photo_index,
                    f.seen_in,
                    f.frame_jpeg,
                    f.time_s,
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
                faces_left_out,
            )
            await con.execute(q.LOOKUP_SIGHTINGS_LINK, lookup_id)
            await self.db.audit(
                actor,
                "lookup.finish",
                f"lookup:{lookup_id}",
                {"status": status, "faces": len(face_list), "candidates": len(ids), "error": error},
                con=con,
            )
        return ids

    async def get(self, lookup_id: int) -> Lookup | None:
        async with self.db.pool.acquire() as con:
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
                photo_index=f["photo_index"],
                seen_in=f["seen_in"],
                time_s=f["time_s"],
                has_frame=f["has_frame"],
            )
            for f in face_rows
        ]
        return Lookup(**{k: row[k] for k in row.keys()}, faces=faces)

    async def recent(
        self,
        *,
        user_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10,
    ) -> list[LookupSummary]:
        rows = await self.db.pool.fetch(q.LOOKUP_LIST, user_id, since, until, limit)
        return [LookupSummary(**dict(r)) for r in rows]

    async def overview(self, lookup_id: int) -> bytes | None:
        """The stored photo with numbered boxes, if there is one (several faces)."""
        data = await self.db.pool.fetchval(q.LOOKUP_OVERVIEW, lookup_id)
        return bytes(data) if data is not None else None

    async def frame(self, lookup_id: int, face_index: int) -> bytes | None:
        """A clip's best frame of one of its people, if retention kept it."""
        data = await self.db.pool.fetchval(q.LOOKUP_FRAME, lookup_id, face_index)
        return bytes(data) if data is not None else None

    async def count_undelivered(self) -> int:
        return int(await self.db.pool.fetchval(q.LOOKUP_COUNT_UNDELIVERED))

    async def count_open(self) -> int:
        return int(await self.db.pool.fetchval(q.LOOKUP_COUNT_OPEN))

    async def open_without_job(self, task_name: str) -> list[int]:
        return [
            int(r["id"]) for r in await self.db.pool.fetch(q.LOOKUP_OPEN_WITHOUT_JOB, task_name)
        ]

    async def count_since(self, user_id: int, since: datetime) -> int:
        return int(await self.db.pool.fetchval(q.LOOKUP_COUNT_SINCE, user_id, since))

    async def export_rows(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.db.pool.fetch(q.LOOKUP_EXPORT, since, until)]

    async def purge_before(self, cutoff: datetime, actor: str) -> tuple[int, int]:
        """Retention: drop query face crops and Telegram file ids of lookups older than cutoff."""
        async with self.db.transaction() as con:
            crops = int((await con.execute(q.RETENTION_PURGE_CROPS, cutoff)).split()[-1])
            # the overview picture is the user's photo with boxes: a face image too
            crops += int((await con.execute(q.RETENTION_PURGE_OVERVIEWS, cutoff)).split()[-1])
            files = int((await con.execute(q.RETENTION_PURGE_FILE_IDS, cutoff)).split()[-1])
            if crops or files:
                await self.db.audit(
                    actor,
                    "retention.purge",
                    None,
                    {"cutoff": cutoff.isoformat(), "crops": crops, "file_ids": files},
                    con=con,
                )
        return crops, files
