"""Per-model score calibration: false match rates, the bands that follow the gallery's size (its
files: facefind.scoring.calibration_files)."""

from __future__ import annotations

import bisect
import functools
import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)

# Identities are calibrated for 1, 2 and "3 or more" references: a fourth reference changes the
# fused score's distributions little, and few labelled people have enough photos to measure it.
MAX_REFERENCES = 3
# The default targets: the share of people who are NOT enrolled that get any candidate.
POSSIBLE_TARGET = 0.005
STRONG_TARGET = 0.0005
# capacity(): the gallery is too large once fewer than this share of enrolled people's photos
# (one reference each) reach `possible`.
MIN_FOUND = 0.90
# The threshold search evaluates the rate on the curves' own similarities, the tails' starts and
# this uniform grid over [-1, 1], then refines within one cell (see _threshold).
SEARCH_GRID_STEP = 1 / 1024
# `strong` is never below the score this share of enrolled people's photos reach with one
# reference: a strong label should mean a match as good as most true ones. For buffalo_s on LFW
# that is 0.556, above which most of LFW's twins and siblings stay `possible` (docs/calibration.md).
STRONG_FOUND = 0.70


@dataclass(frozen=True)
class GallerySize:
    """Active identities by their number of references: {1: n1, 2: n2, 3: n3 or more}."""

    by_references: Mapping[int, int]

    def __post_init__(self) -> None:
        for refs, count in self.by_references.items():
            if refs < 1 or count < 0:
                raise ValueError(f"bad gallery size entry {refs}: {count}")

    @classmethod
    def single(cls, identities: int) -> GallerySize:
        """A gallery of identities with one reference each."""
        return cls({1: identities})

    @property
    def identities(self) -> int:
        return sum(self.by_references.values())

    def scaled(self, factor: float) -> dict[int, float]:
        return {k: n * factor for k, n in self.by_references.items() if n > 0}


@dataclass(frozen=True)
class Tail:
    """The impostor tail above `start`: strangers (an exponential) plus look-alike relatives.

    FMR(s) = strangers_rate * exp(-(s - start) / strangers_scale) + relatives * found(s)
    Relatives (twins, siblings) score like the person does, so their part follows the genuine
    curve `found(s)` for the same number of references, scaled by their prevalence per
    comparison. At `start` the two parts add up to the measured rate.
    """

    start: float
    strangers_rate: float
    strangers_scale: float
    exceedances: int  # impostor comparisons at or above `start` that the fit used


@dataclass(frozen=True)
class Curves:
    """Measured curves for identities with one number of references, on ascending grids."""

    references: int
    comparisons: int  # impostor comparisons measured
    fmr_similarity: tuple[float, ...]  # up to tail.start
    fmr: tuple[float, ...]  # share of impostor comparisons >= similarity
    tail: Tail
    probes: int  # genuine probe photos measured
    people: int
    found_similarity: tuple[float, ...]
    found: tuple[float, ...]  # weighted share of genuine probes whose own identity >= similarity

    def found_at(self, similarity: float) -> float:
        """NaN when the calibration holds no genuine curve (one made from tables alone)."""
        if not self.found:
            return math.nan
        return _interpolate(self.found_similarity, self.found, similarity, log=False)


