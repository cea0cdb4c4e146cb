"""Identification: the people of a photo, an album or a clip, each searched in the gallery, one
identity per person, recorded as a lookup with its candidates; a person with no candidate is
kept as a sighting, and a watched identity among the candidates raises an alert."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from facefind.access.actors import Requester
from facefind.analysis import People, Person, PoolAnalyzer
from facefind.investigations.unknown import UnknownFaces
from facefind.investigations.watch import Watchlist
from facefind.scoring.assignment import SEARCH_DEPTH, Candidate, assign_jointly
from facefind.scoring.bands import Bands
from facefind.scoring.fused import band_margin
from facefind.scoring.in_force import BandsInForce
from gallery import Gallery, NewCandidate, NewLookupFace
from recognition import Analysis, DetectedFace, ImageError

MEDIA = ("photo", "album", "video", "video_note", "animation")
CLIPS = ("video", "video_note", "animation")


@dataclass(frozen=True)
class FaceResult:
    face: DetectedFace  # the person's best face
    candidates: list[Candidate]
    candidate_ids: list[int] = field(default_factory=list)  # stored ids, same order
    person: Person | None = None


@dataclass(frozen=True)
class IdentifyResult:
    lookup_id: int
    analysis: Analysis | None  # a photo's (None for an album or a clip)
    faces: list[FaceResult]
    timings_ms: dict[str, float]
    bands: Bands
    faces_left_out: int = 0
    seen_before: dict[int, int | None] = field(default_factory=dict)  # person -> unknown person


@dataclass(frozen=True)
class _Analysed:
    people: list[Person]
    sha256: str
    timings_ms: dict[str, float]
    faces_left_out: int = 0
    analysis: Analysis | None = None
    overview: bytes | None = None


class Identifier:
    """Records lookups and answers them: media -> people -> candidates."""

    def __init__(
        self,
        gallery: Gallery,
        analysis: PoolAnalyzer,
        bands: BandsInForce,
        *,
        candidates_per_face: int = 3,
        unknown: UnknownFaces | None = None,
        watchlist: Watchlist | None = None,
    ) -> None:
        self.gallery = gallery
        self.analysis = analysis
        self.bands = bands
        self.candidates_per_face = candidates_per_face
        self.unknown = unknown
        self.watchlist = watchlist

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
        media: str = "photo",
    ) -> int | None:
        """Record a lookup before any work; None when this message already has one."""
        if media not in MEDIA:
            raise ValueError(f"unknown media {media!r}")
        return await self.gallery.lookups.create(
            user_id=requester.user_id,
            actor=requester.actor,
            source=source,
            chat_id=chat_id,
            message_id=message_id,
            file_id=file_id,
            update_id=update_id,
            language=language,
            media=media,
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

    # --- the three kinds of media ----------------------------------------------------------
    async def identify(
        self,
        data: bytes,
        requester: Requester,
        *,
        lookup_id: int | None = None,
        reply_owed: bool = False,
    ) -> IdentifyResult:
        """Find every face of a photo, search the gallery, record the lookup with its
        candidates.

        Raises ImageError (recorded on the lookup) for input that is not a usable image. When a
        reply is owed (Telegram), the lookup waits in `replying` for the outbox, and the photo
        with numbered boxes (several faces) is stored for it.
        """

        async def analyse() -> _Analysed:
            if reply_owed:
                analysis, crops, overview = await self.analysis.analyze_for_reply(data)
            else:
                (analysis, crops), overview = await self.analysis.analyze(data), None
            people = [
                Person(index=f.index, face=f, crop_jpeg=crop, embedding=f.embedding)
                for f, crop in zip(analysis.faces, crops, strict=True)
            ]
            return _Analysed(
                people,
                analysis.sha256,
                dict(analysis.timings_ms),
                analysis.faces_left_out,
                analysis,
                overview,
            )

        return await self._lookup(analyse, [data], requester, lookup_id, reply_owed)

    async def identify_album(
        self,
        photos: list[bytes],
        requester: Requester,
        *,
        lookup_id: int | None = None,
        reply_owed: bool = False,
    ) -> IdentifyResult:
        """One lookup for an album: every photo analysed, the faces of one person across the
        photos grouped, each person searched with their fused embedding (at bands raised by
        facefind.scoring.fused), one reply for the whole album."""

        async def analyse() -> _Analysed:
            found = await self.analysis.analyze_album(photos)
            return _from_people(found)

        return await self._lookup(analyse, photos, requester, lookup_id, reply_owed)

    async def identify_clip(
        self,
        data: bytes,
        requester: Requester,
        *,
        lookup_id: int | None = None,
        reply_owed: bool = False,
    ) -> IdentifyResult:
        """One lookup for a video, video note or GIF: sampled frames, their faces linked into
        people, each searched with their fused embedding; the best frame of each is stored for
        the reply. ImageError for a clip past the limits (too long, too large, too many
        frames)."""

        async def analyse() -> _Analysed:
            return _from_people(await self.analysis.analyze_clip(data))

        return await self._lookup(analyse, [data], requester, lookup_id, reply_owed)

    # --- what they share -------------------------------------------------------------------
    async def _lookup(
        self,
        analyse: Callable[[], Awaitable[_Analysed]],
        data: list[bytes],
        requester: Requester,
        lookup_id: int | None,
        reply_owed: bool,
    ) -> IdentifyResult:
        started = time.perf_counter()
        model = self.analysis.model
        if lookup_id is None:
            lookup_id = await self.begin_lookup(requester, source="cli")
            assert lookup_id is not None
        try:
            found = await analyse()
        except Exception as exc:
            if reply_owed and not isinstance(exc, ImageError):
                raise  # the lookup job retries it, or closes it as an error on its last attempt
            # a lookup that failed in this process is closed here
            code = exc.code if isinstance(exc, ImageError) else "internal_error"
            digest = await asyncio.to_thread(
                lambda: ":".join(hashlib.sha256(d).hexdigest() for d in data)
            )
            await self.gallery.lookups.finish(
                lookup_id,
                actor=requester.actor,
                status="error",
                error=code,
                photo_sha256=digest,
                model=model,
                reply_owed=reply_owed,
            )
            raise
        return await self._answer(lookup_id, requester, found, started, reply_owed)

    async def _answer(
        self,
        lookup_id: int,
        requester: Requester,
        found: _Analysed,
        started: float,
        reply_owed: bool,
    ) -> IdentifyResult:
        """Search each person, assign one identity per person, keep the people without a
        candidate as sightings, record the lookup, raise its watchlist alerts."""
        model = self.analysis.model
        searched = time.perf_counter()
        bands = await self.bands.current()
        people = found.people
        per_person = [
            await self.gallery.search.identities(p.embedding, model, limit=SEARCH_DEPTH)
            for p in people
        ]
        assigned = assign_jointly(
            per_person,
            bands.thresholds,
            self.candidates_per_face,
            bands.false_candidate_rate,
            numbers=[p.index for p in people],
            margins=[band_margin(p.fused) for p in people],
        )
        timings = dict(found.timings_ms)
        timings["search"] = (time.perf_counter() - searched) * 1000
        # a person with no candidate of their own (leads only, too) is kept as a sighting,
        # before the lookup is finished: a job that dies in between keeps each once on its rerun
        unknown = [
            p
            for p, cands in zip(people, assigned, strict=True)
            if not any(c.held_by_face is None for c in cands)
        ]
        seen: dict[int, int | None] = {}
        if self.unknown is not None and unknown:
            seen = await self.unknown.keep(
                lookup_id, requester, unknown, source_sha256=found.sha256
            )
        new_faces = [
            NewLookupFace(
                face_index=p.index,
                bbox=p.face.bbox,
                det_score=p.face.det_score,
                quality=p.face.quality.as_dict(),
                crop_jpeg=p.crop_jpeg,
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
                photo_index=p.photo_index,
                seen_in=p.seen_in,
                frame_jpeg=p.frame_jpeg,
                time_s=p.time_s,
            )
            for p, cands in zip(people, assigned, strict=True)
        ]
        timings["total"] = (time.perf_counter() - started) * 1000
        ids = await self.gallery.lookups.finish(
            lookup_id,
            actor=requester.actor,
            status="done" if people else "no_face",
            photo_sha256=found.sha256,
            model=model,
            faces=new_faces,
            timings={k: round(v, 1) for k, v in timings.items()},
            bands=bands.as_dict(),
            reply_owed=reply_owed,
            overview_jpeg=found.overview,
            faces_left_out=found.faces_left_out,
        )
        await self.raise_alerts(lookup_id)
        results = [
            FaceResult(p.face, cands, [ids[(p.index, c.rank)] for c in cands], p)
            for p, cands in zip(people, assigned, strict=True)
        ]
        return IdentifyResult(
            lookup_id,
            found.analysis,
            results,
            timings,
            bands,
            faces_left_out=found.faces_left_out,
            seen_before={k: v for k, v in seen.items() if v is not None},
        )

    async def raise_alerts(self, lookup_id: int) -> int:
        """The watchlist alerts of a finished lookup (once each, however often it runs)."""
        if self.watchlist is None:
            return 0
        lookup = await self.gallery.lookups.get(lookup_id)
        if lookup is None:
            return 0
        return len(await self.watchlist.alert(lookup))


def _from_people(found: People) -> _Analysed:
    return _Analysed(found.people, found.sha256, dict(found.timings_ms), found.faces_left_out)
