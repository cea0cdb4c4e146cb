"""The gallery: identities, faces, users, lookups, feedback, audit and vector search."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
import numpy as np

from gallery import queries as q
from gallery.records import (
    AuditCheck,
    CandidateRef,
    Face,
    Identity,
    Lookup,
    LookupSummary,
    Match,
    NewLookupFace,
    PendingLookup,
    StoredCandidate,
    StoredLookupFace,
    User,
)

logger = logging.getLogger(__name__)

# a plain connection or one borrowed from the pool; both run the same queries
Connection: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"

USER_STATUSES = ("pending", "approved", "rejected", "revoked")
ROLES = ("officer", "admin")
GENESIS_HASH = "0" * 64


class ModelMismatch(RuntimeError):
    """A model name is recorded with other file hashes: embeddings are not comparable."""


class Gallery:
    """All database access. Methods take `con` to join a caller's transaction."""

    def __init__(self, pool: asyncpg.Pool, *, ef_search: int = 200, shortlist: int = 200) -> None:
        self.pool = pool
        self.ef_search = ef_search
        self.shortlist = shortlist

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as con, con.transaction():
            yield con

    def _c(self, con: Connection | None) -> Any:
        return con if con is not None else self.pool

    # --- health ---------------------------------------------------------------------------
    async def ping(self) -> bool:
        return bool(await self.pool.fetchval("SELECT 1") == 1)

    # --- models ---------------------------------------------------------------------------
    async def register_model(
        self, name: str, detector_sha256: str, recognizer_sha256: str, dim: int = 512
    ) -> None:
        """Record a model's hashes on first use; refuse a name whose files changed."""
        async with self.transaction() as con:
            await con.execute(q.MODEL_INSERT, name, detector_sha256, recognizer_sha256, dim)
            row = await con.fetchrow(q.MODEL_GET, name)
        assert row is not None
        if row["recognizer_sha256"] != recognizer_sha256 or row["dim"] != dim:
            raise ModelMismatch(
                f"model {name!r} is recorded with recognizer {row['recognizer_sha256'][:12]}…, "
                f"but the loaded file is {recognizer_sha256[:12]}…: embeddings would not be "
                "comparable. Use a different model directory name, or re-embed the gallery."
            )
        if row["detector_sha256"] != detector_sha256:
            logger.warning("model %s: detector file differs from the one first recorded", name)

    # --- audit ----------------------------------------------------------------------------
    async def audit(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        con: Connection | None = None,
    ) -> None:
        await self._c(con).execute(q.AUDIT_INSERT, actor, action, target, details or {})

    async def verify_audit_chain(self) -> AuditCheck:
        """Recompute every row's hash here, independently of the database trigger."""
        prev = GENESIS_HASH
        count = 0
        async with self.pool.acquire() as con, con.transaction(isolation="repeatable_read"):
            async for row in con.cursor(q.AUDIT_CHAIN):
                count += 1
                if row["prev_hash"] != prev:
                    return AuditCheck(False, count, row["id"], "previous-hash link broken")
                payload = "\n".join(
                    [
                        row["prev_hash"],
                        str(row["id"]),
                        row["at_text"],
                        row["actor"],
                        row["action"],
                        row["target"] or "",
                        row["details_text"],
                    ]
                )
                if hashlib.sha256(payload.encode()).hexdigest() != row["hash"]:
                    return AuditCheck(False, count, row["id"], "row content does not match hash")
                prev = row["hash"]
        return AuditCheck(True, count)

    async def recent_audit(self, limit: int = 50) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch(q.AUDIT_RECENT, limit)]

    # --- users ----------------------------------------------------------------------------
    async def user_seen(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language: str | None,
    ) -> tuple[User, bool]:
        """Record that a Telegram user wrote to us; returns the user and whether it is new."""
        known = await self.get_user(user_id)
        if known is not None and (
            known.first_name,
            known.last_name,
            known.username,
            known.language,
        ) == (first_name or "", last_name, username, language):
            return known, False  # nothing changed: no write on every message
        async with self.transaction() as con:
            row = await con.fetchrow(
                q.USER_SEEN, user_id, first_name or "", last_name, username, language
            )
            assert row is not None
            inserted = bool(row["inserted"])
            if inserted:
                await self.audit(
                    f"tg:{user_id}",
                    "user.request_access",
                    f"user:{user_id}",
                    {"username": username},
                    con=con,
                )
        return _user(row), inserted

    async def get_user(self, user_id: int, *, con: Connection | None = None) -> User | None:
        row = await self._c(con).fetchrow(q.USER_GET, user_id)
        return _user(row) if row else None

    async def list_users(self, status: str | None = None) -> list[User]:
        return [_user(r) for r in await self.pool.fetch(q.USER_LIST, status)]

    async def admins(self) -> list[User]:
        return [_user(r) for r in await self.pool.fetch(q.USER_ADMINS)]

    async def set_user_status(
        self, user_id: int, status: str, actor: str, *, create: bool = False
    ) -> User | None:
        if status not in USER_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return await self._decide(user_id, q.USER_SET_STATUS, "status", status, actor, create)

    async def set_user_role(
        self, user_id: int, role: str, actor: str, *, create: bool = False
    ) -> User | None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        return await self._decide(user_id, q.USER_SET_ROLE, "role", role, actor, create)

    async def _decide(
        self, user_id: int, query: str, field: str, value: str, actor: str, create: bool
    ) -> User | None:
        """Change a user's status or role, recording who did it and what it was before."""
        async with self.transaction() as con:
            if create:
                await con.execute(q.USER_ENSURE, user_id)
            before = await self.get_user(user_id, con=con)
            row = await con.fetchrow(query, user_id, value, actor)
            if row is None:
                return None
            action = f"user.{value}" if field == "status" else f"user.role.{value}"
            await self.audit(
                actor,
                action,
                f"user:{user_id}",
                {"from": getattr(before, field) if before else None, "to": value},
                con=con,
            )
        return _user(row)

    # --- identities -----------------------------------------------------------------------
    async def create_identity(
        self,
        display_name: str,
        actor: str,
        external_ref: str | None = None,
        notes: str | None = None,
        *,
        con: Connection | None = None,
    ) -> Identity:
        name = " ".join(display_name.split())
        if not name:
            raise ValueError("an identity needs a name")
        async with self._tx(con) as c:
            identity_id = await c.fetchval(q.IDENTITY_INSERT, name, external_ref, notes, actor)
            await self.audit(
                actor,
                "identity.create",
                f"identity:{identity_id}",
                {"name": name, "external_ref": external_ref},
                con=c,
            )
            row = await c.fetchrow(q.IDENTITY_GET, identity_id)
        return _identity(row)

    async def get_identity(self, identity_id: int) -> Identity | None:
        row = await self.pool.fetchrow(q.IDENTITY_GET, identity_id)
        return _identity(row) if row else None

    async def identities_named(self, name: str) -> list[Identity]:
        """Active identities whose name equals `name`, ignoring case and spacing."""
        clean = " ".join(name.split())
        return [_identity(r) for r in await self.pool.fetch(q.IDENTITY_BY_NAME, clean)]

    async def identities_like(self, text: str, limit: int = 10) -> list[Identity]:
        return [_identity(r) for r in await self.pool.fetch(q.IDENTITY_NAME_LIKE, text, limit)]

    async def list_identities(self, *, include_deleted: bool = False) -> list[Identity]:
        return [_identity(r) for r in await self.pool.fetch(q.IDENTITY_LIST, include_deleted)]

    async def forget_identity(self, identity_id: int, actor: str) -> bool:
        """Soft-delete: the identity and its faces leave every future search."""
        async with self.transaction() as con:
            done = await con.fetchval(q.IDENTITY_SOFT_DELETE, identity_id, actor)
            if done is None:
                return False
            faces = await con.execute(q.FACES_DEACTIVATE, identity_id)
            await self.audit(
                actor,
                "identity.forget",
                f"identity:{identity_id}",
                {"faces_deactivated": int(faces.split()[-1])},
                con=con,
            )
        return True

    # --- faces ----------------------------------------------------------------------------
    async def add_face(
        self,
        *,
        identity_id: int,
        model: str,
        embedding: np.ndarray,
        det_score: float,
        quality: dict[str, Any],
        bbox: Sequence[float],
        crop_jpeg: bytes,
        source_sha256: str,
        actor: str,
        con: Connection | None = None,
    ) -> int | None:
        """Add a face; None when this photo is already enrolled for this identity."""
        async with self._tx(con) as c:
            face_id = await c.fetchval(
                q.FACE_INSERT,
                identity_id,
                model,
                np.asarray(embedding, dtype=np.float32),
                float(det_score),
                quality,
                [float(v) for v in bbox],
                crop_jpeg,
                source_sha256,
                actor,
            )
            if face_id is not None:
                await self.audit(
                    actor,
                    "face.add",
                    f"face:{face_id}",
                    {"identity_id": identity_id, "model": model, "source_sha256": source_sha256},
                    con=c,
                )
        return int(face_id) if face_id is not None else None

    async def import_faces(
        self,
        model: str,
        identity_ids: Sequence[int],
        embeddings: np.ndarray,
        *,
        actor: str,
        source: str = "import",
    ) -> int:
        """Bulk-load faces with COPY (migrations between deployments, benchmarks).

        Rows get no crop image; they take part in searches like any face.
        """
        if len(identity_ids) != len(embeddings):
            raise ValueError("one identity id per embedding")
        records = [
            (
                int(ident),
                model,
                np.asarray(emb, dtype=np.float32),
                1.0,
                {"imported": True},
                [0.0, 0.0, 0.0, 0.0],
                b"",
                f"{source}:{i}",
                actor,
            )
            for i, (ident, emb) in enumerate(zip(identity_ids, embeddings, strict=True))
        ]
        async with self.transaction() as con:
            await con.copy_records_to_table(
                "faces",
                records=records,
                columns=[
                    "identity_id",
                    "model",
                    "embedding",
                    "det_score",
                    "quality",
                    "bbox",
                    "crop_jpeg",
                    "source_sha256",
                    "added_by",
                ],
            )
            await self.audit(
                actor, "face.import", None, {"model": model, "rows": len(records)}, con=con
            )
        return len(records)

    async def faces_from_source(self, source_sha256: str, model: str) -> list[tuple[int, int, str]]:
        """(face id, identity id, identity name) of active faces enrolled from this photo."""
        rows = await self.pool.fetch(q.FACE_BY_SOURCE, source_sha256, model)
        return [(r["id"], r["identity_id"], r["display_name"]) for r in rows]

    async def get_face(self, face_id: int) -> Face | None:
        row = await self.pool.fetchrow(q.FACE_GET, face_id)
        return _face(row) if row else None

    async def faces_of_identity(self, identity_id: int) -> list[Face]:
        return [_face(r) for r in await self.pool.fetch(q.FACES_OF_IDENTITY, identity_id)]

    # --- search ---------------------------------------------------------------------------
    async def search(
        self,
        embedding: np.ndarray,
        model: str,
        *,
        limit: int = 10,
        exact: bool = False,
    ) -> list[Match]:
        """The `limit` identities closest to `embedding`, each with its best face, best first.

        The HNSW index gives a shortlist of faces; identities in it are then re-scored exactly
        against all their faces, so the answer does not depend on the index's randomness.
        """
        query = np.asarray(embedding, dtype=np.float32)
        async with self.transaction() as con:
            if exact:
                await con.execute(q.SEARCH_EXACT_SETTINGS)
            else:
                await con.execute(
                    q.SEARCH_SETTINGS, self.ef_search, max(20000, self.shortlist * 50)
                )
            rows = await con.fetch(q.SEARCH_SHORTLIST, query, model, self.shortlist)
            if exact:
                await con.execute(q.SEARCH_EXACT_RESET)
            if not rows:
                return []
            order = _best_per_identity(query, rows)
            chosen = [ident for ident, _ in order[: max(limit * 3, 10)]]
            faces = await con.fetch(q.FACES_OF_IDENTITIES, chosen, model)
            ranked = _best_per_identity(query, faces)[:limit]
            idents = {
                r["id"]: r
                for r in await con.fetch(q.IDENTITIES_BY_IDS, [ident for ident, _ in ranked])
            }
        return [
            Match(
                identity_id=ident,
                display_name=idents[ident]["display_name"],
                external_ref=idents[ident]["external_ref"],
                face_id=face_id,
                similarity=sim,
            )
            for ident, (sim, face_id) in ranked
            if ident in idents
        ]

    # --- lookups --------------------------------------------------------------------------
    async def create_lookup(
        self,
        *,
        user_id: int | None,
        actor: str,
        source: str,
        chat_id: int | None = None,
        message_id: int | None = None,
        file_id: str | None = None,
    ) -> int | None:
        """A new pending lookup; None when this chat message already has one (a re-delivery)."""
        lookup_id = await self.pool.fetchval(
            q.LOOKUP_CREATE, user_id, actor, source, chat_id, message_id, file_id
        )
        return int(lookup_id) if lookup_id is not None else None

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
    ) -> dict[tuple[int, int], int]:
        """Store a lookup's faces and candidates; returns candidate ids by (face index, rank)."""
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
                    )
            await con.execute(
                q.LOOKUP_FINISH,
                lookup_id,
                photo_sha256,
                model,
                status,
                error,
                len(face_list),
                timings or {},
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

    async def pending_lookups(self) -> list[PendingLookup]:
        return [PendingLookup(**dict(r)) for r in await self.pool.fetch(q.LOOKUP_PENDING)]

    async def count_lookups_since(self, user_id: int, since: datetime) -> int:
        return int(await self.pool.fetchval(q.LOOKUP_COUNT_SINCE, user_id, since))

    async def export_lookups(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch(q.LOOKUP_EXPORT, since, until)]

    async def purge_before(self, cutoff: datetime, actor: str) -> tuple[int, int]:
        """Retention: drop query face crops and Telegram file ids of lookups older than cutoff."""
        async with self.transaction() as con:
            crops = int((await con.execute(q.RETENTION_PURGE_CROPS, cutoff)).split()[-1])
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

    # --- helpers --------------------------------------------------------------------------
    @asynccontextmanager
    async def _tx(self, con: Connection | None) -> AsyncIterator[Connection]:
        """Join the caller's transaction, or open one."""
        if con is not None:
            yield con
            return
        async with self.transaction() as own:
            yield own


def _vector(value: Any) -> np.ndarray:
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float64)