@dataclass(frozen=True)
class Calibration:
    """Score distributions of one model pack and recipe, measured on labelled photos."""

    model: str
    recognizer_sha256: str
    recipe: str
    fusion: str
    source: str
    created: str
    floor: float  # lowest `possible` band (see bands_for)
    relatives: float  # prevalence of look-alike relatives per impostor comparison
    curves: Mapping[int, Curves]
    detector_sha256: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def _key(self, references: int) -> int:
        """The curves an identity with that many references is scored with."""
        key = max(1, min(int(references), max(self.curves)))
        while key not in self.curves:
            key -= 1
        return key

    def _curves(self, references: int) -> Curves:
        return self.curves[self._key(references)]

    def fmr(self, similarity: float, references: int = 1) -> float:
        """Share of impostor comparisons with an identity of that many references (3: 3 or
        more) that score >= similarity: the measured curve (log-interpolated), and above the
        tail's start the fitted tail model."""
        c = self._curves(references)
        if similarity < c.tail.start:
            return _interpolate(c.fmr_similarity, c.fmr, similarity, log=True)
        t = c.tail
        strangers = t.strangers_rate * math.exp(-(similarity - t.start) / t.strangers_scale)
        relatives = self.relatives * c.found_at(similarity) if self.relatives else 0.0
        return min(1.0, strangers + relatives)

    def false_candidate_rate(self, similarity: float, size: GallerySize) -> float:
        """Chance that a person who is not enrolled scores >= similarity against at least one
        identity of the gallery: 1 - prod_k (1 - fmr(s, k)) ** n_k."""
        return _false_candidate_rate(self, similarity, size.scaled(1.0))

    def threshold_for(self, target: float, size: GallerySize) -> float:
        """The lowest similarity whose false-candidate rate is <= target (1.0 when none)."""
        return _threshold(self, target, size.scaled(1.0))

    def found_rate(self, threshold: float, references: int = 1) -> float:
        """Measured share of photos of enrolled people whose own identity scores >= threshold
        (NaN without genuine curves)."""
        return self._curves(references).found_at(threshold)

    @property
    def strong_floor(self) -> float:
        """The lowest `strong` band: the score STRONG_FOUND of enrolled people's photos reach
        with one reference (0 without genuine curves)."""
        c = self._curves(1)
        if not c.found or c.found[0] < STRONG_FOUND:
            return 0.0
        # found falls with the similarity: the last grid point still at or above the share,
        # then linear to the next one
        xs, ys = c.found_similarity, c.found
        i = max(j for j, y in enumerate(ys) if y >= STRONG_FOUND)
        if i == len(xs) - 1:
            return xs[-1]
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
        return x0 + (x1 - x0) * (y0 - STRONG_FOUND) / (y0 - y1) if y0 != y1 else x0

    @functools.cached_property
    def _search_table(self) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """The threshold search's grid and log(1 - fmr) on it per number of references (-inf
        where fmr is 1): the same for every gallery size, so it is computed once."""
        points = set(np.linspace(-1.0, 1.0, round(2 / SEARCH_GRID_STEP) + 1).tolist())
        for c in self.curves.values():
            points.update(c.fmr_similarity)
            points.update(c.found_similarity)
            # The rate may jump at the tail's start (relatives above the calibration's own):
            # both sides of the jump are grid points, so no cell holds it.
            points.update((c.tail.start, math.nextafter(c.tail.start, -math.inf)))
        grid = np.array(sorted(p for p in points if -1.0 <= p <= 1.0))
        logs = {}
        for refs in self.curves:
            fmr = np.array([self.fmr(float(s), refs) for s in grid])
            with np.errstate(divide="ignore"):
                logs[refs] = np.where(fmr >= 1.0, -np.inf, np.log1p(-np.minimum(fmr, 1.0)))
        return grid, logs

    @classmethod
    def from_tables(
        cls,
        *,
        model: str,
        recognizer_sha256: str,
        recipe: str,
        fusion: str,
        source: str,
        grid: Sequence[float],
        fmr: Mapping[int, Sequence[float]],
        found: Mapping[int, Sequence[float]] | None = None,
        floor: float = 0.30,
    ) -> Calibration:
        """A calibration from plain tables on one ascending grid (tests, hand-made files):
        beyond the grid the last segment's slope (in log FMR) continues; no relatives' term."""
        curves: dict[int, Curves] = {}
        xs = ascending(grid)
        for refs, values in fmr.items():
            ys = tuple(float(v) for v in values)
            if len(ys) != len(xs) or len(xs) < 2:
                raise ValueError("each FMR table needs one value per grid point (two or more)")
            scale = (xs[-1] - xs[-2]) / math.log(ys[-2] / ys[-1])
            genuine = tuple(float(v) for v in (found or {}).get(refs, ()))
            curves[int(refs)] = Curves(
                references=int(refs),
                comparisons=0,
                fmr_similarity=xs,
                fmr=ys,
                tail=Tail(
                    start=xs[-1], strangers_rate=ys[-1], strangers_scale=scale, exceedances=0
                ),
                probes=0,
                people=0,
                found_similarity=xs if genuine else (),
                found=genuine,
            )
        return cls(
            model=model,
            recognizer_sha256=recognizer_sha256,
            recipe=recipe,
            fusion=fusion,
            source=source,
            created="",
            floor=floor,
            relatives=0.0,
            curves=curves,
        )


def _false_candidate_rate(
    cal: Calibration, similarity: float, counts: Mapping[int, float]
) -> float:
    log_miss = 0.0
    for refs, n in counts.items():
        f = cal.fmr(similarity, refs)
        if f >= 1.0:
            return 1.0
        log_miss += n * math.log1p(-f)
    return -math.expm1(log_miss)


