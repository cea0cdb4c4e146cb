"""Identity templates: the normalised mean of an identity's references, one per model pack,
rebuilt in the transaction that changes the references; the gallery's size by references."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gallery.database import Connection, Database
from gallery.queries import identities as q


class Templates:
    """The identities' templates (a second HNSW shortlist of the search)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def refresh(self, identity_ids: Sequence[int], *, con: Connection | None = None) -> None:
        """Rebuild these identities' templates from their active references (none left: none).

        Called in the caller's transaction whenever an identity's references change: a face
        added or re-embedded, the identity forgotten, restored or erased."""
        ids = [int(i) for i in identity_ids]
        async with self.db.joined(con) as c:
            await c.execute(q.TEMPLATES_DELETE, ids)
            await c.execute(q.TEMPLATES_BUILD, ids)

    async def rebuild(self, model: str, *, con: Connection | None = None) -> int:
        """Every template of a model from its active references, in one statement; the count."""
        async with self.db.joined(con) as c:
            await c.execute(q.TEMPLATES_DELETE_MODEL, model)
            status = await c.execute(q.TEMPLATES_BUILD_MODEL, model)
        return int(status.split()[-1])

    async def of(self, identity_id: int, model: str) -> tuple[np.ndarray, int] | None:
        """An identity's template and its number of references."""
        row = await self.db.pool.fetchrow(q.TEMPLATE_GET, identity_id, model)
        if row is None:
            return None
        return np.asarray(row["embedding"].to_numpy(), dtype=np.float32), int(row["ref_count"])

    async def gallery_size(self, model: str) -> dict[int, int]:
        """Identities that can be matched with this model, by reference count (3: 3 or more)."""
        rows = await self.db.pool.fetch(q.GALLERY_SIZE, model)
        return {int(r["refs"]): int(r["identities"]) for r in rows}
