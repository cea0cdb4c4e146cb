"""Identification: a photo's faces, each searched in the gallery, one identity per face, recorded
as a lookup with its candidates."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from facefind.access.actors import Requester
from facefind.analysis import PoolAnalyzer
from facefind.scoring.assignment import SEARCH_DEPTH, Candidate, assign_jointly
from facefind.scoring.bands import Bands
from facefind.scoring.in_force import BandsInForce
from gallery import Gallery, NewCandidate, NewLookupFace
from recognition import Analysis, DetectedFace, ImageError


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


class Identifier:
    """Records lookups and answers them: photo -> faces -> candidates."""

    def __init__(
        self,
        gallery: Gallery,
        analysis: PoolAnalyzer,
        bands: BandsInForce,
        *,
        candidates_per_face: int = 3,
    ) -> None:
        self.gallery = gallery
        self.analysis = analysis
        self.bands = bands
        self.candidates_per_face = candidates_per_face

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
            model=self.analysis.model,
            reply_owed=reply_owed,
        )

    async def lookups_in_last_hour(self, user_id: int) -> int:
        return await self.gallery.lookups.count_since(
            user_id, datetime.now(UTC) - timedelta(hours=1)
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
        model = self.analysis.model
        if lookup_id is None:
            lookup_id = await self.begin_lookup(requester, source="cli")
            assert lookup_id is not None
        overview: bytes | None = None
        try:
            if reply_owed:
                analysis, crops, overview = await self.analysis.analyze_for_reply(data)
            else:
                analysis, crops = await self.analysis.analyze(data)
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
                model=model,
                reply_owed=reply_owed,
            )
            raise
        searched = time.perf_counter()
        bands = await self.bands.current()
        per_face = [
            await self.gallery.search.identities(f.embedding, model, limit=SEARCH_DEPTH)
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
            model=model,
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
