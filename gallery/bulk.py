"""Bulk loading: many identities and faces per transaction (faces by COPY), and the consistent
snapshot an export between deployments reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from gallery.database import Connection, Database
from gallery.queries import bulk as q
from gallery.queries import identities as iq


@dataclass(frozen=True)
class NewFace:
    identity_id: int
    embedding: np.ndarray
    det_score: float
    quality: dict[str, Any]
    bbox: Sequence[float]
    crop_jpeg: bytes
    source_sha256: str
    low_quality: bool = False


@dataclass(frozen=True)
class NewIdentity:
    name: str
    external_ref: str | None = None
    notes: str | None = None
    uid: str | None = None  # kept across deployments (export / import); new when None


class ExportSnapshot:
    """A gallery's active identities and faces of one model, each read in the same order."""

    def __init__(self, con: Connection, model: str, batch: int = 1000) -> None:
        self.con = con
        self.model = model
        self.batch = batch

    async def identities(self) -> list[dict[str, Any]]:
        rows = await self.con.fetch(q.EXPORT_IDENTITIES, self.model)
        return [dict(r) | {"uid": str(r["uid"])} for r in rows]

    async def face_meta(self) -> AsyncIterator[dict[str, Any]]:
        async for r in self.con.cursor(q.EXPORT_FACES_META, self.model, prefetch=self.batch):
            yield dict(r) | {"uid": str(r["uid"])}

    async def face_embeddings(self) -> AsyncIterator[np.ndarray]:
        async for r in self.con.cursor(q.EXPORT_FACES_EMBEDDINGS, self.model, prefetch=self.batch):
            yield np.asarray(r["embedding"].to_numpy(), dtype=np.float32)

    async def face_crops(self) -> AsyncIterator[bytes]:
        async for r in self.con.cursor(q.EXPORT_FACES_CROPS, self.model, prefetch=self.batch):
            yield bytes(r["crop_jpeg"] or b"")  # imported without a crop: none

    async def templates(self) -> AsyncIterator[tuple[str, np.ndarray, int]]:
        async for r in self.con.cursor(q.EXPORT_TEMPLATES, self.model, prefetch=self.batch):
            yield str(r["uid"]), np.asarray(r["embedding"].to_numpy(), np.float32), r["ref_count"]


class Bulk:
    """Many identities and faces at once (folder loads, imports), and exports."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_identities(self, new: Sequence[NewIdentity], actor: str) -> list[int]:
        """Create identities in one transaction; their ids, in order."""
        if not new:
            return []
        async with self.db.transaction() as con:
            ids = [int(r[0]) for r in await con.fetch(q.IDENTITY_IDS_RESERVE, len(new))]
            names = [" ".join(n.name.split()) for n in new]
            if not all(names):
                raise ValueError("an identity needs a name")
            await con.execute(
                q.IDENTITIES_INSERT_MANY,
                ids,
                names,
                [n.external_ref for n in new],
                [n.notes for n in new],
                [actor] * len(new),
                [n.uid for n in new],
            )
            await self.db.audit(
                actor,
                "identity.bulk_create",
                None,
                {
                    "identities": [
                        {"id": i, "name": n, "external_ref": s.external_ref}
                        for i, n, s in zip(ids, names, new, strict=True)
                    ]
                },
                con=con,
            )
        return ids

    async def copy_faces(
        self, faces: Sequence[NewFace], *, model: str, recipe: str, actor: str
    ) -> list[int | None]:
        """Add faces by COPY through a staging table, refresh their identities' templates,
        one audit row; the new face ids in order (None: that photo was already enrolled for
        that identity)."""
        if not faces:
            return []
        records = [
            (
                i,
                f.identity_id,
                model,
                np.asarray(f.embedding, dtype=np.float32),
                float(f.det_score),
                f.quality,
                [float(v) for v in f.bbox],
                f.crop_jpeg or None,  # no crop is NULL, as in import_faces
                f.source_sha256,
                actor,
                recipe,
                f.low_quality,
            )
            for i, f in enumerate(faces)
        ]
        async with self.db.transaction() as con:
            await con.execute(q.FACES_STAGING)
            await con.copy_records_to_table(
                "faces_staging", records=records, columns=list(q.FACES_STAGING_COLUMNS)
            )
            added = {
                (int(r["identity_id"]), r["source_sha256"]): int(r["id"])
                for r in await con.fetch(q.FACES_FROM_STAGING)
            }
            identities = sorted({i for i, _ in added})
            await con.execute(iq.TEMPLATES_DELETE, identities)
            await con.execute(iq.TEMPLATES_BUILD, identities)
            await self.db.audit(
                actor,
                "face.bulk_add",
                None,
                {"model": model, "faces": sorted(added.values()), "identities": len(identities)},
                con=con,
            )
        return [added.get((f.identity_id, f.source_sha256)) for f in faces]

    async def identities_by_uid(self, uids: Sequence[str]) -> dict[str, tuple[int, bool]]:
        """uid -> (identity id, forgotten) for the uids this gallery knows."""
        rows = await self.db.pool.fetch(q.IDENTITIES_BY_UID, list(uids))
        return {str(r["uid"]): (int(r["id"]), r["deleted_at"] is not None) for r in rows}

    @asynccontextmanager
    async def export_snapshot(self, model: str) -> AsyncIterator[ExportSnapshot]:
        """One consistent view of the gallery for an export that reads it several times."""
        async with (
            self.db.pool.acquire() as con,
            con.transaction(isolation="repeatable_read", readonly=True),
        ):
            yield ExportSnapshot(con, model)
