"""What every part of the service shares: the models, the gallery, the inference pool, and the
bands in force for the gallery's current size."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from facefind.bands import BandPolicy, Bands
from facefind.inference import InferencePool
from facefind.settings import Thresholds
from gallery import Gallery
from recognition import Analysis, Limits
from recognition.pipeline import FaceAnalyzer
from recognition.render import draw_numbered_boxes, encode_jpeg

logger = logging.getLogger(__name__)

# How many identities each face's search returns before joint assignment trims to the top 3:
# a face that loses an identity to another face still has its next candidates.
SEARCH_DEPTH = 10
# Another process (the CLI beside the bot) may enroll or forget: the gallery's size is read
# again at most this often; changes made by this process apply at once.
BANDS_MAX_AGE_S = 30.0


class ServiceBase:
    """Identify and enroll faces. One instance per process, shared by all requests."""

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        gallery: Gallery,
        policy: BandPolicy,
        inference: InferencePool,
        *,
        candidates_per_face: int = 3,
    ) -> None:
        self.analyzer = analyzer
        self.gallery = gallery
        self.policy = policy
        self.inference = inference
        self.candidates_per_face = candidates_per_face
        self.model = analyzer.model_name
        self._bands: Bands | None = None
        self._bands_read_at = 0.0
        self.dsn: str | None = None  # set by FaceFind.open: the task queue connects with it
        # set by FaceFind.open: the embedded server's data, when this process started it
        self.embedded: Path | None = None

    @property
    def limits(self) -> Limits:
        return self.analyzer.limits

    async def current_bands(self) -> Bands:
        """The bands for the gallery's size now (thresholds rise as the gallery grows)."""
        age = time.monotonic() - self._bands_read_at
        if self._bands is None or age > BANDS_MAX_AGE_S:
            by_refs = await self.gallery.templates.gallery_size(self.model)
            bands = self.policy.bands_for(by_refs)
            if self._bands is None or bands.thresholds != self._bands.thresholds:
                # once at start for the operator; as the gallery grows, for debugging only
                logger.log(
                    logging.INFO if self._bands is None else logging.DEBUG,
                    "bands for %d identities: strong %.3f, possible %.3f (%s)",
                    bands.identities,
                    bands.thresholds.strong,
                    bands.thresholds.possible,
                    bands.source,
                )
                if bands.over_capacity and not (self._bands and self._bands.over_capacity):
                    logger.warning(
                        "the gallery holds %d identities, more than model pack %s serves at the "
                        "target rates (about %d): fewer enrolled people will be found; consider "
                        "a larger model pack (FACEFIND_MODEL_DIR, docs/calibration.md)",
                        bands.identities,
                        self.model,
                        bands.capacity,
                    )
            self._bands = bands
            self._bands_read_at = time.monotonic()
        return self._bands

    async def current_thresholds(self) -> Thresholds:
        return (await self.current_bands()).thresholds

    def gallery_changed(self) -> None:
        """This process enrolled or forgot: read the gallery's size again before the next use."""
        self._bands_read_at = 0.0

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
