"""Enrollment: the face a photo is filed for, references flagged or refused, one photo at a
time (the bot, the CLI) and the rules a folder load shares (facefind.bulk)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facefind.actors import Requester
from facefind.base import SEARCH_DEPTH, ServiceBase
from facefind.errors import (
    AmbiguousFaces,
    AmbiguousIdentity,
    EnrollRefused,
    FaceIndexOutOfRange,
    NoFaceFound,
    PoorReference,
    UnknownIdentity,
)
from facefind.inputs import NOTES_MAX, REF_MAX, clean_name, clean_optional
from facefind.matching import agreeing_face, most_prominent
from gallery import Identity, Match
from recognition import DetectedFace, Limits
from recognition.pipeline import FaceAnalyzer
from recognition.render import draw_numbered_boxes, encode_jpeg

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentitySpec:
    """An identity named by the caller, found or created once a usable face is in hand."""

    name: str
    external_ref: str | None = None
    notes: str | None = None


def clean_spec(spec: IdentitySpec) -> IdentitySpec:
    """The one place names are cleaned, for the bot, the CLI and folder enrollment alike: no
    control or bidi-override characters, at most NAME_MAX characters (BadInput otherwise)."""
    return IdentitySpec(
        clean_name(spec.name),
        clean_optional(spec.external_ref, what="external reference", limit=REF_MAX),
        clean_optional(spec.notes, what="notes", limit=NOTES_MAX),
    )


@dataclass(frozen=True)
class EnrollResult:
    identity: Identity
    identity_created: bool
    face: DetectedFace
    face_id: int | None  # None: this photo was already enrolled for this identity
    chosen_by: str  # 'only' | 'index' | 'agrees' | 'prominent'
    duplicates: list[Match]  # other identities this face already matches as strong
    flags: tuple[str, ...] = ()  # why the reference is poor: it was enrolled flagged


def reference_verdict(
    face: DetectedFace, limits: Limits
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(refusals, flags) of a face as a reference.

    Refused: only what cannot be embedded meaningfully (tiny, full profile). Flagged: usable
    but poor (small, blurry, turned, a weak detection); such a face is enrolled only when the
    person has no better reference, and marked so every match through it says so.
    """
    q = face.quality
    refused: list[str] = []
    if q.face_px < limits.enroll_hard_min_face_px:
        refused.append("small")
    if (
        abs(q.yaw) > limits.enroll_hard_max_yaw_deg
        or abs(q.pitch) > limits.enroll_hard_max_pitch_deg
    ):
        refused.append("pose")
    flags: list[str] = []
    if q.face_px < limits.enroll_min_face_px and "small" not in refused:
        flags.append("small")
    if face.det_score < limits.enroll_min_det_score:
        flags.append("low_score")
    if "blurry" in q.reasons:
        flags.append("blurry")
    if "pose" not in refused and (
        abs(q.yaw) > limits.enroll_max_yaw_deg or abs(q.pitch) > limits.enroll_max_pitch_deg
    ):
        flags.append("pose")
    return tuple(refused), tuple(flags)


def choose_face(
    faces: Sequence[DetectedFace],
    width: int,
    height: int,
    face_index: int | None = None,
    reference: np.ndarray | None = None,
) -> tuple[DetectedFace, str]:
    """The face a photo (`width` x `height`) is filed for: the one asked for by number; the
    only one; the one that agrees with the person's other photos (`reference`, their mean
    embedding); else the most prominent (large and central, the portrait convention). A real
    tie raises AmbiguousFaces."""
    if not faces:
        raise NoFaceFound("no face found")
    if face_index is not None:
        if not 1 <= face_index <= len(faces):
            raise FaceIndexOutOfRange(face_index, len(faces))
        return faces[face_index - 1], "index"
    if len(faces) == 1:
        return faces[0], "only"
    if reference is not None and (agreed := agreeing_face(faces, reference)) is not None:
        return agreed, "agrees"
    prominent = most_prominent(faces, width, height)
    if prominent is None:
        raise AmbiguousFaces(len(faces))
    return prominent, "prominent"


