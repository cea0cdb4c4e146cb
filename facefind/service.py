"""The service layer: identification and enrollment, combining recognition and the gallery."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from facefind.inference import InferencePool
from facefind.matching import Candidate, assign_jointly, dominant_face
from facefind.settings import Settings, Thresholds
from gallery import (
    Gallery,
    Identity,
    Match,
    NewCandidate,
    NewLookupFace,
    create_pool,
    migrate,
    start_embedded,
)
from recognition import Analysis, DetectedFace, ImageError, Limits
from recognition.models import resolve_model_pack
from recognition.pipeline import FaceAnalyzer
from recognition.render import decode_jpeg, draw_numbered_boxes, encode_jpeg, side_by_side

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
# How many identities each face's search returns before joint assignment trims to the top 3:
# a face that loses an identity to another face still has its next candidates.
SEARCH_DEPTH = 10


class FaceFindError(Exception):
    """A domain error the front ends turn into a friendly reply. `code` is stable."""

    code = "error"


class NoFaceFound(FaceFindError):
    code = "no_face"


class AmbiguousFaces(FaceFindError):
    """Several faces and none dominates; the caller must choose one."""

    code = "ambiguous_faces"

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} faces and none clearly larger: choose one")
        self.count = count


class FaceIndexOutOfRange(FaceFindError):
    code = "face_index"

    def __init__(self, index: int, count: int) -> None:
        super().__init__(f"face #{index} asked for, photo has {count}")
        self.index = index
        self.count = count


class EnrollRefused(FaceFindError):
    """The face is too small or too poor to be a reference."""

    code = "enroll_refused"

    def __init__(self, reasons: tuple[str, ...]) -> None:
        super().__init__("face not usable as a reference: " + ", ".join(reasons))
        self.reasons = reasons


class AmbiguousIdentity(FaceFindError):
    code = "ambiguous_identity"

    def __init__(self, name: str, matches: list[Identity]) -> None:
        super().__init__(f"{len(matches)} identities are named {name!r}")
        self.name = name
        self.matches = matches


class UnknownIdentity(FaceFindError):
    code = "unknown_identity"


@dataclass(frozen=True)
class Requester:
    """Who asks: an audit actor string and, for Telegram users, their id."""

    actor: str
    user_id: int | None = None

    @classmethod
    def telegram(cls, user_id: int) -> Requester:
        return cls(actor=f"tg:{user_id}", user_id=user_id)


@dataclass(frozen=True)
class IdentitySpec:
    """An identity named by the caller, found or created once a usable face is in hand."""

    name: str
    external_ref: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class FaceResult:
    face: DetectedFace
    candidates: list[Candidate]
    candidate_ids: list[int] = field(default_factory=list)  # stored ids, same order


@dataclass(frozen=True)
class IdentifyResult:
    lookup_id: int
    analysis: Analysis
    faces: list[FaceResult]
    timings_ms: dict[str, float]


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


class FaceFind:
    """Identify and enroll faces. One instance per process, shared by all requests."""

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        gallery: Gallery,
        thresholds: Thresholds,
        inference: InferencePool,
        *,
        candidates_per_face: int = 3,
    ) -> None:
        self.analyzer = analyzer
        self.gallery = gallery
        self.thresholds = thresholds
        self.inference = inference
        self.candidates_per_face = candidates_per_face
        self.model = analyzer.model_name

    @property
    def limits(self) -> Limits:
        return self.analyzer.limits

    # --- lifecycle ------------------------------------------------------------------------
    @classmethod
    async def open(cls, settings: Settings, *, actor: str = "system") -> FaceFind:
        """Database up and migrated, models loaded and verified, model registered."""
        dsn = await database_url(settings)
        await migrate(dsn, actor=actor)
        pool = await create_pool(dsn, max_size=max(4, settings.inference_workers * 4))
        inference = InferencePool(settings.inference_workers)
        try:
            pack = await inference.run(resolve_model_pack, settings.model_dir)
            analyzer = await inference.run(
                FaceAnalyzer, pack, settings.limits, settings.onnx_threads
            )
            gallery = Gallery(
                pool, ef_search=settings.search_ef, shortlist=settings.search_shortlist
            )
            await gallery.register_model(pack.name, pack.detector_sha256, pack.recognizer_sha256)
        except BaseException:
            await pool.close()
            inference.shutdown()
            raise
        return cls(
            analyzer,
            gallery,
            settings.thresholds_for(pack.name),
            inference,
            candidates_per_face=settings.candidates_per_face,
        )

    async def close(self) -> None:
        await self.gallery.pool.close()
        await asyncio.to_thread(self.inference.shutdown)

    # --- identification -------------------------------------------------------------------
    async def analyze(self, data: bytes) -> tuple[Analysis, list[bytes]]:
        """Faces in the photo and their aligned crops as JPEG, computed off the event loop."""
        return await self.inference.run(self._analyze_sync, data)

    def _analyze_sync(self, data: bytes) -> tuple[Analysis, list[bytes]]:
        analysis = self.analyzer.analyze(data)
        return analysis, [encode_jpeg(f.crop, quality=92) for f in analysis.faces]

    async def begin_lookup(
        self,
        requester: Requester,
        *,
        source: str,
        chat_id: int | None = None,
        message_id: int | None = None,
        file_id: str | None = None,
    ) -> int | None:
        """Record a lookup before any work; None when this message already has one."""
        return await self.gallery.create_lookup(
            user_id=requester.user_id,
            actor=requester.actor,
            source=source,
            chat_id=chat_id,
            message_id=message_id,
            file_id=file_id,
        )

    async def fail_lookup(self, lookup_id: int, requester: Requester, error: str) -> None:
        await self.gallery.finish_lookup(
            lookup_id, actor=requester.actor, status="error", error=error, model=self.model
        )

    async def identify(
        self, data: bytes, requester: Requester, *, lookup_id: int | None = None
    ) -> IdentifyResult:
        """Find every face, search the gallery, record the lookup with its candidates.

        Raises ImageError (recorded on the lookup) for input that is not a usable image.
        """
        started = time.perf_counter()
        if lookup_id is None:
            lookup_id = await self.begin_lookup(requester, source="cli")
            assert lookup_id is not None
        try:
            analysis, crops = await self.analyze(data)
        except Exception as exc:
            # a lookup that failed in this process is closed here; only a crash leaves one
            # pending, to be resumed at the next start
            code = exc.code if isinstance(exc, ImageError) else "internal_error"
            photo_sha256 = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
            await self.gallery.finish_lookup(
                lookup_id,
                actor=requester.actor,
                status="error",
                error=code,
                photo_sha256=photo_sha256,
                model=self.model,
            )
            raise
        searched = time.perf_counter()
        per_face = [
            await self.gallery.search(f.embedding, self.model, limit=SEARCH_DEPTH)
            for f in analysis.faces
        ]
        assigned = assign_jointly(per_face, self.thresholds, self.candidates_per_face)
        timings = dict(analysis.timings_ms)
        timings["search"] = (time.perf_counter() - searched) * 1000
        new_faces = [
            NewLookupFace(
                face_index=f.index,
                bbox=f.bbox,
                det_score=f.det_score,
                quality=f.quality.as_dict(),
                crop_jpeg=crop,
                candidates=[
                    NewCandidate(c.rank, c.identity_id, c.face_id, c.similarity, c.band)
                    for c in cands
                ],
            )
            for f, crop, cands in zip(analysis.faces, crops, assigned, strict=True)
        ]
        timings["total"] = (time.perf_counter() - started) * 1000
        ids = await self.gallery.finish_lookup(
            lookup_id,
            actor=requester.actor,
            status="done" if analysis.faces else "no_face",
            photo_sha256=analysis.sha256,
            model=self.model,
            faces=new_faces,
            timings={k: round(v, 1) for k, v in timings.items()},
        )
        results = [
            FaceResult(f, cands, [ids[(f.index, c.rank)] for c in cands])
            for f, cands in zip(analysis.faces, assigned, strict=True)
        ]
        return IdentifyResult(lookup_id, analysis, results, timings)

    # --- enrollment -----------------------------------------------------------------------
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

    # --- pictures (rendered off the event loop) -----------------------------------------
    async def overview_picture(self, analysis: Analysis) -> bytes:
        """The photo with a numbered box on every face."""
        return await self.inference.run(draw_numbered_boxes, analysis.image, analysis.faces)

    async def comparison_picture(self, query_crop: np.ndarray | bytes, face_id: int) -> bytes:
        """The query face beside the reference face it matched."""
        face = await self.gallery.get_face(face_id)
        if face is None:
            raise UnknownIdentity(f"face #{face_id}")
        return await self.inference.run(_side_by_side, query_crop, face.crop_jpeg, face_id)

    async def identity_crops(self, identity_id: int) -> list[bytes]:
        return [f.crop_jpeg for f in await self.gallery.faces_of_identity(identity_id)]

    # --- access and housekeeping --------------------------------------------------------
    async def lookups_in_last_hour(self, user_id: int) -> int:
        return await self.gallery.count_lookups_since(
            user_id, datetime.now(UTC) - timedelta(hours=1)
        )

    async def purge_expired(self, retention_days: int, actor: str = "system") -> tuple[int, int]:
        if retention_days <= 0:
            return 0, 0
        return await self.gallery.purge_before(
            datetime.now(UTC) - timedelta(days=retention_days), actor
        )


def _side_by_side(query_crop: np.ndarray | bytes, reference_jpeg: bytes, face_id: int) -> bytes:
    query = decode_jpeg(query_crop) if isinstance(query_crop, bytes) else query_crop
    return side_by_side(query, reference_jpeg, "your photo", f"reference #{face_id}")


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


async def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server's URI (started on first use)."""
    if settings.database_url:
        return settings.database_url
    return await asyncio.to_thread(start_embedded, settings.data_dir)
