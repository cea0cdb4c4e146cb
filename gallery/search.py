"""Vector search: an HNSW shortlist, then every shortlisted identity re-scored exactly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gallery import queries as q
from gallery.base import GalleryBase
from gallery.records import Match


class SearchStore(GalleryBase):
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
