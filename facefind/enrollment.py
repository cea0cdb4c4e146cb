"""Enrollment: the face a photo is filed for, references flagged or refused, whole folders."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
from facefind.folders import scan_folder
from facefind.matching import agreeing_face, most_prominent
from gallery import Identity, Match
from recognition import Analysis, DetectedFace, ImageError, Limits
from recognition.render import draw_numbered_boxes

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentitySpec:
    """An identity named by the caller, found or created once a usable face is in hand."""

    name: str
    external_ref: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class EnrollResult:
    identity: Identity
    identity_created: bool
    face: DetectedFace
    face_id: int | None  # None: this photo was already enrolled for this identity
    chosen_by: str  # 'only' | 'index' | 'agrees' | 'prominent'
    duplicates: list[Match]  # other identities this face already matches as strong
    flags: tuple[str, ...] = ()  # why the reference is poor: it was enrolled flagged


@dataclass
class FolderReport:
    """What a folder enrollment did, photo by photo; `as_dict` counts it for --json."""

    enrolled: int = 0
    identities_created: int = 0
    people: int = 0
    people_enrolled: int = 0
    flagged: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    refused: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    # photos whose faces tie: (path, faces, JPEG with numbered boxes for the admin to choose)
    ties: list[tuple[str, int, bytes]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, other identity)
    not_enrolled: list[str] = field(default_factory=list)  # people left without a reference

    def as_dict(self) -> dict[str, object]:
        return {
            "people": self.people,
            "people_enrolled": self.people_enrolled,
            "people_not_enrolled": self.not_enrolled,
            "faces_enrolled": self.enrolled,
            "identities_created": self.identities_created,
            "flagged": len(self.flagged),
            "refused": len(self.refused),
            "ties": len(self.ties),
            "skipped": len(self.skipped),
            "duplicate_warnings": len(self.duplicates),
            "details": {
                "flagged": [{"photo": p, "reasons": list(r)} for p, r in self.flagged],
                "refused": [{"photo": p, "reasons": list(r)} for p, r in self.refused],
                "ties": [{"photo": p, "faces": n} for p, n, _ in self.ties],
                "skipped": [{"photo": p, "reason": r} for p, r in self.skipped],
                "duplicates": [{"photo": p, "matches": o} for p, o in self.duplicates],
            },
        }


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
    analysis: Analysis,
    face_index: int | None = None,
    reference: np.ndarray | None = None,
) -> tuple[DetectedFace, str]:
    """The face a photo is filed for: the one asked for by number; the only one; the one that
    agrees with the person's other photos (`reference`, their mean embedding); else the most
    prominent (large and central, the portrait convention). A real tie raises AmbiguousFaces."""
    faces = analysis.faces
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
    prominent = most_prominent(faces, analysis.width, analysis.height)
    if prominent is None:
        raise AmbiguousFaces(len(faces))
    return prominent, "prominent"


@dataclass
class _Photo:
    path: Path
    data_sha256: str
    analysis: Analysis
    crops: list[bytes]


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

        Raises AmbiguousIdentity when several match: a name alone must not pick a person.
        """
        existing = await self.find_identity(name, external_ref)
        if existing is not None:
            return existing, False
        if not create:
            raise UnknownIdentity(name)
        identity = await self.gallery.create_identity(
            name, requester.actor, external_ref=external_ref, notes=notes
        )
        return identity, True

    async def find_identity(self, name: str, external_ref: str | None = None) -> Identity | None:
        """The one active identity with this name (and reference), None when there is none."""
        matches = await self.gallery.identities_named(name)
        if external_ref:
            same_ref = [i for i in matches if (i.external_ref or "") == external_ref]
            matches = same_ref or [i for i in matches if not i.external_ref]
        if len(matches) > 1:
            raise AmbiguousIdentity(name, matches)
        return matches[0] if matches else None

    async def _reference_of(
        self, target: Identity | IdentitySpec
    ) -> tuple[np.ndarray | None, bool]:
        """The identity's template (None for a new one) and whether it has a good reference."""
        identity = (
            target
            if isinstance(target, Identity)
            else await self.find_identity(target.name, target.external_ref)
        )
        if identity is None:
            return None, False
        template = await self.gallery.template_of(identity.id, self.model)
        faces = await self.gallery.faces_of_identity(identity.id)
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
        leaves no empty identity behind. A poor face is enrolled, flagged, only when the
        identity has no good reference yet (PoorReference otherwise).
        """
        analysis, crops = await self.analyze(data)
        reference, has_good = await self._reference_of(target)
        face, chosen_by = choose_face(analysis, face_index, reference)
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
        matches = await self.gallery.search(face.embedding, self.model, limit=SEARCH_DEPTH)
        thresholds = await self.current_thresholds()
        duplicates = [
            m
            for m in matches
            if m.identity_id != identity.id and thresholds.band(m.similarity) == "strong"
        ]
        face_id = await self.gallery.add_face(
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
            await self.gallery.audit(
                requester.actor,
                "face.duplicate_warning",
                f"face:{face_id}",
                {"identity_id": identity.id, "matches": [m.identity_id for m in duplicates]},
            )
        if face_id is not None:
            self.gallery_changed()
            refreshed = await self.gallery.get_identity(identity.id)
            identity = refreshed or identity
        return EnrollResult(identity, created, face, face_id, chosen_by, duplicates, flags)

    async def enroll_folder(
        self,
        root: Path,
        requester: Requester,
        *,
        progress: Callable[[Path], None] | None = None,
    ) -> FolderReport:
        """Bulk enrollment: one subfolder per identity; re-running skips enrolled photos."""
        plan = await asyncio.to_thread(scan_folder, root)
        return await self.enroll_plan(plan, requester, progress=progress)

    async def enroll_plan(
        self,
        plan: Sequence[tuple[str, str | None, str | None, list[Path]]],
        requester: Requester,
        *,
        progress: Callable[[Path], None] | None = None,
    ) -> FolderReport:
        """Enroll what `scan_folder` found, person by person (see `enroll_person`)."""
        report = FolderReport()
        for name, ref, notes, photos in plan:
            report.people += 1
            if not photos:
                report.skipped.append((name, "no photos"))
                report.not_enrolled.append(name)
                continue
            await self.enroll_person(IdentitySpec(name, ref, notes), photos, requester, report)
            if progress:
                for photo in photos:
                    progress(photo)
        return report

    async def enroll_person(
        self,
        spec: IdentitySpec,
        photos: Sequence[Path],
        requester: Requester,
        report: FolderReport,
    ) -> None:
        """Enroll one person's photos so that nobody is left out silently.

        In a photo with several faces the one that agrees with the person's other photos (their
        single-face photos, or the identity's template) is enrolled, else the most prominent;
        only a real tie is skipped, with a picture of numbered boxes for the admin. Good faces
        go first; poor ones are enrolled, flagged, only when the person has no better one.
        """
        try:
            reference, has_good = await self._reference_of(spec)
        except AmbiguousIdentity as exc:
            for photo in photos:
                report.skipped.append(
                    (str(photo), f"{len(exc.matches)} identities named {exc.name!r}")
                )
            report.not_enrolled.append(spec.name)
            return
        loaded = [p for p in [await self._load(path, report) for path in photos] if p]
        if reference is None:
            singles = [p.analysis.faces[0].embedding for p in loaded if len(p.analysis.faces) == 1]
            if singles:
                reference = np.mean(np.stack(singles), axis=0)
        good: list[tuple[_Photo, DetectedFace, str]] = []
        poor: list[tuple[_Photo, DetectedFace, str, tuple[str, ...]]] = []
        for item in loaded:
            try:
                face, chosen_by = choose_face(item.analysis, None, reference)
            except NoFaceFound:
                report.skipped.append((str(item.path), "no face found"))
                continue
            except AmbiguousFaces as exc:
                picture = await self.inference.run(
                    draw_numbered_boxes, item.analysis.image, item.analysis.faces
                )
                report.ties.append((str(item.path), exc.count, picture))
                continue
            refused, flags = reference_verdict(face, self.limits)
            if refused:
                report.refused.append((str(item.path), refused))
            elif flags:
                poor.append((item, face, chosen_by, flags))
            else:
                good.append((item, face, chosen_by))
        target: Identity | IdentitySpec = spec
        good_added = poor_added = 0
        for item, face, chosen_by in good:
            target, added = await self._enroll_loaded(
                item, face, chosen_by, (), target, requester, report
            )
            good_added += added
        for item, face, chosen_by, flags in poor:
            if has_good or good_added:
                why = "low quality (" + ", ".join(flags) + "); a better reference exists"
                report.skipped.append((str(item.path), why))
                continue
            target, added = await self._enroll_loaded(
                item, face, chosen_by, flags, target, requester, report
            )
            if added:
                report.flagged.append((str(item.path), flags))
            poor_added += added
        if good_added or poor_added:
            report.people_enrolled += 1
        elif not await self._has_faces(target):
            report.not_enrolled.append(spec.name)

    async def _has_faces(self, target: Identity | IdentitySpec) -> bool:
        if isinstance(target, Identity):
            return target.face_count > 0
        identity = await self.find_identity(target.name, target.external_ref)
        return identity is not None and identity.face_count > 0

    async def _load(self, path: Path, report: FolderReport) -> _Photo | None:
        data = await asyncio.to_thread(path.read_bytes)
        sha = hashlib.sha256(data).hexdigest()
        already = await self.gallery.faces_from_source(sha, self.model)
        if already:
            owners = ", ".join(sorted({n for _, _, n in already}))
            report.skipped.append((str(path), f"already enrolled ({owners})"))
            return None
        try:
            analysis, crops = await self.analyze(data)
        except ImageError as exc:
            report.skipped.append((str(path), f"bad image ({exc.code}): {exc}"))
            return None
        return _Photo(path, sha, analysis, crops)

    async def _enroll_loaded(
        self,
        photo: _Photo,
        face: DetectedFace,
        chosen_by: str,
        flags: tuple[str, ...],
        target: Identity | IdentitySpec,
        requester: Requester,
        report: FolderReport,
    ) -> tuple[Identity | IdentitySpec, bool]:
        try:
            result = await self._add_reference(
                photo.data_sha256,
                face,
                photo.crops[face.index - 1],
                chosen_by,
                flags,
                target,
                requester,
            )
        except AmbiguousIdentity as exc:
            report.skipped.append(
                (str(photo.path), f"{len(exc.matches)} identities named {exc.name!r}")
            )
            return target, False
        report.identities_created += int(result.identity_created)
        if result.face_id is None:
            report.skipped.append((str(photo.path), "already enrolled"))
            return result.identity, False
        report.enrolled += 1
        for m in result.duplicates:
            report.duplicates.append(
                (str(photo.path), f"{m.display_name} (#{m.identity_id}) {m.similarity:.2f}")
            )
        return result.identity, True
