"""Typed rows the gallery returns: callers never see asyncpg records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

Role = str  # 'officer' | 'admin'
Status = str  # 'pending' | 'approved' | 'rejected' | 'revoked'


@dataclass(frozen=True)
class User:
    id: int
    first_name: str
    last_name: str | None
    username: str | None
    language: str | None
    role: Role
    status: Status
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime

    @property
    def is_approved(self) -> bool:
        return self.status == "approved"

    @property
    def is_admin(self) -> bool:
        return self.status == "approved" and self.role == "admin"

    @property
    def display(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p) or "?"
        return f"{name} (@{self.username})" if self.username else name


@dataclass(frozen=True)
class UserActivity:
    """A user with their lookups and when they last did anything (None: never)."""

    user: User
    lookups: int
    last_active: datetime | None


@dataclass(frozen=True)
class Identity:
    id: int
    display_name: str
    external_ref: str | None
    notes: str | None
    created_by: str
    created_at: datetime
    deleted_at: datetime | None
    face_count: int
    erased_at: datetime | None = None
    merged_into: int | None = None  # merged away: its faces are this identity's now

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def erased(self) -> bool:
        """Forgotten for good: its faces have no embedding or picture left."""
        return self.erased_at is not None


@dataclass(frozen=True)
class Face:
    id: int
    identity_id: int
    model: str
    det_score: float
    quality: dict[str, Any]
    bbox: list[float]
    crop_jpeg: bytes | None  # None: imported without one, or erased
    source_sha256: str | None
    added_by: str
    created_at: datetime
    active: bool
    recipe: str
    low_quality: bool


@dataclass(frozen=True)
class Match:
    """One identity scored exactly against a query embedding: the fused identity score, and the
    best face, which the reply shows as the evidence."""

    identity_id: int
    display_name: str
    external_ref: str | None
    face_id: int  # the best-matching reference face
    similarity: float  # the identity's score (see gallery.search.fuse)
    face_similarity: float | None = None  # of the best face alone
    template_similarity: float | None = None  # of the identity's template
    references: int = 1  # the identity's active references
    low_quality_ref: bool = False  # the best face is a flagged reference


@dataclass(frozen=True)
class NewCandidate:
    rank: int
    identity_id: int
    face_id: int
    similarity: float
    band: str
    false_candidate_rate: float | None = None
    low_quality_ref: bool = False
    held_by_face: int | None = None  # a lead: the face of the photo that holds the identity


@dataclass(frozen=True)
class NewLookupFace:
    face_index: int
    bbox: tuple[float, float, float, float]
    det_score: float
    quality: dict[str, Any]
    crop_jpeg: bytes | None
    candidates: list[NewCandidate] = field(default_factory=list)
    # a person of an album or a clip: the photo of their best face, the photos or sampled
    # frames they were found in, and a clip's best frame (JPEG) with its time
    photo_index: int = 0
    seen_in: int = 1
    frame_jpeg: bytes | None = None
    time_s: float | None = None


@dataclass(frozen=True)
class StoredCandidate:
    id: int
    rank: int
    identity_id: int
    face_id: int
    similarity: float
    band: str
    display_name: str
    external_ref: str | None
    identity_deleted: bool
    verdict: str | None
    false_candidate_rate: float | None = None
    low_quality_ref: bool = False
    identity_erased: bool = False
    held_by_face: int | None = None  # a lead: the face of the photo that holds the identity


@dataclass(frozen=True)
class StoredLookupFace:
    id: int
    face_index: int
    bbox: tuple[float, ...]
    det_score: float
    quality: dict[str, Any]
    crop_jpeg: bytes | None
    candidates: list[StoredCandidate]
    photo_index: int = 0
    seen_in: int = 1
    time_s: float | None = None
    has_frame: bool = False  # a clip's best frame is stored (Lookups.frame reads it)


@dataclass(frozen=True)
class DeliveryCheck:
    """What the outbox checks before each message of a reply: whether the requester may still
    be answered (approved now), and the identities among the lookup's candidates that were
    forgotten (or erased) since the analysis."""

    allowed: bool
    withheld: frozenset[int]


@dataclass(frozen=True)
class Lookup:
    id: int
    user_id: int | None
    actor: str
    source: str
    chat_id: int | None
    message_id: int | None
    file_id: str | None
    photo_sha256: str | None
    model: str | None
    status: str
    error: str | None
    face_count: int | None
    timings: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None
    bands: dict[str, Any] = field(default_factory=dict)  # the bands in force, gallery size
    outcome: str | None = None
    language: str | None = None
    reply_sent: int = 0
    delivered_at: datetime | None = None
    handled_by: str | None = None  # the worker process that analysed it
    crashes: int = 0  # times a worker died while running its job
    media: str = "photo"  # photo | album | video | video_note | animation
    faces_left_out: int = 0  # a crowd: faces found beyond FACEFIND_MAX_FACES, not searched
    faces: list[StoredLookupFace] = field(default_factory=list)


@dataclass(frozen=True)
class LookupSummary:
    id: int
    user_id: int | None
    actor: str
    source: str
    status: str
    face_count: int | None
    created_at: datetime
    top_candidates: str | None


@dataclass(frozen=True)
class CandidateRef:
    """A stored candidate with what feedback needs to check ownership."""

    id: int
    identity_id: int
    band: str
    similarity: float
    rank: int
    face_index: int
    lookup_id: int
    user_id: int | None
    display_name: str


@dataclass(frozen=True)
class AuditHead:
    """Where an audit chain stands: what a witness outside the database remembers."""

    genesis: str  # the first row's hash: names the chain (one data folder may see several)
    rows: int
    last_id: int
    last_hash: str


@dataclass(frozen=True)
class AuditCheck:
    ok: bool
    rows: int
    first_bad_id: int | None = None
    problem: str | None = None
    head: AuditHead | None = None  # the chain as checked (None: empty, or broken early)
    legacy_rows: int = 0  # rows hashed by the database before rows were sealed (migration 0004)


@dataclass(frozen=True)
class ShortlistFace:
    id: int
    identity_id: int
    embedding: np.ndarray
