"""The models on the inference pool: faces and their crops from a photo, and the pictures the
front ends show, computed off the event loop."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from facefind.errors import UnknownIdentity
from facefind.runtime.inference import InferencePool
from gallery import Gallery
from recognition import Analysis, Limits
from recognition.pipeline import FaceAnalyzer
from recognition.render import decode_jpeg, draw_numbered_boxes, encode_jpeg, side_by_side


class PoolAnalyzer:
    """The loaded FaceAnalyzer, run on the bounded inference pool; one per process."""

    def __init__(self, analyzer: FaceAnalyzer, inference: InferencePool, gallery: Gallery) -> None:
        self.analyzer = analyzer
        self.inference = inference
        self.gallery = gallery  # the reference faces' pictures
        self.model = analyzer.model_name

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