@dataclass(frozen=True)
class PhotoFaces:
    """One analysed photo of a folder load: its faces and their aligned crops (JPEG), and a
    picture with numbered boxes when it has several faces. The photo itself is not kept."""

    path: str
    sha256: str
    width: int
    height: int
    faces: list[DetectedFace]
    crops: list[bytes]
    overview: bytes | None = None


@dataclass
class PersonPlan:
    """What to do with one person's photos (see `plan_person`)."""

    good: list[tuple[PhotoFaces, DetectedFace, str]] = field(default_factory=list)
    # poor faces, kept only if the person has no good reference (flags say why they are poor)
    poor: list[tuple[PhotoFaces, DetectedFace, str, tuple[str, ...]]] = field(default_factory=list)
    ties: list[tuple[str, int, bytes]] = field(default_factory=list)
    refused: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def faces(self) -> list[tuple[PhotoFaces, DetectedFace, str, tuple[str, ...]]]:
        """The references to enroll: the good faces, else the poor ones, flagged."""
        if self.good:
            return [(p, f, c, ()) for p, f, c in self.good]
        return list(self.poor)


def plan_person(
    photos: Sequence[PhotoFaces],
    reference: np.ndarray | None,
    has_good: bool,
    limits: Limits,
) -> PersonPlan:
    """Enroll a person's photos so that nobody is left out silently.

    In a photo with several faces the one that agrees with the person's other photos (their
    single-face photos, or the identity's template: `reference`) is enrolled, else the most
    prominent; only a real tie is skipped, with its numbered picture for the admin. Good faces
    are enrolled; poor ones, flagged, only when the person has no better one (`has_good`: the
    identity already has a good reference).
    """
    if reference is None:
        singles = [p.faces[0].embedding for p in photos if len(p.faces) == 1]
        if singles:
            reference = np.mean(np.stack(singles), axis=0)
    plan = PersonPlan()
    for photo in photos:
        try:
            face, chosen_by = choose_face(photo.faces, photo.width, photo.height, None, reference)
        except NoFaceFound:
            plan.skipped.append((photo.path, "no face found"))
            continue
        except AmbiguousFaces as exc:
            plan.ties.append((photo.path, exc.count, photo.overview or b""))
            continue
        refused, flags = reference_verdict(face, limits)
        if refused:
            plan.refused.append((photo.path, refused))
        elif flags:
            plan.poor.append((photo, face, chosen_by, flags))
        else:
            plan.good.append((photo, face, chosen_by))
    if plan.poor and (has_good or plan.good):
        for photo, _, _, flags in plan.poor:
            why = "low quality (" + ", ".join(flags) + "); a better reference exists"
            plan.skipped.append((photo.path, why))
        plan.poor = []
    return plan


def photo_faces(analyzer: FaceAnalyzer, path: str, data: bytes) -> PhotoFaces:
    """Analyse one photo of a folder load (in a worker process or the inference pool)."""
    analysis = analyzer.analyze(data)
    overview = (
        draw_numbered_boxes(analysis.image, analysis.faces) if len(analysis.faces) > 1 else None
    )
    return PhotoFaces(
        path=path,
        sha256=analysis.sha256,
        width=analysis.width,
        height=analysis.height,
        faces=analysis.faces,
        crops=[encode_jpeg(f.crop, quality=92) for f in analysis.faces],
        overview=overview,
    )


