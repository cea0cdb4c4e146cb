"""The models on the inference pool: faces and their crops from a photo, and the pictures the
front ends show, computed off the event loop."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from facefind.errors import UnknownIdentity
from facefind.runtime.inference import InferencePool
from gallery import Gallery
from recognition import Analysis, Limits
from recognition.grouping import group_album
from recognition.pipeline import FaceAnalyzer
from recognition.render import decode_jpeg, draw_numbered_boxes, encode_jpeg, side_by_side
from recognition.types import DetectedFace, VideoLimits
from recognition.video import analyze_clip


@dataclass(frozen=True, eq=False)
class Person:
    """What one search is for: a face of a photo, or a person of an album or a clip (their
    faces grouped, and searched with the fused embedding)."""

    index: int  # the number the reply gives them, 1-based, the largest or most seen first
    face: DetectedFace  # their best face: box, score, quality, its own embedding
    crop_jpeg: bytes  # that face, aligned
    embedding: np.ndarray  # what is searched: the face's own, or the fused one
    fused: int = 1  # faces fused into `embedding`
    photo_index: int = 0  # the album photo of the best face
    seen_in: int = 1  # photos or sampled frames they were found in
    frame_jpeg: bytes | None = None  # a clip's best frame of them, their box drawn
    time_s: float | None = None  # that frame's time in the clip


@dataclass(frozen=True, eq=False)
class People:
    """The people of an album or a clip, as analysed."""

    people: list[Person]
    sha256: str  # of the photo bytes (an album's, concatenated in order) or the clip's
    faces_left_out: int  # faces past FACEFIND_MAX_FACES, or people past the clip's limit
    timings_ms: dict[str, float]


class PoolAnalyzer:
    """The loaded FaceAnalyzer, run on the bounded inference pool; one per process."""

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        inference: InferencePool,
        gallery: Gallery,
        video_limits: VideoLimits | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.inference = inference
        self.gallery = gallery  # the reference faces' pictures
        self.model = analyzer.model_name
        self.video_limits = video_limits or VideoLimits()

    @property
    def limits(self) -> Limits:
        return self.analyzer.limits

    @property
    def recipe(self) -> str:
        """How this analyzer embeds a face (stored with every face)."""
        return self.analyzer.embedding_recipe

    async def analyze(self, data: bytes) -> tuple[Analysis, list[bytes]]:
        """Faces in the photo and their aligned crops as JPEG, computed off the event loop."""
        return await self.inference.run(self._analyze_sync, data)

    def _analyze_sync(self, data: bytes) -> tuple[Analysis, list[bytes]]:
        analysis = self.analyzer.analyze(data)
        return analysis, [encode_jpeg(f.crop, quality=92) for f in analysis.faces]

    async def analyze_for_reply(self, data: bytes) -> tuple[Analysis, list[bytes], bytes | None]:
        """`analyze`, plus the photo with numbered boxes when it has several faces, in the same
        inference call; the analysis comes back without its decoded pixels.

        A decoded photo is large (a 12-megapixel photo is 36 MB): rendering the boxes later
        would keep it alive while waiting for another inference slot, and a burst of photos
        would hold dozens of them. The returned image is a zero-byte view of the same shape.
        """
        return await self.inference.run(self._analyze_for_reply_sync, data)

    def _analyze_for_reply_sync(self, data: bytes) -> tuple[Analysis, list[bytes], bytes | None]:
        analysis, crops = self._analyze_sync(data)
        overview = (
            draw_numbered_boxes(analysis.image, analysis.faces) if len(analysis.faces) > 1 else None
        )
        released = np.broadcast_to(np.zeros((), analysis.image.dtype), analysis.image.shape)
        return replace(analysis, image=released), crops, overview

    # --- albums and clips -----------------------------------------------------------------
    async def analyze_album(self, photos: list[bytes]) -> People:
        """The people of an album: each photo analysed on its own inference call (its pixels
        released before the next), then their faces grouped across the photos
        (recognition.grouping.group_album). An ImageError of any photo fails the album."""
        analyses = [await self.inference.run(self._faces_only, data) for data in photos]
        grouped = await self.inference.run(group_album, [a.faces for a in analyses])
        people = []
        for number, person in enumerate(grouped, start=1):
            best = person.best
            people.append(
                Person(
                    index=number,
                    face=best.face,
                    crop_jpeg=encode_jpeg(best.face.crop, quality=92),
                    embedding=person.embedding,
                    fused=person.fused,
                    photo_index=best.photo,
                    seen_in=len(person.photos),
                )
            )
        timings: dict[str, float] = {}
        for a in analyses:
            for key, ms in a.timings_ms.items():
                timings[key] = timings.get(key, 0.0) + ms
        return People(
            people,
            sha256=":".join(a.sha256 for a in analyses),
            faces_left_out=sum(a.faces_left_out for a in analyses),
            timings_ms=timings,
        )

    def _faces_only(self, data: bytes) -> Analysis:
        analysis = self.analyzer.analyze(data)
        released = np.broadcast_to(np.zeros((), analysis.image.dtype), analysis.image.shape)
        return replace(analysis, image=released)

    async def analyze_clip(self, data: bytes) -> People:
        """The people of a clip (recognition.video.analyze_clip under the video limits), each
        with their best frame, their box drawn, as JPEG."""
        return await self.inference.run(self._analyze_clip_sync, data)

    def _analyze_clip_sync(self, data: bytes) -> People:
        clip = analyze_clip(self.analyzer, data, self.video_limits)
        people = []
        for number, p in enumerate(clip.people, start=1):
            face = replace(p.best_face, index=number)
            people.append(
                Person(
                    index=number,
                    face=face,
                    crop_jpeg=encode_jpeg(face.crop, quality=92),
                    embedding=p.embedding,
                    fused=p.fused,
                    seen_in=p.frames,
                    frame_jpeg=draw_numbered_boxes(p.best_frame, [face]),
                    time_s=p.best_time_s,
                )
            )
        return People(people, clip.sha256, clip.people_left_out, dict(clip.timings_ms))

    # --- pictures -------------------------------------------------------------------------
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


def _side_by_side(
    query_crop: np.ndarray | bytes, reference_jpeg: bytes | None, labels: tuple[str, str]
) -> bytes:
    query = decode_jpeg(query_crop) if isinstance(query_crop, bytes) else query_crop
    return side_by_side(query, reference_jpeg, *labels)
