"""Bulk loading: many identities and faces per transaction (faces by COPY), and the vector
indexes dropped during a large load and built once after it."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np

from gallery import queries as q
from gallery.base import Connection, GalleryBase

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VectorIndex:
    name: str
    definition: str  # CREATE INDEX ..., as the server describes it (pg_indexes)
    bytes: int


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


class BulkStore(GalleryBase):
    async def source_hashes(self, model: str) -> set[str]:
        """SHA-256 of every photo with an active face of this model: what a load skips."""
        return {r[0] for r in await self.pool.fetch(q.SOURCE_HASHES, model)}

    async def face_count(self, model: str) -> int:
        return int(await self.pool.fetchval(q.FACES_COUNT, model))

    async def create_identities(self, new: Sequence[NewIdentity], actor: str) -> list[int]:
        """Create identities in one transaction; their ids, in order."""
        if not new:
            return []
        async with self.transaction() as con:
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
            await self.audit(
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
        async with self.transaction() as con:
            await con.execute(q.FACES_STAGING)
            await con.copy_records_to_table(
                "faces_staging", records=records, columns=list(q.FACES_STAGING_COLUMNS)
            )
            added = {
                (int(r["identity_id"]), r["source_sha256"]): int(r["id"])
                for r in await con.fetch(q.FACES_FROM_STAGING)
            }
            identities = sorted({i for i, _ in added})
            await con.execute(q.TEMPLATES_DELETE, identities)
            await con.execute(q.TEMPLATES_BUILD, identities)
            await self.audit(
                actor,
                "face.bulk_add",
                None,
                {"model": model, "faces": sorted(added.values()), "identities": len(identities)},
                con=con,
            )
        return [added.get((f.identity_id, f.source_sha256)) for f in faces]

    async def identities_by_uid(self, uids: Sequence[str]) -> dict[str, tuple[int, bool]]:
        """uid -> (identity id, forgotten) for the uids this gallery knows."""
        rows = await self.pool.fetch(q.IDENTITIES_BY_UID, list(uids))
        return {str(r["uid"]): (int(r["id"]), r["deleted_at"] is not None) for r in rows}

    @asynccontextmanager
    async def export_snapshot(self, model: str) -> AsyncIterator[ExportSnapshot]:
        """One consistent view of the gallery for an export that reads it several times."""
        async with (
            self.pool.acquire() as con,
            con.transaction(isolation="repeatable_read", readonly=True),
        ):
            yield ExportSnapshot(con, model)

    async def defer_vector_indexes(self, actor: str) -> list[str]:
        """Drop the HNSW indexes for a large load, keeping their names to rebuild them.

        Only the indexes facefind defines (q.VECTOR_INDEX_DEFINITIONS) are dropped: they are
        built again from those definitions, never from what a table holds. Dropping is the
        schema owner's: without its connection (a runtime role alone) nothing is dropped and
        the load goes into the indexes as they are, slower but complete."""
        names: list[str] = []
        try:
            async with self.owner_transaction() as con:
                for r in await con.fetch(q.VECTOR_INDEXES):
                    if r["indexname"] not in q.VECTOR_INDEX_DEFINITIONS:
                        logger.warning(
                            "index %s is not one facefind builds: kept through the load",
                            r["indexname"],
                        )
                        continue
                    await con.execute(q.DEFERRED_INDEX_ADD, r["indexname"], actor)
                    await con.execute(q.drop_index(r["indexname"]))
                    names.append(r["indexname"])
                if names:
                    await self.audit(actor, "index.defer", None, {"indexes": names}, con=con)
        except asyncpg.InsufficientPrivilegeError:
            logger.warning(
                "this role may not drop the vector indexes: loading with them in place (slower; "
                "set DATABASE_OWNER_URL for large loads)"
            )
            return []
        return names

    async def vector_indexes(self) -> list[VectorIndex]:
        """The HNSW indexes that searches walk, with their definitions and sizes."""
        return [
            VectorIndex(r["indexname"], r["indexdef"], int(r["bytes"]))
            for r in await self.pool.fetch(q.VECTOR_INDEXES)
        ]

    async def deferred_indexes(self) -> list[str]:
        return [r["name"] for r in await self.pool.fetch(q.DEFERRED_INDEXES)]

    async def restore_vector_indexes(
        self, actor: str, *, timings: dict[str, float] | None = None
    ) -> list[str]:
        """Build the indexes a load deferred (also one an interrupted load left behind), each
        from its definition in the code, looked up by the name the table keeps.

        `timings`, when given, receives each built index's seconds."""
        built = []
        for name in await self.deferred_indexes():
            definition = q.VECTOR_INDEX_DEFINITIONS.get(name)
            if definition is None:
                logger.warning(
                    "deferred index %s is not one facefind defines: not built (delete its row "
                    "from deferred_indexes)",
                    name,
                )
                continue
            logger.info("building index %s", name)
            started = time.perf_counter()
            try:
                async with self.owner_transaction() as con:
                    await con.execute(definition)
                    await con.execute(q.DEFERRED_INDEX_DONE, name)
                    await self.audit(actor, "index.build", None, {"index": name}, con=con)
            except asyncpg.InsufficientPrivilegeError:
                logger.warning(
                    "index %s waits to be built by its owner: run `facefind migrate`", name
                )
                continue
            built.append(name)
            seconds = time.perf_counter() - started
            logger.info("built index %s in %.0f s", name, seconds)
            if timings is not None:
                timings[name] = seconds
        return built
