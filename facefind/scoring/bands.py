"""Bands that follow the gallery: thresholds derived from a model's calibration and the number
of enrolled identities, and what a candidate's score means for a gallery of that size."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from facefind.runtime.settings import FALLBACK_THRESHOLDS, Settings, Thresholds

logger = logging.getLogger(__name__)


class GallerySizeLike(Protocol):
    @property
    def by_references(self) -> Mapping[int, int]: ...
    @property
    def identities(self) -> int: ...


class CalibrationLike(Protocol):
    """What facefind.scoring.calibration.Calibration offers the bands (see docs/calibration.md)."""

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
        from facefind.scoring.calibration import capacity

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
        # the crossing of a fixed threshold by a derived band, last reported (see _report)
        self._crossed: str | None = None
        self._warn_of_crossings()

    def derived(self, by_references: Mapping[int, int]) -> tuple[Thresholds, str]:
        """The thresholds the calibration (else the fallback values) gives this gallery, before
        the operator's fixed values, and their source."""
        from facefind.scoring.calibration import GallerySize, bands_for

        if self.calibration is None:
            return Thresholds(*FALLBACK_THRESHOLDS), "uncalibrated"
        size = GallerySize(by_references={int(k): int(v) for k, v in by_references.items() if v})
        s = self.settings
        strong, possible = bands_for(self.calibration, size, s.possible_target, s.strong_target)
        return Thresholds(strong=max(strong, possible), possible=possible), "calibrated"

    def bands_for(self, by_references: Mapping[int, int]) -> Bands:
        from facefind.scoring.calibration import GallerySize

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
        derived, source = self.derived(refs)
        if s.fixed_thresholds:
            source = "fixed"
        thresholds = s.with_overrides(derived)
        bands = Bands(thresholds=thresholds, source=source, **common)
        self._report(derived, bands)
        return bands

    # --- a fixed threshold that a derived band crosses --------------------------------------
    def _crossing(self, derived: Thresholds) -> str | None:
        """Which fixed threshold the derived band on its other side crosses, if one does."""
        s = self.settings
        if s.strong_threshold is not None and s.possible_threshold is not None:
            return None  # both fixed: checked against each other when the settings are read
        if s.strong_threshold is not None and derived.possible > s.strong_threshold:
            return "strong"
        if s.possible_threshold is not None and derived.strong < s.possible_threshold:
            return "possible"
        return None

    def _report(self, derived: Thresholds, bands: Bands) -> None:
        """Warn when a derived band starts crossing a fixed threshold (once per change, not
        per lookup: the bands are derived again only when the gallery's size changes)."""
        crossed = self._crossing(derived)
        if crossed == self._crossed:
            return
        self._crossed = crossed
        s, t = self.settings, bands.thresholds
        if crossed == "strong":
            rate = bands.false_candidate_rate(t.strong)
            logger.warning(
                "FACEFIND_STRONG_THRESHOLD %.3f is below the possible band %.3f derived for %d "
                "identities: possible is held at %.3f, so every candidate shown is strong%s; "
                "raise FACEFIND_STRONG_THRESHOLD or set FACEFIND_POSSIBLE_THRESHOLD as well",
                t.strong,
                derived.possible,
                bands.identities,
                t.possible,
                _rate_clause(rate, s.possible_target),
            )
        elif crossed == "possible":
            logger.warning(
                "FACEFIND_POSSIBLE_THRESHOLD %.3f is above the strong band %.3f derived for %d "
                "identities: strong is raised to %.3f, so every candidate shown is strong",
                t.possible,
                derived.strong,
                bands.identities,
                t.strong,
            )
        else:
            logger.info(
                "the derived bands for %d identities no longer cross the fixed threshold: "
                "strong %.3f, possible %.3f",
                bands.identities,
                t.strong,
                t.possible,
            )

    def _warn_of_crossings(self) -> None:
        """At start: the gallery sizes at which a derived band will cross the one fixed
        threshold (up to the model's capacity and beyond), so the operator learns it before."""
        s = self.settings
        if s.fixed_thresholds and self.calibration is None:
            if self._crossing(Thresholds(*FALLBACK_THRESHOLDS)):
                logger.warning(
                    "the fixed threshold crosses the fallback band %.2f / %.2f: it wins, and "
                    "the other band is held at it",
                    *FALLBACK_THRESHOLDS,
                )
            return
        if not s.fixed_thresholds or self.calibration is None:
            return
        limit = max(self.capacity or 0, CROSSING_CHECK_LIMIT)
        where = []
        for refs in sorted({1, max(self.calibration.curves)}):

            def crosses(n: int, refs: int = refs) -> bool:
                return self._crossing(self.derived({refs: n})[0]) is not None

            sizes = _crossing_sizes(crosses, limit)
            if sizes is not None:
                low, high = sizes
                if low == 1 and high == limit:
                    span = "of any number of"
                else:
                    span = f"from {low:,}" if high == limit else f"up to {high:,}"
                where.append(f"{span} identities with {refs} reference(s) each")
        if not where:
            return
        capacity = f" (the model serves about {self.capacity:,})" if self.capacity else ""
        if s.strong_threshold is not None:
            logger.warning(
                "FACEFIND_STRONG_THRESHOLD %.3f is below the possible band the calibration "
                "derives for galleries %s%s: there possible is held at %.3f and every candidate "
                "shown is strong, with more false candidates than the possible target",
                s.strong_threshold,
                ", ".join(where),
                capacity,
                s.strong_threshold,
            )
        else:
            logger.warning(
                "FACEFIND_POSSIBLE_THRESHOLD %.3f is above the strong band the calibration "
                "derives for galleries %s%s: there strong is raised to it and every candidate "
                "shown is strong",
                s.possible_threshold,
                ", ".join(where),
                capacity,
            )


