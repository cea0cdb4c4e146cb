"""Identities and their reference faces: create, find, forget, restore, erase, add faces."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from gallery import queries as q
from gallery.base import Connection, GalleryBase
from gallery.records import Face, Identity


class IdentityStore(GalleryBase):
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
        """Active identities whose name contains `text` literally: % and _ match themselves."""
        pattern = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        return [_identity(r) for r in await self.pool.fetch(q.IDENTITY_NAME_LIKE, pattern, limit)]

    async def list_identities(self, *, include_deleted: bool = False) -> list[Identity]:
        return [_identity(r) for r in await self.pool.fetch(q.IDENTITY_LIST, include_deleted)]

    async def forget_identity(self, identity_id: int, actor: str, *, erase: bool) -> bool:
        """The identity and its faces leave every future search; with `erase` its faces'
        embeddings and pictures (and its name) are erased in the same transaction, otherwise
        it can be restored until `erase_forgotten` runs for it."""
        async with self.transaction() as con:
            done = await con.fetchval(q.IDENTITY_SOFT_DELETE, identity_id, actor)
            if done is None:
                return False
            faces = await con.execute(q.FACES_DEACTIVATE, identity_id)
            await self.audit(
                actor,
                "identity.forget",
                f"identity:{identity_id}",
                {"faces_deactivated": _count(faces), "erase_now": erase},
                con=con,
            )
            if erase:
                await self._erase(con, identity_id, actor)
            await self.refresh_templates([identity_id], con=con)
        return True

    async def restore_identity(self, identity_id: int, actor: str) -> bool:
        """Undo a forget that was not erased yet: the identity and its faces search again."""
        async with self.transaction() as con:
            done = await con.fetchval(q.IDENTITY_RESTORE, identity_id)
            if done is None:
                return False
            faces = await con.execute(q.FACES_REACTIVATE, identity_id)
            await self.audit(
                actor,
                "identity.restore",
                f"identity:{identity_id}",
                {"faces_reactivated": _count(faces)},
                con=con,
            )
            await self.refresh_templates([identity_id], con=con)
        return True

    async def erase_forgotten(self, forgotten_before: datetime, actor: str) -> list[int]:
        """Erase for good every identity forgotten before the cutoff (the end of the grace
        period); returns their ids. One transaction per identity."""
        erased: list[int] = []
        for row in await self.pool.fetch(q.IDENTITIES_TO_ERASE, forgotten_before):
            async with self.transaction() as con:
                if await self._erase(con, row["id"], actor):
                    await self.refresh_templates([row["id"]], con=con)
                    erased.append(row["id"])
        return erased

    async def _erase(self, con: Connection, identity_id: int, actor: str) -> bool:
        if await con.fetchval(q.IDENTITY_ERASE, identity_id) is None:
            return False
        faces = await con.execute(q.FACES_ERASE, identity_id)
        await self.audit(
            actor,
            "identity.erase",
            f"identity:{identity_id}",
            {"faces_erased": _count(faces)},
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
        recipe: str,
        low_quality: bool = False,
        con: Connection | None = None,
    ) -> int | None:
        """Add a face and refresh the identity's template; None when this photo is already
        enrolled for this identity. `low_quality` flags a reference kept for want of a better."""
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
                recipe,
                low_quality,
            )
            if face_id is not None:
                await self.refresh_templates([identity_id], con=c)
                await self.audit(
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

    async def import_faces(
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
        the identities' templates stale: a load in several parts then calls `rebuild_templates`
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
                    "recipe",
                ],
            )
            if templates:
                await self.refresh_templates(sorted({int(i) for i in identity_ids}), con=con)
            await self.audit(
                actor, "face.import", None, {"model": model, "rows": len(records)}, con=con
            )
        return len(records)

    async def refresh_templates(
        self, identity_ids: Sequence[int], *, con: Connection | None = None
    ) -> None:
        """Rebuild these identities' templates from their active references (none left: none).

        Called in the caller's transaction whenever an identity's references change: a face
        added or re-embedded, the identity forgotten, restored or erased."""
        ids = [int(i) for i in identity_ids]
        async with self._tx(con) as c:
            await c.execute(q.TEMPLATES_DELETE, ids)
            await c.execute(q.TEMPLATES_BUILD, ids)

    async def rebuild_templates(self, model: str, *, con: Connection | None = None) -> int:
        """Every template of a model from its active references, in one statement; the count."""
        async with self._tx(con) as c:
            await c.execute(q.TEMPLATES_DELETE_MODEL, model)
            status = await c.execute(q.TEMPLATES_BUILD_MODEL, model)
        return int(status.split()[-1])

    async def template_of(self, identity_id: int, model: str) -> tuple[np.ndarray, int] | None:
        """An identity's template and its number of references."""
        row = await self.pool.fetchrow(q.TEMPLATE_GET, identity_id, model)
        if row is None:
            return None
        return np.asarray(row["embedding"].to_numpy(), dtype=np.float32), int(row["ref_count"])

    async def gallery_size(self, model: str) -> dict[int, int]:
        """Identities that can be matched with this model, by reference count (3: 3 or more)."""
        rows = await self.pool.fetch(q.GALLERY_SIZE, model)
        return {int(r["refs"]): int(r["identities"]) for r in rows}

    async def faces_of_other_recipes(self, model: str, recipe: str) -> dict[str, int]:
        """Active faces of this model embedded with another recipe: recipe -> count."""
        rows = await self.pool.fetch(q.FACES_OF_OTHER_RECIPES, model, recipe)
        return {r["recipe"]: int(r["faces"]) for r in rows}

    async def faces_of_other_models(self, model: str) -> dict[str, int]:
        rows = await self.pool.fetch(q.FACES_OF_OTHER_MODELS, model)
        return {r["model"]: int(r["faces"]) for r in rows}

    # --- re-embedding (a new recipe or another model pack) ------------------------------------
    async def count_faces_to_reembed(self, model: str, recipe: str) -> int:
        return int(await self.pool.fetchval(q.FACES_TO_REEMBED_COUNT, model, recipe))

    async def faces_to_reembed(
        self, model: str, recipe: str, after_id: int, batch: int
    ) -> list[tuple[int, int, bytes]]:
        """(face id, identity id, aligned crop JPEG; b"" when imported without one) of faces
        made with another recipe."""
        rows = await self.pool.fetch(q.FACES_TO_REEMBED, model, recipe, after_id, batch)
        return [(int(r["id"]), int(r["identity_id"]), bytes(r["crop_jpeg"] or b"")) for r in rows]

    async def set_embeddings(
        self,
        embeddings: Sequence[tuple[int, int, np.ndarray]],
        recipe: str,
        actor: str,
    ) -> None:
        """Store new embeddings ((face id, identity id, vector)), refresh those templates."""
        async with self.transaction() as con:
            await con.executemany(
                q.FACE_SET_EMBEDDING,
                [(fid, np.asarray(e, dtype=np.float32), recipe) for fid, _, e in embeddings],
            )
            await self.refresh_templates(sorted({i for _, i, _ in embeddings}), con=con)
            await self.audit(
                actor,
                "face.reembed",
                None,
                {"recipe": recipe, "faces": [fid for fid, _, _ in embeddings]},
                con=con,
            )

    async def faces_to_copy(
        self, from_model: str, to_model: str, after_id: int, batch: int
    ) -> list[Face]:
        """Faces of another model pack not yet embedded with `to_model`, by id."""
        rows = await self.pool.fetch(
            q.FACES_OF_MODEL_TO_COPY, from_model, to_model, after_id, batch
        )
        return [_face(r) for r in rows]

    async def faces_from_source(self, source_sha256: str, model: str) -> list[tuple[int, int, str]]:
        """(face id, identity id, identity name) of active faces enrolled from this photo."""
        rows = await self.pool.fetch(q.FACE_BY_SOURCE, source_sha256, model)
        return [(r["id"], r["identity_id"], r["display_name"]) for r in rows]

    async def get_face(self, face_id: int) -> Face | None:
        row = await self.pool.fetchrow(q.FACE_GET, face_id)
        return _face(row) if row else None

    async def faces_of_identity(self, identity_id: int) -> list[Face]:
        return [_face(r) for r in await self.pool.fetch(q.FACES_OF_IDENTITY, identity_id)]


def _count(status: str) -> int:
    """Rows touched, from a command status such as 'UPDATE 3'."""
    return int(status.split()[-1])


def _identity(row: Any) -> Identity:
    return Identity(**{k: row[k] for k in Identity.__dataclass_fields__})


def _face(row: Any) -> Face:
    return Face(**{k: row[k] for k in Face.__dataclass_fields__})
