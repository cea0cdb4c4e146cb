"""The bands in force: those of the gallery's size now, read again when this process changed the
gallery and at most every BANDS_MAX_AGE_S for changes made by another process."""

from __future__ import annotations

import logging
import time

from facefind.runtime.settings import Thresholds
from facefind.scoring.bands import BandPolicy, Bands
from gallery import Gallery

logger = logging.getLogger(__name__)

# Another process (the CLI beside the bot) may enroll or forget: the gallery's size is read
# again at most this often; changes made by this process apply at once.
BANDS_MAX_AGE_S = 30.0


class BandsInForce:
    """The band policy applied to the gallery's current size, for one model pack."""

    def __init__(self, gallery: Gallery, policy: BandPolicy, model: str) -> None:
        self.gallery = gallery
        self.policy = policy
        self.model = model
        self._bands: Bands | None = None
        self._read_at = 0.0

    async def current(self) -> Bands:
        """The bands for the gallery's size now (thresholds rise as the gallery grows)."""
        age = time.monotonic() - self._read_at
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
            self._read_at = time.monotonic()
        return self._bands

    async def thresholds(self) -> Thresholds:
        return (await self.current()).thresholds

    def gallery_changed(self) -> None:
        """This process enrolled or forgot: read the gallery's size again before the next use."""
        self._read_at = 0.0