# The start-up check looks at galleries up to this size, or the model's capacity if larger.
CROSSING_CHECK_LIMIT = 10**9


def _crossing_sizes(crosses: Callable[[int], bool], limit: int) -> tuple[int, int] | None:
    """The range of gallery sizes in [1, limit] where `crosses` holds, given that it holds on
    one end of the range only (the derived bands rise with the gallery); None when nowhere."""
    first, last = crosses(1), crosses(limit)
    if first and last:
        return 1, limit
    if not first and not last:
        return None
    lo, hi = 1, limit  # crosses(lo) == first, crosses(hi) == last
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if crosses(mid) == first:
            lo = mid
        else:
            hi = mid
    return (1, lo) if first else (hi, limit)


def _rate_clause(rate: float | None, target: float) -> str:
    if rate is None:
        return ""
    return f" (the false-candidate rate there is {rate:.2%}, the possible target {target:.2%})"


def one_in(rate: float) -> int:
    """'about 1 in N': N to two significant figures (1 in 20,000 rather than 1 in 19,873)."""
    n = 1.0 / rate
    if n < 100:
        return max(1, round(n))
    return int(round(n, 2 - len(str(int(n)))))


# Rates below this are beyond what any calibration can vouch for (the shipped one measured 45
# million impostor comparisons; the rates beyond come from its tail model): "fewer than 1 in a
# billion", never "1 in 650,000,000,000,000".
RARE_RATE = 1e-9
# The one wording of a candidate's rate, in English: the CLI prints it, the bot's texts use it
# for English and translate it (bot/texts/officer.py: candidate_rate, candidate_rate_rare).
RARITY_ABOUT = (
    "About 1 in {n} people who are not in the gallery would score this high against its "
    "{identities} identities."
)
RARITY_FEWER = (
    "Fewer than 1 in {n} people who are not in the gallery would score this high against its "
    "{identities} identities."
)


@dataclass(frozen=True)
class Rarity:
    """A false-candidate rate as people read it: 'about 1 in n', or 'fewer than 1 in n' for a
    rate below what a calibration can vouch for."""

    n: int
    fewer_than: bool


def rarity(rate: float) -> Rarity:
    """How rare a score this high is among people not enrolled: the one place the number is
    rounded and capped, for the bot and the CLI alike."""
    if rate < RARE_RATE:
        return Rarity(round(1 / RARE_RATE), fewer_than=True)
    return Rarity(one_in(rate), fewer_than=False)


def rarity_text(
    rate: float | None,
    identities: int | None,
    *,
    about: str = RARITY_ABOUT,
    fewer: str = RARITY_FEWER,
    number: Callable[[int], str] = "{:,}".format,
) -> str | None:
    """The sentence for a candidate's rate: `about` or `fewer` (English by default; templates
    with {n} and {identities}), numbers written by `number`. None without a calibration or
    for an empty gallery: no number is made up."""
    if rate is None or identities is None or identities <= 0:
        return None
    r = rarity(rate)
    return (fewer if r.fewer_than else about).format(n=number(r.n), identities=number(identities))
