"""Synthetic face-like galleries for bench/search.py: the generator, the bulk load, and an exact
reference search in numpy that follows Gallery.search(exact=True) step by step."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import gallery
from gallery import AuditKey, Gallery, Match
from gallery.db import create_database
from gallery.indexes import VectorIndex
from gallery.queries import bulk as q
from gallery.search import DEFAULT_FUSION, choose_identities, rank_identities

MODEL = "bench-synthetic"
DIM = 512
CHUNK = 100_000  # faces per COPY: bounds the Python-side memory of a load


class FaceGenerator:
    """Unit vectors with the rough geometry of ArcFace embeddings, not isotropic noise.

    Identity centre = 0.35 * a mean direction shared by every face (real embeddings have a
    non-zero mean) + 0.6 * a random point of a 32-dimensional "identity" subspace (faces vary
    along few directions) + the rest isotropic, normalised. Different centres then have cosine
    ~0.12 on average instead of ~0.
    A face = centre + s * noise, normalised, where noise is 60% isotropic and 40% from a separate
    32-dimensional "nuisance" subspace (pose, light, age move every identity the same way) and
    the noise scale s is uniform in [0.45, 1.1] for 95% of faces and in [1.1, 1.8] for 5% "hard"
    faces (profile, blur). Two faces of one identity then have cosine ~0.6 (5th-95th percentile
    ~0.44-0.77, with a tail down to ~0.35), two faces of different identities ~0.08
    (~-0.03-0.18): the ranges ArcFace gives on LFW. `describe` prints the measured values.
    """

    def __init__(self, seed: int, *, rank: int = 32, hard_fraction: float = 0.05) -> None:
        self.rng = np.random.default_rng(seed)
        self.rank = rank
        self.hard_fraction = hard_fraction
        self.mean = _unit(self.rng.normal(size=DIM))
        self.identity_basis = np.linalg.qr(self.rng.normal(size=(DIM, rank)))[0].T
        self.nuisance_basis = np.linalg.qr(self.rng.normal(size=(DIM, rank)))[0].T

    def centres(self, n: int) -> np.ndarray:
        iso = _unit(self.rng.normal(size=(n, DIM)))
        low = _unit(self.rng.normal(size=(n, self.rank)) @ self.identity_basis)
        shared, structured = 0.35, 0.6
        rest = np.sqrt(1.0 - shared**2 - structured**2)
        return _unit(shared * self.mean + structured * low + rest * iso)

    def faces(self, centres: np.ndarray) -> np.ndarray:
        """One new face per row of `centres`."""
        n = len(centres)
        scale = self.rng.uniform(0.45, 1.1, size=(n, 1))
        hard = self.rng.random((n, 1)) < self.hard_fraction
        scale = np.where(hard, self.rng.uniform(1.1, 1.8, size=(n, 1)), scale)
        iso = _unit(self.rng.normal(size=(n, DIM)))
        low = _unit(self.rng.normal(size=(n, self.rank)) @ self.nuisance_basis)
        noise = _unit(np.sqrt(0.6) * iso + np.sqrt(0.4) * low)
        return _unit(centres + scale * noise).astype(np.float32)

    def describe(self, n: int = 4000) -> str:
        """Measured cosine percentiles of same- and different-identity face pairs."""
        centres = self.centres(n)
        a, b = self.faces(centres), self.faces(centres)
        same = (a * b).sum(axis=1)
        other = (a * np.roll(b, 1, axis=0)).sum(axis=1)
        pct = (5, 50, 95)
        return (
            "same identity cosine p5/p50/p95 = "
            + "/".join(f"{v:.2f}" for v in np.percentile(same, pct))
            + "; different identity = "
            + "/".join(f"{v:.2f}" for v in np.percentile(other, pct))
        )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# --- the gallery ------------------------------------------------------------------------------
@dataclass
class Synthetic:
    centres: np.ndarray  # one per identity
    owner: np.ndarray  # each face's identity, as a row of `centres`
    embeddings: np.ndarray  # float32, one per face


def generate(gen: FaceGenerator, size: int, faces_per_identity: int) -> Synthetic:
    """`size` faces of `size / faces_per_identity` identities; the same arrays for the same
    generator state (bench/search_variants.py regenerates a kept gallery's data this way)."""
    n_identities = -(-size // faces_per_identity)
    centres = gen.centres(n_identities)
    owner = np.arange(size) % n_identities
    embeddings = np.empty((size, DIM), dtype=np.float32)
    for start in range(0, size, CHUNK):
        embeddings[start : start + CHUNK] = gen.faces(centres[owner[start : start + CHUNK]])
    return Synthetic(centres, owner, embeddings)


@dataclass
class Loaded:
    gallery: Gallery
    dsn: str
    identity_ids: list[int]
    data: Synthetic
    seconds: dict[str, float]  # load steps
    build_s: float  # the HNSW builds (faces and templates)
    indexes: list[VectorIndex]  # as built, with their sizes
    reference: Reference


async def load_gallery(
    server_uri: str,
    database: str,
    data: Synthetic,
    *,
    index_after_load: bool,
    hnsw_with: dict[str, int],
) -> Loaded:
    """A fresh migrated database holding the synthetic faces, indexed and analysed."""
    seconds: dict[str, float] = {}
    dsn = await create_database(server_uri, database)
    key = AuditKey(secrets.token_bytes(32))  # a scratch database: its audit log is thrown away
    await gallery.migrate(dsn, audit_key=key, actor="bench")
    pool = await gallery.create_pool(dsn, max_size=4)
    g = Gallery(pool, audit_key=key)
    await g.models.register(MODEL, "d" * 64, "r" * 64)

    n_identities, size = len(data.centres), len(data.embeddings)
    started = time.perf_counter()
    # The gallery has no bulk identity creation and create_identity (one transaction and audit
    # row each) takes minutes for 333k identities, so the bench inserts them in one statement.
    # Identities carry no embedding: search results do not depend on how they were created.
    rows = await pool.fetch(
        "INSERT INTO identities (display_name, created_by) "
        "SELECT 'Synthetic ' || n, 'bench' FROM generate_series(1, $1::int) AS n RETURNING id",
        n_identities,
    )
    identity_ids = sorted(int(r["id"]) for r in rows)
    seconds["identities"] = time.perf_counter() - started

    owner, embeddings = data.owner, data.embeddings

    if index_after_load:
        # Building each graph once over the loaded rows beats inserting 1M rows into it one by
        # one; they are re-created from the migrations' own definitions (facefind's bulk path).
        await g.indexes.defer("bench")
    started = time.perf_counter()
    for part, start in enumerate(range(0, size, CHUNK)):
        await g.faces.import_embeddings(
            MODEL,
            [identity_ids[i] for i in owner[start : start + CHUNK]],
            embeddings[start : start + CHUNK],
            actor="bench",
            recipe="synthetic",
            source=f"bench{part}",
            templates=False,
        )
    seconds["copy"] = time.perf_counter() - started
    started = time.perf_counter()
    await g.templates.rebuild(MODEL)  # one statement for all identities
    seconds["templates"] = time.perf_counter() - started

    build_s = 0.0
    if index_after_load:
        built: dict[str, float] = {}
        if hnsw_with:
            # Experiment: other graph parameters than the migrations'. facefind builds only
            # its own definitions, so the bench builds these itself (it is the owner here).
            options = ", ".join(f"{key} = {int(value)}" for key, value in hnsw_with.items())
            for name in await g.indexes.deferred():
                started = time.perf_counter()
                await pool.execute(_with_options(q.VECTOR_INDEX_DEFINITIONS[name], options))
                await pool.execute(q.DEFERRED_INDEX_DONE, name)
                built[name] = time.perf_counter() - started
        await g.indexes.restore("bench", timings=built)
        seconds.update({f"index {name}": s for name, s in built.items()})
        build_s = sum(built.values())

    started = time.perf_counter()
    await pool.execute("VACUUM ANALYZE faces")
    await pool.execute("VACUUM ANALYZE identity_templates")
    await pool.execute("ANALYZE identities")
    seconds["analyze"] = time.perf_counter() - started

    started = time.perf_counter()
    reference = await Reference.fetch(g, embeddings, identity_ids, owner)
    seconds["reference"] = time.perf_counter() - started
    return Loaded(
        g, dsn, identity_ids, data, seconds, build_s, await g.indexes.present(), reference
    )


def _with_options(definition: str, options: str) -> str:
    head, sep, tail = " ".join(definition.split()).partition(" WHERE ")
    head = head.partition(" WITH (")[0]
    return f"{head} WITH ({options}){sep}{tail}"


# --- exact search in numpy --------------------------------------------------------------------
class Reference:
    """Gallery.search(exact=True) in numpy: exact shortlists by matrix products, then the
    gallery's own code (choose_identities, rank_identities) on the same stored vectors.

    At 1M faces exact search in PostgreSQL takes seconds a query, so a run of 1,000 queries
    takes the answers from here; bench/search.py checks them against the database's exact
    search on a sample of the queries.
    """

    def __init__(
        self,
        faces: np.ndarray,
        face_ids: np.ndarray,
        face_identity: np.ndarray,
        templates: np.ndarray,
        template_identity: np.ndarray,
        ref_counts: np.ndarray,
    ) -> None:
        self.faces = faces
        self.face_ids = face_ids
        self.face_identity = face_identity
        self.templates = templates
        self.template_identity = template_identity
        self.ref_counts = ref_counts
        order = np.argsort(face_identity, kind="stable")
        idents, starts = np.unique(face_identity[order], return_index=True)
        bounds = [*starts[1:], len(order)]
        self.rows_of = {int(i): order[s:e] for i, s, e in zip(idents, starts, bounds, strict=True)}
        self.template_row = {int(i): n for n, i in enumerate(template_identity)}
        self.face_norms = np.linalg.norm(faces, axis=1)
        self.template_norms = np.linalg.norm(templates, axis=1)

    @classmethod
    async def fetch(
        cls, g: Gallery, embeddings: np.ndarray, identity_ids: Sequence[int], owner: np.ndarray
    ) -> Reference:
        """The stored faces (the loaded arrays, in id order) and the stored templates."""
        rows = await g.pool.fetch(
            "SELECT id, identity_id FROM faces WHERE model = $1 ORDER BY id", MODEL
        )
        face_ids = np.array([r["id"] for r in rows], dtype=np.int64)
        face_identity = np.array([r["identity_id"] for r in rows], dtype=np.int64)
        expected = np.asarray(identity_ids, dtype=np.int64)[owner]
        if not np.array_equal(face_identity, expected):
            raise RuntimeError("faces were stored in another order than loaded")
        rows = await g.pool.fetch(
            "SELECT identity_id, embedding, ref_count FROM identity_templates "
            "WHERE model = $1 ORDER BY identity_id",
            MODEL,
        )
        templates = np.stack([r["embedding"].to_numpy() for r in rows]).astype(np.float32)
        return cls(
            embeddings,
            face_ids,
            face_identity,
            templates,
            np.array([r["identity_id"] for r in rows], dtype=np.int64),
            np.array([r["ref_count"] for r in rows], dtype=np.int64),
        )

    def search(
        self, queries: np.ndarray, shortlist: int, limit: int, batch: int = 64
    ) -> list[list[Match]]:
        results: list[list[Match]] = []
        for start in range(0, len(queries), batch):
            block = queries[start : start + batch]
            top_faces = _top(self.faces, self.face_norms, block, shortlist)
            top_templates = _top(self.templates, self.template_norms, block, shortlist)
            for query, f_rows, t_rows in zip(block, top_faces, top_templates, strict=True):
                results.append(self._one(query, f_rows, t_rows, limit))
        return results

    def _one(
        self, query: np.ndarray, f_rows: np.ndarray, t_rows: np.ndarray, limit: int
    ) -> list[Match]:
        chosen = choose_identities(
            query, self._face_rows(f_rows), self._template_rows(t_rows), DEFAULT_FUSION, limit
        )
        face_rows = np.concatenate([self.rows_of[i] for i in chosen if i in self.rows_of])
        template_rows = np.array([self.template_row[i] for i in chosen if i in self.template_row])
        ranked = rank_identities(
            query,
            self._face_rows(face_rows),
            self._template_rows(template_rows),
            DEFAULT_FUSION,
            limit,
        )
        return [
            Match(
                identity_id=s.identity_id,
                display_name="",
                external_ref=None,
                face_id=int(s.face_id),
                similarity=s.score,
                face_similarity=s.face_similarity,
                template_similarity=s.template_similarity,
                references=s.references,
            )
            for s in ranked
            if s.face_id is not None
        ]

    def _face_rows(self, rows: np.ndarray) -> list[dict[str, Any]]:
        return [
            {
                "id": int(self.face_ids[r]),
                "identity_id": int(self.face_identity[r]),
                "embedding": self.faces[r],
                "low_quality": False,
            }
            for r in rows
        ]

    def _template_rows(self, rows: np.ndarray) -> list[dict[str, Any]]:
        return [
            {
                "identity_id": int(self.template_identity[r]),
                "embedding": self.templates[r],
                "ref_count": int(self.ref_counts[r]),
            }
            for r in rows
        ]


def _top(matrix: np.ndarray, norms: np.ndarray, queries: np.ndarray, k: int) -> list[np.ndarray]:
    """Row numbers of the k rows of `matrix` with the highest cosine to each query."""
    sims = (queries @ matrix.T) / norms
    k = min(k, matrix.shape[0])
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return [row[np.argsort(-sims[n, row], kind="stable")] for n, row in enumerate(part)]
