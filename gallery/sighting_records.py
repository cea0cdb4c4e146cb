"""Sightings' records: what the gallery's sightings repository reads and writes, and the small
helpers its statements share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

STATES = ("grouped", "alone", "deferred", "named")


# --- records ----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class NewSighting:
    """A face of a lookup that got no candidate, as analysed."""

    model: str
    embedding: np.ndarray  # (512,) float32, unit length
    recipe: str
    det_score: float
    quality: dict[str, Any]
    quality_score: float  # recognition.quality.quality_score: ranks the pictures of a person
    low_quality: bool
    bbox: tuple[float, float, float, float]
    crop_jpeg: bytes | None
    lookup_id: int
    actor: str  # who looked
    user_id: int | None = None
    lookup_face_id: int | None = None
    photo_index: int = 0  # the photo's place in its lookup (an album's)
    source_sha256: str | None = None  # the photo's hash
    face_index: int | None = None  # the person of the lookup it was kept for (one sighting each)


@dataclass(frozen=True, eq=False)
class SightingVector:
    """A sighting as the grouping rules read it: its vector and what keeps it apart."""

    id: int
    group_id: int | None
    embedding: np.ndarray
    lookup_id: int
    photo_index: int
    apart: tuple[int, ...]  # groups an admin dismissed while it was in them
    low_quality: bool
    state: str = "grouped"


@dataclass(frozen=True)
class Shortlist:
    """Every candidate a new face could reach `above` with: the open groups (all their
    sightings) and the sightings in no group. `crowded`: a shortlist was full of rows at least
    that close, so some may be missing."""

    groups: dict[int, tuple[SightingVector, ...]]
    alone: tuple[SightingVector, ...]
    crowded: bool


@dataclass(frozen=True)
class Sighting:
    id: int
    model: str
    group_id: int | None
    state: str
    reason: str | None
    lookup_id: int
    lookup_face_id: int | None
    photo_index: int
    user_id: int | None
    actor: str
    quality_score: float
    low_quality: bool
    created_at: datetime
    crop_jpeg: bytes | None = None
    face_index: int | None = None


@dataclass(frozen=True)
class UnknownPerson:
    id: int
    model: str
    state: str  # open | named | dismissed | merged | expired
    sighting_count: int
    identity_id: int | None
    merged_into: int | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True)
class Added:
    sighting_id: int
    group_id: int | None
    new_group: bool  # the sighting formed a group with one that was in none


@dataclass(frozen=True)
class Purged:
    sightings: int
    groups_ended: int


class GroupChanged(RuntimeError):
    """The group or sighting a decision was about is not as the decision read it (another
    process changed it first): nothing was written."""


def similarity(row: Any) -> float:
    return 1.0 - float(row["distance"])


def full(rows: Sequence[Any], limit: int, above: float) -> bool:
    """A shortlist that came back full while its last row is still within reach: rows beyond
    it may be within reach too."""
    return len(rows) >= limit and bool(rows) and similarity(rows[-1]) >= above


def array(value: Any) -> np.ndarray:
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


def count(status: str) -> int:
    return int(status.split()[-1])


def vector(r: Any) -> SightingVector:
    return SightingVector(
        id=int(r["id"]),
        group_id=int(r["group_id"]) if r["group_id"] is not None else None,
        embedding=array(r["embedding"]),
        lookup_id=int(r["lookup_id"]),
        photo_index=int(r["photo_index"]),
        apart=tuple(int(g) for g in r["apart"]),
        low_quality=bool(r["low_quality"]),
        state=str(r["state"]) if "state" in r.keys() else "grouped",
    )
