"""The service layer: identification and enrollment, combining recognition and the gallery."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from facefind.actors import Requester
from facefind.audit import load_audit_key
from facefind.bands import BandPolicy, Bands
from facefind.base import SEARCH_DEPTH
from facefind.bulk import FolderLoader, FolderReport, Plan
from facefind.calibration import load_calibration
from facefind.database import open_pool, prepare
from facefind.enrollment import Enrollment
from facefind.errors import StaleEmbeddings, UnknownIdentity
from facefind.inference import InferencePool
from facefind.matching import Candidate, assign_jointly
from facefind.settings import Settings
from gallery import Gallery, NewCandidate, NewLookupFace
from gallery.search import DEFAULT_FUSION
from recognition import Analysis, DetectedFace, ImageError
from recognition.models import resolve_model_pack
from recognition.pipeline import FaceAnalyzer
from recognition.render import decode_jpeg, draw_numbered_boxes, side_by_side

logger = logging.getLogger(__name__)


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
    bands: Bands


class FaceFind(Enrollment):
    """Identify and enroll faces. One instance per process, shared by all requests."""

    # --- lifecycle ------------------------------------------------------------------------
    @classmethod
    async def open(
        cls, settings: Settings, *, actor: str = "system", check_embeddings: bool = True
    ) -> FaceFind:
        """Database up and migrated, models loaded and verified, model registered, the gallery's
        embeddings made by this model and recipe (else StaleEmbeddings: run facefind reembed)."""
        key = load_audit_key(settings)
        db = await prepare(settings, key, actor=actor)
        pool = await open_pool(
            db, key, max_size=settings.db_pool_size, acquire_timeout=settings.db_acquire_timeout
        )
        inference = InferencePool(settings.inference_workers)
        try:
            pack = await inference.run(resolve_model_pack, settings.model_dir)
            analyzer = await inference.run(
                FaceAnalyzer, pack, settings.limits, settings.onnx_threads
            )
            gallery = Gallery(
                pool,
                audit_key=key,
                owner_dsn=db.owner_url,
                ef_search=settings.search_ef,
                shortlist=settings.search_shortlist,
            )
            await gallery.models.register(pack.name, pack.detector_sha256, pack.recognizer_sha256)
            if check_embeddings:
                await check_gallery_embeddings(gallery, pack.name, analyzer.embedding_recipe)
            if deferred := await gallery.indexes.deferred():
                logger.warning(
                    "vector indexes %s are missing after an interrupted bulk load: searches are "
                    "exact but slow until `facefind migrate` (or the next load) builds them",
                    ", ".join(deferred),
                )
            calibration = load_calibration(pack.name, pack.recognizer_sha256, settings.data_dir)
            if calibration is not None and calibration.recipe != analyzer.embedding_recipe:
                logger.warning(
                    "the calibration of %s was made with embedding recipe %s, not %s: ignored",
                    pack.name,
                    calibration.recipe,
                    analyzer.embedding_recipe,
                )
                calibration = None
            gallery.search.fusion = calibration.fusion if calibration else DEFAULT_FUSION
            service = cls(
                analyzer,
                gallery,
                BandPolicy(settings, calibration, pack.name),
                inference,
                candidates_per_face=settings.candidates_per_face,
            )
            await service.current_bands()
        except BaseException:
            await pool.close()
            inference.shutdown()
            raise
        service.dsn = db.app_url  # the task queue connects as the same (runtime) role
        service.embedded = db.embedded
        return service

    async def close(self) -> None:
        await self.gallery.pool.close()
        await asyncio.to_thread(self.inference.shutdown)

    async def begin_lookup(
        self,
        requester: Requester,
        *,
        source: str,
        chat_id: int | None = None,
        message_id: int | None = None,
        file_id: str | None = None,
        update_id: int | None = None,
        language: str | None = None,
    ) -> int | None:
        """Record a lookup before any work; None when this message already has one."""
        return await self.gallery.lookups.create(
            user_id=requester.user_id,
            actor=requester.actor,
            source=source,
            chat_id=chat_id,
            message_id=message_id,
            file_id=file_id,
            update_id=update_id,
            language=language,
        )

    async def fail_lookup(
        self, lookup_id: int, requester: Requester, error: str, *, reply_owed: bool = False
    ) -> None:
        await self.gallery.lookups.finish(
            lookup_id,
            actor=requester.actor,
            status="error",
            error=error,
            model=self.model,
            reply_owed=reply_owed,
        )

    async def identify(
        self,
        data: bytes,
        requester: Requester,
        *,
        lookup_id: int | None = None,
        reply_owed: bool = False,
    ) -> IdentifyResult:
        """Find every face, search the gallery, record the lookup with its candidates.

        Raises ImageError (recorded on the lookup) for input that is not a usable image. When a
        reply is owed (Telegram), the lookup waits in `replying` for the outbox, and the photo
        with numbered boxes (several faces) is stored for it.
        """
        started = time.perf_counter()
        if lookup_id is None:
            lookup_id = await self.begin_lookup(requester, source="cli")
            assert lookup_id is not None
        overview: bytes | None = None
        try:
            if reply_owed:
                analysis, crops, overview = await self.analyze_for_reply(data)
            else:
                analysis, crops = await self.analyze(data)
        except Exception as exc:
            if reply_owed and not isinstance(exc, ImageError):
                raise  # the lookup job retries it, or closes it as an error on its last attempt
            # a lookup that failed in this process is closed here
            code = exc.code if isinstance(exc, ImageError) else "internal_error"
            photo_sha256 = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
            await self.gallery.lookups.finish(
                lookup_id,
                actor=requester.actor,
                status="error",
                error=code,
                photo_sha256=photo_sha256,
                model=self.model,
                reply_owed=reply_owed,
            )
            raise
        searched = time.perf_counter()
        bands = await self.current_bands()
        per_face = [
            await self.gallery.search.identities(f.embedding, self.model, limit=SEARCH_DEPTH)
            for f in analysis.faces
        ]
        assigned = assign_jointly(
            per_face,
            bands.thresholds,
            self.candidates_per_face,
            bands.false_candidate_rate,
            numbers=[f.index for f in analysis.faces],
        )
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
                    NewCandidate(
                        c.rank,
                        c.identity_id,
                        c.face_id,
                        c.similarity,
                        c.band,
                        c.false_candidate_rate,
                        c.low_quality_ref,
                        c.held_by_face,
                    )
                    for c in cands
                ],
            )
            for f, crop, cands in zip(analysis.faces, crops, assigned, strict=True)
        ]
        timings["total"] = (time.perf_counter() - started) * 1000
        ids = await self.gallery.lookups.finish(
            lookup_id,
            actor=requester.actor,
            status="done" if analysis.faces else "no_face",
            photo_sha256=analysis.sha256,
            model=self.model,
            faces=new_faces,
            timings={k: round(v, 1) for k, v in timings.items()},
            bands=bands.as_dict(),
            reply_owed=reply_owed,
            overview_jpeg=overview,
        )
        results = [
            FaceResult(f, cands, [ids[(f.index, c.rank)] for c in cands])
            for f, cands in zip(analysis.faces, assigned, strict=True)
        ]
        return IdentifyResult(lookup_id, analysis, results, timings, bands)

    async def enroll_plan(
        self,
        plan: Plan,
        requester: Requester,
        *,
        workers: int = 1,
        model_dir: Path | None = None,
        check_duplicates: bool | None = None,
        progress: Callable[[Path], None] | None = None,
    ) -> FolderReport:
        """Enroll a folder's people (facefind.folders.scan_folder): see facefind.bulk.
        `workers` > 1 analyses in that many processes (`model_dir`: the pack they load)."""
        loader = FolderLoader(
            self,
            requester,
            workers=workers,
            model_dir=model_dir,
            check_duplicates=check_duplicates,
            progress=progress,
        )
        return await loader.run(plan)

    # --- pictures (rendered off the event loop) -----------------------------------------
    async def overview_picture(self, analysis: Analysis) -> bytes:
        """The photo with a numbered box on every face."""
        return await self.inference.run(draw_numbered_boxes, analysis.image, analysis.faces)

    async def comparison_picture(
        self, query_crop: np.ndarray | bytes, face_id: int, labels: tuple[str, str]
    ) -> bytes:
        """The query face beside the reference face it matched, labelled (left, right)."""
        face = await self.gallery.faces.get(face_id)
        if face is None:
            raise UnknownIdentity(f"face #{face_id}")
        return await self.inference.run(_side_by_side, query_crop, face.crop_jpeg, labels)

    async def identity_crops(self, identity_id: int) -> list[bytes]:
        """The pictures of an identity's active faces (imported faces may have none)."""
        faces = await self.gallery.faces.of_identity(identity_id)
        return [f.crop_jpeg for f in faces if f.crop_jpeg]

    # --- access and housekeeping --------------------------------------------------------
    async def lookups_in_last_hour(self, user_id: int) -> int:
        return await self.gallery.lookups.count_since(
            user_id, datetime.now(UTC) - timedelta(hours=1)
        )


def _side_by_side(
    query_crop: np.ndarray | bytes, reference_jpeg: bytes | None, labels: tuple[str, str]
) -> bytes:
    query = decode_jpeg(query_crop) if isinstance(query_crop, bytes) else query_crop
    return side_by_side(query, reference_jpeg, *labels)


async def check_gallery_embeddings(gallery: Gallery, model: str, recipe: str) -> None:
    """Refuse a gallery whose faces were embedded otherwise: their scores are not comparable."""
    stale = await gallery.faces.of_other_recipes(model, recipe)
    if stale:
        counts = ", ".join(f"{n} with {r}" for r, n in stale.items())
        raise StaleEmbeddings(
            f"the gallery's faces of model {model} were embedded differently ({counts}; this "
            f"version uses {recipe}): run `facefind reembed` to re-embed them from their crops"
        )
    others = await gallery.faces.of_other_models(model)
    if others:
        logger.warning(
            "the gallery also holds faces of other model packs (%s) that model %s cannot "
            "search: `facefind reembed --from-model NAME` embeds them with this one",
            ", ".join(f"{m}: {n}" for m, n in sorted(others.items())),
            model,
        )
