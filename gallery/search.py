"""Vector search: HNSW shortlists of faces and of identity templates, then every shortlisted
identity re-scored exactly from all its references."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gallery.database import Database
from gallery.queries import identities as q
from gallery.queries import search as sq
from gallery.records import Match

# How an identity's score combines its best face and its template (the normalised mean of its
# references). "max" takes the better of the two: chosen on LFW (docs/calibration.md).
FUSIONS = ("max", "best", "template", "mean")
DEFAULT_FUSION = "max"


@dataclass(frozen=True)
class Scored:
    identity_id: int
    score: float
    face_similarity: float | None
    face_id: int | None
    template_similarity: float | None
    references: int
    low_quality_ref: bool


def fuse(best: float | None, template: float | None, fusion: str) -> float:
    """An identity's score from its best face and its template similarity."""
    if best is None and template is None:
        raise ValueError("nothing to score")
    if best is None:
        return float(template)  # type: ignore[arg-type]
    if template is None or fusion == "best":
        return best
    if fusion == "max":
        return max(best, template)
    if fusion == "template":
        return template
    if fusion == "mean":
        return (best + template) / 2.0
    raise ValueError(f"unknown fusion {fusion!r}; expected one of {FUSIONS}")


def rescored(limit: int) -> int:
    """How many identities of the first ranking are re-scored from all their references."""
    return max(limit * 3, 10)


def choose_identities(
    query: np.ndarray,
    face_rows: Sequence[Any],
    template_rows: Sequence[Any],
    fusion: str,
    limit: int,
) -> list[int]:
    """The identities worth scoring exactly, from what the two shortlists show of them."""
    first = _score_identities(query, face_rows, template_rows, fusion)
    return [s.identity_id for s in first[: rescored(limit)]]


def rank_identities(
    query: np.ndarray, faces: Sequence[Any], templates: Sequence[Any], fusion: str, limit: int
) -> list[Scored]:
    """The chosen identities scored from all their references: the `limit` best, best first."""
    return [s for s in _score_identities(query, faces, templates, fusion) if s.face_id][:limit]


class Search:
    """The identities closest to a face: shortlists on the HNSW indexes, then exact scores."""

    def __init__(
        self,
        db: Database,
        *,
        ef_search: int = 200,
        shortlist: int = 200,
        fusion: str = DEFAULT_FUSION,
    ) -> None:
        self.db = db
        self.ef_search = ef_search
        self.shortlist = shortlist
        self.fusion = fusion

    async def identities(
        self,
        embedding: np.ndarray,
        model: str,
        *,
        limit: int = 10,
        exact: bool = False,
    ) -> list[Match]:
        """The `limit` identities closest to `embedding`, best first.

        Two HNSW shortlists (faces, and identity templates) name the identities worth scoring;
        each of them is then scored exactly against all its references and its template, so
        the answer does not depend on the index's randomness. `exact` shortlists by sequential
        scans instead (the baseline).
        """
        query = np.asarray(embedding, dtype=np.float32)
        # The two shortlists are independent index walks: on two connections at once they cost
        # the slower of the two, not their sum (docs/benchmarks.md).
        face_rows, template_rows = await asyncio.gather(
            self._shortlist(
                sq.SEARCH_SHORTLIST_EXACT if exact else sq.SEARCH_SHORTLIST, query, model, exact
            ),
            self._shortlist(
                sq.SEARCH_TEMPLATE_SHORTLIST_EXACT if exact else sq.SEARCH_TEMPLATE_SHORTLIST,
                query,
                model,
                exact,
            ),
        )
        if not face_rows and not template_rows:
            return []
        async with self.db.transaction() as con:
            chosen = choose_identities(query, face_rows, template_rows, self.fusion, limit)
            faces = await con.fetch(sq.FACES_OF_IDENTITIES, chosen, model)
            templates = await con.fetch(sq.TEMPLATES_OF_IDENTITIES, chosen, model)
            ranked = rank_identities(query, faces, templates, self.fusion, limit)
            idents = {
                r["id"]: r
                for r in await con.fetch(q.IDENTITIES_BY_IDS, [s.identity_id for s in ranked])
            }
        return [
            Match(
                identity_id=s.identity_id,
                display_name=idents[s.identity_id]["display_name"],
                external_ref=idents[s.identity_id]["external_ref"],
                face_id=s.face_id,
                similarity=s.score,
                face_similarity=s.face_similarity,
                template_similarity=s.template_similarity,
                references=s.references,
                low_quality_ref=s.low_quality_ref,
            )
            for s in ranked
            if s.identity_id in idents and s.face_id is not None
        ]

    async def _shortlist(self, sql: str, query: np.ndarray, model: str, exact: bool) -> list[Any]:
        async with self.db.transaction() as con:
            if not exact:
                await con.execute(
                    sq.search_settings(self.ef_search, max(20000, self.shortlist * 50))
                )
            return list(await con.fetch(sql, query, model, self.shortlist))


def _vector(value: Any) -> np.ndarray:
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float64)


def cosine_rows(query: np.ndarray, vectors: Sequence[Any]) -> list[float]:
    """Exact cosine of the query with each vector, in float64.

    Row-wise sums, not a BLAS product: a face's score must not depend on which other rows share
    the matrix, or the same query could rank differently from one call to the next.
    """
    if not vectors:
        return []
    matrix = np.stack([_vector(v) for v in vectors])
    norms = np.sqrt((matrix * matrix).sum(axis=1))
    norms[norms == 0] = 1.0
    q64 = np.asarray(query, dtype=np.float64)
    q64 = q64 / (np.sqrt((q64 * q64).sum()) or 1.0)
    return list(((matrix * q64).sum(axis=1) / norms).tolist())


def _similarities(query: np.ndarray, rows: Sequence[Any]) -> list[float]:
    """Exact cosines from the rows' vectors; from the distances where a shortlist gave only
    those (enough to pick the identities that are then scored exactly)."""
    if rows and "embedding" not in rows[0].keys():
        return [1.0 - float(r["distance"]) for r in rows]
    return cosine_rows(query, [r["embedding"] for r in rows])


def _score_identities(
    query: np.ndarray, face_rows: Sequence[Any], template_rows: Sequence[Any], fusion: str
) -> list[Scored]:
    """Each identity's best face (ties: the lower face id) and template, fused; best first.

    Ties between identities break on the lower identity id, so the order is deterministic.
    """
    best: dict[int, tuple[float, int, bool]] = {}
    face_sims = _similarities(query, face_rows)
    for r, sim in zip(face_rows, face_sims, strict=True):
        ident, face_id = int(r["identity_id"]), int(r["id"])
        current = best.get(ident)
        if current is None or sim > current[0] or (sim == current[0] and face_id < current[1]):
            best[ident] = (sim, face_id, bool(r.get("low_quality", False)))
    template: dict[int, tuple[float, int]] = {}
    template_sims = _similarities(query, template_rows)
    for r, sim in zip(template_rows, template_sims, strict=True):
        template[int(r["identity_id"])] = (sim, int(r.get("ref_count", 0) or 0))
    scored = []
    for ident in best.keys() | template.keys():
        b = best.get(ident)
        t = template.get(ident)
        scored.append(
            Scored(
                identity_id=ident,
                score=fuse(b[0] if b else None, t[0] if t else None, fusion),
                face_similarity=b[0] if b else None,
                face_id=b[1] if b else None,
                template_similarity=t[0] if t else None,
                references=t[1] if t and t[1] else 1,
                low_quality_ref=b[2] if b else False,
            )
        )
    return sorted(scored, key=lambda s: (-s.score, s.identity_id))
