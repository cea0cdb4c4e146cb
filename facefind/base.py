"""What every part of the service shares: the models, the gallery and the inference pool."""

from __future__ import annotations

from facefind.inference import InferencePool
from facefind.settings import Thresholds
from gallery import Gallery
from recognition import Analysis, Limits
from recognition.pipeline import FaceAnalyzer
from recognition.render import encode_jpeg

# How many identities each face's search returns before joint assignment trims to the top 3:
# a face that loses an identity to another face still has its next candidates.
SEARCH_DEPTH = 10


class ServiceBase:
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

    async def analyze(self, data: bytes) -> tuple[Analysis, list[bytes]]:
        """Faces in the photo and their aligned crops as JPEG, computed off the event loop."""
        return await self.inference.run(self._analyze_sync, data)

    def _analyze_sync(self, data: bytes) -> tuple[Analysis, list[bytes]]:
        analysis = self.analyzer.analyze(data)
        return analysis, [encode_jpeg(f.crop, quality=92) for f in analysis.faces]