def _best_per_identity(
    query: np.ndarray, rows: Sequence[Any]
) -> list[tuple[int, tuple[float, int]]]:
    """Exact cosine in float64; each identity's best (similarity, face id), best first.

    Ties break on the lower face id and identity id, so the order is deterministic.
    """
    if not rows:
        return []
    matrix = np.stack([_vector(r["embedding"]) for r in rows])
    # row-wise sums, not a BLAS product: a face's score must not depend on which other rows
    # share the matrix, or the same query could rank differently from one call to the next
    norms = np.sqrt((matrix * matrix).sum(axis=1))
    norms[norms == 0] = 1.0
    q64 = np.asarray(query, dtype=np.float64)
    q64 = q64 / (np.sqrt((q64 * q64).sum()) or 1.0)
    sims = (matrix * q64).sum(axis=1) / norms
    best: dict[int, tuple[float, int]] = {}
    for r, sim in zip(rows, sims.tolist(), strict=True):
        ident, face_id = int(r["identity_id"]), int(r["id"])
        current = best.get(ident)
        if current is None or sim > current[0] or (sim == current[0] and face_id < current[1]):
            best[ident] = (sim, face_id)
    return sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))


def _user(row: Any) -> User:
    return User(**{k: row[k] for k in User.__dataclass_fields__})


def _identity(row: Any) -> Identity:
    return Identity(**{k: row[k] for k in Identity.__dataclass_fields__})


def _face(row: Any) -> Face:
    return Face(**{k: row[k] for k in Face.__dataclass_fields__})
