"""Enrolling one photo (the bot's /enroll, `facefind enroll PHOTO`, the console): the identity
found or created by name, the face chosen (facefind.enroll.choice), refused or flagged."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from facefind.access.actors import Requester
from facefind.analysis import PoolAnalyzer
from facefind.enroll.choice import choose_face, reference_verdict
from facefind.errors import (
    AmbiguousIdentity,
    EnrollRefused,
    PoorReference,
    UnknownIdentity,
)
from facefind.scoring.assignment import SEARCH_DEPTH
from facefind.scoring.in_force import BandsInForce
from facefind.user_input import NOTES_MAX, REF_MAX, clean_name, clean_optional
from gallery import Gallery, Identity, Match
from recognition import DetectedFace

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


async def find_identity(
    gallery: Gallery, name: str, external_ref: str | None = None
) -> Identity | None:
    """The one active identity with this name (and reference), None when there is none;
    AmbiguousIdentity when several match: a name alone must not pick a person."""
    matches = await gallery.identities.named(name)
    if external_ref:
        same_ref = [i for i in matches if (i.external_ref or "") == external_ref]
        matches = same_ref or [i for i in matches if not i.external_ref]
    if len(matches) > 1:
        raise AmbiguousIdentity(name, matches)
    return matches[0] if matches else None


async def reference_of(
    gallery: Gallery, model: str, target: Identity | IdentitySpec
) -> tuple[np.ndarray | None, bool]:
    """The identity's template (None for a new one) and whether it has a good reference."""
    identity = (
        target
        if isinstance(target, Identity)
        else await find_identity(gallery, target.name, target.external_ref)
    )
    if identity is None:
        return None, False
    template = await gallery.templates.of(identity.id, model)
    faces = await gallery.faces.of_identity(identity.id)
    good = any(f.model == model and not f.low_quality for f in faces)
    return (template[0] if template else None), good


class Enroller:
    """Adds reference faces one photo at a time."""

    def __init__(self, gallery: Gallery, analysis: PoolAnalyzer, bands: BandsInForce) -> None:
        self.gallery = gallery
        self.analysis = analysis
        self.bands = bands

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
        return await find_identity(self.gallery, name, external_ref)

    async def reference_of(self, target: Identity | IdentitySpec) -> tuple[np.ndarray | None, bool]:
        """The identity's template (None for a new one) and whether it has a good reference."""
        return await reference_of(self.gallery, self.analysis.model, target)

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
        analysis, crops = await self.analysis.analyze(data)
        reference, has_good = await self.reference_of(target)
        face, chosen_by = choose_face(
            analysis.faces, analysis.width, analysis.height, face_index, reference
        )
        refused, flags = reference_verdict(face, self.analysis.limits)
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
            face.embedding, self.analysis.model, limit=SEARCH_DEPTH
        )
        thresholds = await self.bands.thresholds()
        duplicates = [
            m
            for m in matches
            if m.identity_id != identity.id and thresholds.band(m.similarity) == "strong"
        ]
        face_id = await self.gallery.faces.add(
            identity_id=identity.id,
            model=self.analysis.model,
            embedding=face.embedding,
            det_score=face.det_score,
            quality=face.quality.as_dict() | {"reference_flags": list(flags)},
            bbox=face.bbox,
            crop_jpeg=crop,
            source_sha256=source_sha256,
            actor=requester.actor,
            recipe=self.analysis.recipe,
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
            self.bands.gallery_changed()
            refreshed = await self.gallery.identities.get(identity.id)
            identity = refreshed or identity
        return EnrollResult(identity, created, face, face_id, chosen_by, duplicates, flags)
