"""Reference faces: add one or many, read them, re-embed them (their identities' templates are
rebuilt in the same transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gallery.database import Connection, Database
from gallery.queries import identities as q
from gallery.records import Face
from gallery.templates import Templates


class Faces:
    """The identities' reference faces, by model pack and embedding recipe."""

    def __init__(self, db: Database, templates: Templates) -> None:
        self.db = db
        self.templates = templates

    async def add(
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
        recipe: str,
        low_quality: bool = False,
        con: Connection | None = None,
    ) -> int | None:
        """Add a face and refresh the identity's template; None when this photo is already
        enrolled for this identity. `low_quality` flags a reference kept for want of a better."""
        async with self.db.joined(con) as c:
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
                recipe,
                low_quality,
            )
            if face_id is not None:
                await self.templates.refresh([identity_id], con=c)
                await self.db.audit(
                    actor,
                    "face.add",
                    f"face:{face_id}",
                    {
                        "identity_id": identity_id,
                        "model": model,
                        "source_sha256": source_sha256,
                        "low_quality": low_quality,
                    },
                    con=c,
                )
        return int(face_id) if face_id is not None else None

    async def import_embeddings(
        self,
        model: str,
        identity_ids: Sequence[int],
        embeddings: np.ndarray,
        *,
        actor: str,
        recipe: str,
        source: str = "import",
        templates: bool = True,
    ) -> int:
        """Bulk-load faces with COPY (migrations between deployments, benchmarks).

        Rows get no crop image (NULL): they take part in searches like any face, and a reply
        that matches one shows the query face alone. `templates=False` leaves
        the identities' templates stale: a load in several parts then calls `Templates.rebuild`
        once at the end.
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
                None,
                f"{source}:{i}",
                actor,
                recipe,
            )
            for i, (ident, emb) in enumerate(zip(identity_ids, embeddings, strict=True))
        ]
        async with self.db.transaction() as con:
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
                    "recipe",
                ],
            )
            if templates:
                await self.templates.refresh(sorted({int(i) for i in identity_ids}), con=con)
            await self.db.audit(
                actor, "face.import", None, {"model": model, "rows": len(records)}, con=con
            )
        return len(records)

    async def source_hashes(self, model: str) -> set[str]:
        """SHA-256 of every photo with an active face of this model: what a load skips."""
        return {r[0] for r in await self.db.pool.fetch(q.SOURCE_HASHES, model)}

    async def count(self, model: str) -> int:
        return int(await self.db.pool.fetchval(q.FACES_COUNT, model))

    async def of_other_recipes(self, model: str, recipe: str) -> dict[str, int]:
        """Active faces of this model embedded with another recipe: recipe -> count."""
        rows = await self.db.pool.fetch(q.FACES_OF_OTHER_RECIPES, model, recipe)
        return {r["recipe"]: int(r["faces"]) for r in rows}

    async def of_other_models(self, model: str) -> dict[str, int]:
        rows = await self.db.pool.fetch(q.FACES_OF_OTHER_MODELS, model)
        return {r["model"]: int(r["faces"]) for r in rows}

    # --- re-embedding (a new recipe or another model pack) ------------------------------------
    async def count_to_reembed(self, model: str, recipe: str) -> int:
        return int(await self.db.pool.fetchval(q.FACES_TO_REEMBED_COUNT, model, recipe))

    async def to_reembed(
        self, model: str, recipe: str, after_id: int, batch: int
    ) -> list[tuple[int, int, bytes]]:
        """(face id, identity id, aligned crop JPEG; b"" when imported without one) of faces
        made with another recipe."""
        rows = await self.db.pool.fetch(q.FACES_TO_REEMBED, model, recipe, after_id, batch)
        return [(int(r["id"]), int(r["identity_id"]), bytes(r["crop_jpeg"] or b"")) for r in rows]

    async def set_embeddings(
        self,
        embeddings: Sequence[tuple[int, int, np.ndarray]],
        recipe: str,
        actor: str,
    ) -> None:
        """Store new embeddings ((face id, identity id, vector)), refresh those templates."""
        async with self.db.transaction() as con:
            await con.executemany(
                q.FACE_SET_EMBEDDING,
                [(fid, np.asarray(e, dtype=np.float32), recipe) for fid, _, e in embeddings],
            )
            await self.templates.refresh(sorted({i for _, i, _ in embeddings}), con=con)
            await self.db.audit(
                actor,
                "face.reembed",
                None,
                {"recipe": recipe, "faces": [fid for fid, _, _ in embeddings]},
                con=con,
            )

    async def to_copy(
        self, from_model: str, to_model: str, after_id: int, batch: int
    ) -> list[Face]:
        """Faces of another model pack not yet embedded with `to_model`, by id."""
        rows = await self.db.pool.fetch(
            q.FACES_OF_MODEL_TO_COPY, from_model, to_model, after_id, batch
        )
        return [face_of(r) for r in rows]

    async def from_source(self, source_sha256: str, model: str) -> list[tuple[int, int, str]]:
        """(face id, identity id, identity name) of active faces enrolled from this photo."""
        rows = await self.db.pool.fetch(q.FACE_BY_SOURCE, source_sha256, model)
        return [(r["id"], r["identity_id"], r["display_name"]) for r in rows]

    async def get(self, face_id: int) -> Face | None:
        row = await self.db.pool.fetchrow(q.FACE_GET, face_id)
        return face_of(row) if row else None

    async def of_identity(self, identity_id: int) -> list[Face]:
        return [face_of(r) for r in await self.db.pool.fetch(q.FACES_OF_IDENTITY, identity_id)]


def face_of(row: Any) -> Face:
    return Face(**{k: row[k] for k in Face.__dataclass_fields__})
