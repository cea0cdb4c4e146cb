"""Enrollment: choosing the face a photo is filed for, refusing unusable references, folders."""

from __future__ import annotations

import asyncio
import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from facefind.actors import Requester
from facefind.base import SEARCH_DEPTH, ServiceBase
from facefind.errors import (
    AmbiguousFaces,
    AmbiguousIdentity,
    EnrollRefused,
    FaceIndexOutOfRange,
    NoFaceFound,
    UnknownIdentity,
)
from facefind.matching import dominant_face
from gallery import Identity, Match
from recognition import DetectedFace, ImageError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


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
    chosen_by: str  # 'only' | 'index' | 'dominant'
    duplicates: list[Match]  # other identities this face already matches as strong


@dataclass
class FolderReport:
    enrolled: int = 0
    identities_created: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (path, other identity)


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
        matches = await self.gallery.identities_named(name)
        if external_ref:
            same_ref = [i for i in matches if (i.external_ref or "") == external_ref]
            matches = same_ref or [i for i in matches if not i.external_ref]
        if len(matches) == 1:
            return matches[0], False
        if len(matches) > 1:
            raise AmbiguousIdentity(name, matches)
        if not create:
            raise UnknownIdentity(name)
        identity = await self.gallery.create_identity(
            name, requester.actor, external_ref=external_ref, notes=notes
        )
        return identity, True

    async def enroll(
        self,
        data: bytes,
        target: Identity | IdentitySpec,
        requester: Requester,
        *,
        face_index: int | None = None,
    ) -> EnrollResult:
        """Add the chosen (or only, or dominant) face of a photo to an identity.

        The face is checked before a named identity is found or created, so a refused photo
        leaves no empty identity behind.
        """
        analysis, crops = await self.analyze(data)
        face, chosen_by = choose_face(analysis.faces, face_index)
        refused = self.enroll_problems(face)
        if refused:
            raise EnrollRefused(refused)
        created = False
        if isinstance(target, IdentitySpec):
            identity, created = await self.resolve_identity(
                target.name, requester, external_ref=target.external_ref, notes=target.notes
            )
        else:
            identity = target
        matches = await self.gallery.search(face.embedding, self.model, limit=SEARCH_DEPTH)
        duplicates = [
            m
            for m in matches
            if m.identity_id != identity.id and self.thresholds.band(m.similarity) == "strong"
        ]
        face_id = await self.gallery.add_face(
            identity_id=identity.id,
            model=self.model,
            embedding=face.embedding,
            det_score=face.det_score,
            quality=face.quality.as_dict(),
            bbox=face.bbox,
            crop_jpeg=crops[face.index - 1],
            source_sha256=analysis.sha256,
            actor=requester.actor,
        )
        if duplicates and face_id is not None:
            await self.gallery.audit(
                requester.actor,
                "face.duplicate_warning",
                f"face:{face_id}",
                {"identity_id": identity.id, "matches": [m.identity_id for m in duplicates]},
            )
        if face_id is not None:
            refreshed = await self.gallery.get_identity(identity.id)
            identity = refreshed or identity
        return EnrollResult(identity, created, face, face_id, chosen_by, duplicates)

    def enroll_problems(self, face: DetectedFace) -> tuple[str, ...]:
        """Reasons a face cannot serve as a reference: stricter size and score limits than a
        search, no blur, and no near-profile (a flagged three-quarter view is still accepted)."""
        limits = self.limits
        reasons: list[str] = []
        if face.quality.face_px < limits.enroll_min_face_px:
            reasons.append("small")
        if face.det_score < limits.enroll_min_det_score:
            reasons.append("low_score")
        if "blurry" in face.quality.reasons:
            reasons.append("blurry")
        q = face.quality
        if abs(q.yaw) > limits.enroll_max_yaw_deg or abs(q.pitch) > limits.enroll_max_pitch_deg:
            reasons.append("pose")
        return tuple(reasons)

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
        plan: list[tuple[str, str | None, str | None, list[Path]]],
        requester: Requester,
        *,
        progress: Callable[[Path], None] | None = None,
    ) -> FolderReport:
        """Enroll what `scan_folder` found."""
        report = FolderReport()
        for name, ref, notes, photos in plan:
            if not photos:
                report.skipped.append((name, "no photos"))
                continue
            target: Identity | IdentitySpec = IdentitySpec(name, ref, notes)
            for photo in photos:
                reason, target = await self._enroll_one(photo, target, requester, report)
                if reason:
                    report.skipped.append((str(photo), reason))
                if progress:
                    progress(photo)
        return report

    async def _enroll_one(
        self,
        photo: Path,
        target: Identity | IdentitySpec,
        requester: Requester,
        report: FolderReport,
    ) -> tuple[str | None, Identity | IdentitySpec]:
        """Enroll one photo; returns the skip reason (or None) and the identity to use next."""
        data = await asyncio.to_thread(photo.read_bytes)
        already = await self.gallery.faces_from_source(hashlib.sha256(data).hexdigest(), self.model)
        if already:
            owners = ", ".join(sorted({n for _, _, n in already}))
            return f"already enrolled ({owners})", target
        try:
            result = await self.enroll(data, target, requester)
        except ImageError as exc:
            return f"bad image ({exc.code}): {exc}", target
        except NoFaceFound:
            return "no face found", target
        except AmbiguousFaces as exc:
            return f"{exc.count} faces, none clearly the largest", target
        except EnrollRefused as exc:
            return "face not usable: " + ", ".join(exc.reasons), target
        except AmbiguousIdentity as exc:
            return f"{len(exc.matches)} identities named {exc.name!r}", target
        report.identities_created += int(result.identity_created)
        if result.face_id is None:
            return "already enrolled", result.identity
        report.enrolled += 1
        for m in result.duplicates:
            report.duplicates.append(
                (str(photo), f"{m.display_name} (#{m.identity_id}) {m.similarity:.2f}")
            )
        return None, result.identity


def choose_face(faces: list[DetectedFace], face_index: int | None) -> tuple[DetectedFace, str]:
    if not faces:
        raise NoFaceFound("no face found")
    if face_index is not None:
        if not 1 <= face_index <= len(faces):
            raise FaceIndexOutOfRange(face_index, len(faces))
        return faces[face_index - 1], "index"
    if len(faces) == 1:
        return faces[0], "only"
    dominant = dominant_face(faces)
    if dominant is None:
        raise AmbiguousFaces(len(faces))
    return dominant, "dominant"


def scan_folder(root: Path) -> list[tuple[str, str | None, str | None, list[Path]]]:
    """(identity name, external_ref, notes, photos) for each subfolder of an enrollment folder."""
    if not root.is_dir():
        raise FileNotFoundError(f"not a folder: {root}")
    details = read_identities_csv(root / "identities.csv")
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        name = " ".join(folder.name.replace("_", " ").split())
        ref, notes = details.get(name.lower(), (None, None))
        photos = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        found.append((name, ref, notes, photos))
    return found


def read_identities_csv(path: Path) -> dict[str, tuple[str | None, str | None]]:
    """name (lower-case) -> (external_ref, notes) from an optional identities.csv."""
    if not path.is_file():
        return {}
    out: dict[str, tuple[str | None, str | None]] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            name = " ".join((row.get("name") or "").replace("_", " ").split())
            if name:
                out[name.lower()] = (
                    (row.get("external_ref") or "").strip() or None,
                    (row.get("notes") or "").strip() or None,
                )
    return out