class Enrollment(ServiceBase):
    """The enrollment half of the service."""

    async def resolve_identity(
        self,
        name: str,
        requester: Requester,
        *,
        external_ref: str | None = None,
        notes: str | None = None,
        create: bool = True,
    ) -> tuple[Identity, bool]:
        """The active identity with this name (and reference, when given), created if absent.

        Raises AmbiguousIdentity when several match: a name alone must not pick a person, and
        BadInput for a name that cannot be stored (see clean_spec).
        """
        spec = clean_spec(IdentitySpec(name, external_ref, notes))
        name, external_ref, notes = spec.name, spec.external_ref, spec.notes
        existing = await self.find_identity(name, external_ref)
        if existing is not None:
            return existing, False
        if not create:
            raise UnknownIdentity(name)
        identity = await self.gallery.identities.create(
            name, requester.actor, external_ref=external_ref, notes=notes
        )
        return identity, True

    async def find_identity(self, name: str, external_ref: str | None = None) -> Identity | None:
        """The one active identity with this name (and reference), None when there is none."""
        matches = await self.gallery.identities.named(name)
        if external_ref:
            same_ref = [i for i in matches if (i.external_ref or "") == external_ref]
            matches = same_ref or [i for i in matches if not i.external_ref]
        if len(matches) > 1:
            raise AmbiguousIdentity(name, matches)
        return matches[0] if matches else None

    async def reference_of(self, target: Identity | IdentitySpec) -> tuple[np.ndarray | None, bool]:
        """The identity's template (None for a new one) and whether it has a good reference."""
        identity = (
            target
            if isinstance(target, Identity)
            else await self.find_identity(target.name, target.external_ref)
        )
        if identity is None:
            return None, False
        template = await self.gallery.templates.of(identity.id, self.model)
        faces = await self.gallery.faces.of_identity(identity.id)
        good = any(f.model == self.model and not f.low_quality for f in faces)
        return (template[0] if template else None), good

    async def enroll(
        self,
        data: bytes,
        target: Identity | IdentitySpec,
        requester: Requester,
        *,
        face_index: int | None = None,
    ) -> EnrollResult:
        """Add the face a photo is filed for to an identity (see `choose_face`).

        The face is checked before a named identity is found or created, so a refused photo
        leaves no empty identity behind, and the name is checked before anything else. A poor
        face is enrolled, flagged, only when the identity has no good reference yet
        (PoorReference otherwise).
        """
        if isinstance(target, IdentitySpec):
            target = clean_spec(target)
        analysis, crops = await self.analyze(data)
        reference, has_good = await self.reference_of(target)
        face, chosen_by = choose_face(
            analysis.faces, analysis.width, analysis.height, face_index, reference
        )
        refused, flags = reference_verdict(face, self.limits)
        if refused:
            raise EnrollRefused(refused)
        if flags and has_good:
            raise PoorReference(flags)
        return await self._add_reference(
            analysis.sha256, face, crops[face.index - 1], chosen_by, flags, target, requester
        )

    async def _add_reference(
        self,
        source_sha256: str,
        face: DetectedFace,
        crop: bytes,
        chosen_by: str,
        flags: tuple[str, ...],
        target: Identity | IdentitySpec,
        requester: Requester,
    ) -> EnrollResult:
        created = False
        if isinstance(target, IdentitySpec):
            identity, created = await self.resolve_identity(
                target.name, requester, external_ref=target.external_ref, notes=target.notes
            )
        else:
            identity = target
        matches = await self.gallery.search.identities(
            face.embedding, self.model, limit=SEARCH_DEPTH
        )
        thresholds = await self.current_thresholds()
        duplicates = [
            m
            for m in matches
            if m.identity_id != identity.id and thresholds.band(m.similarity) == "strong"
        ]
        face_id = await self.gallery.faces.add(
            identity_id=identity.id,
            model=self.model,
            embedding=face.embedding,
            det_score=face.det_score,
            quality=face.quality.as_dict() | {"reference_flags": list(flags)},
            bbox=face.bbox,
            crop_jpeg=crop,
            source_sha256=source_sha256,
            actor=requester.actor,
            recipe=self.analyzer.embedding_recipe,
            low_quality=bool(flags),
        )
        if duplicates and face_id is not None:
            await self.gallery.audit.append(
                requester.actor,
                "face.duplicate_warning",
                f"face:{face_id}",
                {"identity_id": identity.id, "matches": [m.identity_id for m in duplicates]},
            )
        if face_id is not None:
            self.gallery_changed()
            refreshed = await self.gallery.identities.get(identity.id)
            identity = refreshed or identity
        return EnrollResult(identity, created, face, face_id, chosen_by, duplicates, flags)