def _threshold(cal: Calibration, target: float, counts: Mapping[int, float]) -> float:
    """The lowest similarity s whose false-candidate rate, and that of every score above it, is
    at most `target` (1.0 when even 1.0 is over it).

    The rate is not monotone everywhere: with more look-alike relatives than the calibration
    measured, the tail's model starts above the measured curve, and the rate jumps up at the
    tail's start; a bisection could stop below that jump, at a score whose neighbours above miss
    the target. So the rate is evaluated on a grid that holds every point where a curve bends or
    jumps (between two of them it does not rise), and the crossing above the last grid point
    over the target is refined by bisection within its cell.
    """
    if not 0 < target < 1:
        raise ValueError(f"target must be between 0 and 1, got {target}")
    counts = {k: n for k, n in counts.items() if n > 0} or {1: 1.0}
    grid, logs = cal._search_table
    log_miss = np.zeros_like(grid)
    for refs, n in counts.items():
        log_miss = log_miss + n * logs[cal._key(refs)]
    over = np.flatnonzero(-np.expm1(log_miss) > target)
    if over.size == 0:
        return float(grid[0])
    j = int(over[-1])
    # the grid's arithmetic may differ from the exact rate's in the last bit: step up to the
    # first grid point the exact rate accepts
    while j + 1 < len(grid) and _false_candidate_rate(cal, float(grid[j + 1]), counts) > target:
        j += 1
    if j + 1 >= len(grid):
        return 1.0
    lo, hi = float(grid[j]), float(grid[j + 1])
    for _ in range(40):  # the cell is at most 1/1024 wide: far below the bands' precision
        mid = (lo + hi) / 2
        if _false_candidate_rate(cal, mid, counts) <= target:
            hi = mid
        else:
            lo = mid
    return hi


def bands_for(
    cal: Calibration,
    size: GallerySize,
    possible_target: float = POSSIBLE_TARGET,
    strong_target: float = STRONG_TARGET,
    floor: float | None = None,
) -> tuple[float, float]:
    """(strong, possible) for this gallery: the lowest similarities at which at most
    `strong_target` / `possible_target` of people not enrolled get a candidate.

    `possible` never goes below `floor` (default: the calibration's, the similarity at which
    99% of enrolled people's photos already score, so a lower band finds almost no one more);
    `strong` never below the calibration's `strong_floor`.
    A gallery so small that the math would go lower gets the bands of the smallest gallery of
    the same make-up whose `possible` is the floor: strong stays above possible by as much.
    """
    if not 0 < strong_target <= possible_target < 1:
        raise ValueError("targets must satisfy 0 < strong_target <= possible_target < 1")
    floor = cal.floor if floor is None else floor
    counts = size.scaled(1.0) or {1: 1.0}
    possible = _threshold(cal, possible_target, counts)
    if possible < floor:
        # The rate at the floor is 1 - exp(sum n_k log(1 - fmr_k)): the gallery (same make-up)
        # that meets the target exactly at the floor is this one times `factor`.
        log_miss = sum(n * math.log1p(-cal.fmr(floor, k)) for k, n in counts.items())
        factor = math.log1p(-possible_target) / log_miss if log_miss < 0 else 1.0
        counts = _scale(counts, max(1.0, factor))
        possible = floor
    strong = max(possible, _threshold(cal, strong_target, counts), cal.strong_floor)
    return strong, possible


def _scale(counts: Mapping[int, float], factor: float) -> dict[int, float]:
    return {k: n * factor for k, n in counts.items()}


def capacity(
    cal: Calibration,
    possible_target: float = POSSIBLE_TARGET,
    strong_target: float = STRONG_TARGET,
    min_found: float = MIN_FOUND,
    references: int = 1,
) -> int | None:
    """The largest number of identities (with `references` references each) at which at least
    `min_found` of enrolled people's photos still reach `possible`; 0 when not even one does,
    None when the calibration holds no found rates."""
    if not cal._curves(references).found:
        return None

    def enough(n: int) -> bool:
        size = GallerySize({references: n})
        _, possible = bands_for(cal, size, possible_target, strong_target)
        return cal.found_rate(possible, references) >= min_found

    if not enough(1):
        return 0
    lo, hi = 1, 2
    while enough(hi):
        if hi >= 10**12:
            return hi
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if enough(mid):
            lo = mid
        else:
            hi = mid
    return lo


# --- files ------------------------------------------------------------------------------------
# --- helpers ----------------------------------------------------------------------------------
def ascending(values: Sequence[float]) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise ValueError("similarity grid must be strictly ascending")
    if not out:
        raise ValueError("empty similarity grid")
    return out


def _interpolate(xs: Sequence[float], ys: Sequence[float], x: float, *, log: bool) -> float:
    """ys at x, linear between grid points (in log ys when `log`), flat beyond the ends."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    t = (x - x0) / (x1 - x0)
    if log and y0 > 0 and y1 > 0:
        return math.exp(math.log(y0) + t * (math.log(y1) - math.log(y0)))
    return y0 + t * (y1 - y0)
