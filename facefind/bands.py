"""Bands that follow the gallery: thresholds derived from a model's calibration and the number
of enrolled identities, and what a candidate's score means for a gallery of that size."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from facefind.settings import FALLBACK_THRESHOLDS, Settings, Thresholds

logger = logging.getLogger(__name__)


class GallerySizeLike(Protocol):
    @property
    def by_references(self) -> Mapping[int, int]: ...
    @property
    def identities(self) -> int: ...


class CalibrationLike(Protocol):
    """What facefind.calibration.Calibration offers the bands (see docs/calibration.md)."""

    model: str

    def false_candidate_rate(self, similarity: float, size: Any) -> float: ...


@dataclass(frozen=True)
class Bands:
    """The bands in force for one gallery size, and the meaning of a score under them."""

    thresholds: Thresholds
    identities: int
    by_references: dict[int, int]
    source: str  # 'calibrated' | 'fixed' | 'uncalibrated'
    possible_target: float | None = None
    strong_target: float | None = None
    capacity: int | None = None  # identities the model serves at the targets (calibrated)
    calibration: CalibrationLike | None = field(default=None, repr=False, compare=False)
    size: Any = field(default=None, repr=False, compare=False)

    @property
    def over_capacity(self) -> bool:
        return self.capacity is not None and self.identities > self.capacity

    def false_candidate_rate(self, similarity: float) -> float | None:
        """Expected share of people NOT enrolled who would score this high against at least one
        identity of this gallery; None without a calibration."""
        if self.calibration is None or self.identities == 0:
            return None
        return float(self.calibration.false_candidate_rate(similarity, self.size))

    def as_dict(self) -> dict[str, Any]:
        return {
            "strong": round(self.thresholds.strong, 4),
            "possible": round(self.thresholds.possible, 4),
            "identities": self.identities,
            "source": self.source,
            "possible_target": self.possible_target,
            "strong_target": self.strong_target,
            "capacity": self.capacity,
        }


class BandPolicy:
    """Derives the bands for a gallery size: fixed thresholds when the operator set them, else
    from the model's calibration and the target rates, else the fallback values."""

    def __init__(self, settings: Settings, calibration: Any | None, model: str) -> None:
        from facefind.calibration import capacity

        self.settings = settings
        if calibration is not None and settings.relatives_prevalence is not None:
            # the people searched are not LFW's families of public figures unless the operator
            # says so (docs/calibration.md: look-alike relatives)
            calibration = dataclasses.replace(calibration, relatives=settings.relatives_prevalence)
        self.calibration = calibration
        self.model = model
        self.capacity = (
            capacity(calibration, settings.possible_target, settings.strong_target)
            if calibration is not None
            else None
        )
        if calibration is None and not settings.fixed_thresholds:
            logger.warning(
                "no calibration for model pack %s: using the fallback thresholds %.2f / %.2f; "
                "run `facefind eval DIR --calibrate` on labelled photos (docs/calibration.md)",
                model,
                *FALLBACK_THRESHOLDS,
            )

    def bands_for(self, by_references: Mapping[int, int]) -> Bands:
        from facefind.calibration import GallerySize, bands_for

        refs = {int(k): int(v) for k, v in by_references.items() if v}
        size = GallerySize(by_references=refs)
        s = self.settings
        common: dict[str, Any] = {
            "identities": size.identities,
            "by_references": refs,
            "calibration": self.calibration,
            "size": size,
        }
        if self.calibration is not None:
            common |= {
                "possible_target": s.possible_target,
                "strong_target": s.strong_target,
                "capacity": self.capacity,
            }
        if self.calibration is None:
            derived, source = Thresholds(*FALLBACK_THRESHOLDS), "uncalibrated"
        else:
            strong, possible = bands_for(self.calibration, size, s.possible_target, s.strong_target)
            derived, source = (
                Thresholds(strong=max(strong, possible), possible=possible),
                ("calibrated"),
            )
        if s.fixed_thresholds:
            source = "fixed"
        return Bands(thresholds=s.with_overrides(derived), source=source, **common)


def one_in(rate: float) -> int:
    """'about 1 in N': N to two significant figures (1 in 20,000 rather than 1 in 19,873)."""
    n = 1.0 / rate
    if n < 100:
        return max(1, round(n))
    return int(round(n, 2 - len(str(int(n)))))
