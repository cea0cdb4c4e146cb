"""Measure a calibration from labelled embeddings: impostor and genuine curves, the tail fit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from facefind.scoring.calibration import MAX_REFERENCES, Calibration, Curves, Tail

# The ways to score an identity from its best face and its template that bench/calibrate.py
# compares: those the gallery offers (gallery.search.fuse) and two weighted mixes.
FUSIONS = ("best", "template", "max", "mean", "mix25", "mix75")
_MIX_WEIGHT = {"mean": 0.5, "mix25": 0.25, "mix75": 0.75}  # weight of the best face

# Impostor scores are counted in bins this wide: all cross-identity pairs of LFW are 45 million.
BIN = 0.0005
_EDGES = np.linspace(-1.0, 1.0, round(2.0 / BIN) + 1)
# The stored curves' grid. The tail model takes over at a grid point.
GRID_STEP = 0.005
FMR_GRID_FROM = -0.5
# Genuine probes: each person counts at most this many photos' worth, so that a few people with
# hundreds of photos (George W Bush has 530 in LFW DevTrain) do not make the found rates theirs.
PERSON_CAP = 10
# Random reference sets per person for 2 and 3 references (one reference: every photo in turn).
DRAWS = 20
# `possible` never goes below the similarity that this share of enrolled people's photos (one
# reference) already reach: lower, a band finds almost no one more and only adds strangers.
FLOOR_FOUND = 0.99
# The tail fit starts where this many impostor comparisons lie above: 1,000, or on fewer
# comparisons TAIL_RATE of them (so the fit starts about as deep in the tail), never under 100.
TAIL_EXCEEDANCES = 1000
TAIL_RATE = 2.5e-5
TAIL_MIN_EXCEEDANCES = 100


@dataclass
class ImpostorCounts:
    """Impostor scores in fixed bins over [-1, 1]: how many comparisons (events) and their
    weight. Each pair of people weighs 1 in all, shared by their photo pairs, so that the rate
    is the one for a person against an identity: counting photo pairs alone would let people
    with hundreds of photos make the impostor distribution theirs, and dilute relatives."""

    events: np.ndarray = field(default_factory=lambda: np.zeros(len(_EDGES) - 1, np.int64))
    weight: np.ndarray = field(default_factory=lambda: np.zeros(len(_EDGES) - 1, np.float64))

    def add(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        clipped = np.clip(np.asarray(values, dtype=np.float64).ravel(), -1.0, 1.0 - 1e-12)
        bins = ((clipped + 1.0) / BIN).astype(np.int64)
        self.events += np.bincount(bins, minlength=len(self.events))
        w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
        self.weight += np.bincount(bins, weights=w, minlength=len(self.weight))

    @property
    def comparisons(self) -> int:
        return int(self.events.sum())

    @property
    def total(self) -> float:
        """The total weight: the number of pairs of people compared."""
        return float(self.weight.sum())

    def _first_bin(self, similarity: float) -> int:
        return max(0, math.floor((similarity + 1.0) / BIN + 1e-9))

    def events_at_or_above(self, similarity: float) -> int:
        """Comparisons in the bins from the one holding `similarity` up (bin-edge exact)."""
        return int(self.events[self._first_bin(similarity) :].sum())

    def rate_at_or_above(self, similarity: float) -> float:
        """The weighted share of comparisons scoring `similarity` or more: the measured FMR."""
        return float(self.weight[self._first_bin(similarity) :].sum()) / self.total


@dataclass
class ReferenceScores:
    """Scores for identities of one number of references under one fusion."""

    references: int
    impostor: ImpostorCounts
    genuine: np.ndarray  # fused score of each (probe, reference set)
    weights: np.ndarray  # the weight of each genuine score (see PERSON_CAP)
    probes: int
    people: int


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def fused(best: np.ndarray, template: np.ndarray, fusion: str) -> np.ndarray:
    """gallery.search.fuse for arrays (mix25 / mix75: 0.25 / 0.75 x best + the rest x template)."""
    if fusion == "best":
        return best
    if fusion == "template":
        return template
    if fusion == "max":
        return np.maximum(best, template)
    weight = _MIX_WEIGHT.get(fusion)
    if weight is None:
        raise ValueError(f"unknown fusion {fusion!r}; expected one of {', '.join(FUSIONS)}")
    return weight * best + (1.0 - weight) * template


def _identity_scores(probes: np.ndarray, refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best-face and template similarities of probes (B, d) to identities refs (I, k, d)."""
    n_ids, k, dim = refs.shape
    best = (probes @ refs.reshape(-1, dim).T).reshape(len(probes), n_ids, k).max(axis=2)
    template = probes @ unit_rows(refs.sum(axis=1)).T
    return best, template


def all_pair_impostors(
    vectors: np.ndarray, labels: np.ndarray, block: int = 1024
) -> ImpostorCounts:
    """Every cross-identity photo pair once, each pair of people weighing 1 in all: the
    one-reference impostor distribution."""
    v = unit_rows(vectors)
    counts = ImpostorCounts()
    n = len(v)
    per_photo = 1.0 / np.bincount(labels)[labels]  # 1 / (photos of this photo's person)
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        sims = v[rows] @ v[start:].T
        cols = np.arange(start, n)
        keep = (cols[None, :] > rows[:, None]) & (labels[rows][:, None] != labels[cols][None, :])
        weights = per_photo[rows][:, None] * per_photo[cols][None, :]
        counts.add(sims[keep], weights[keep])
    return counts


def _people(labels: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(labels, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    return {int(labels[g[0]]): g for g in groups if len(g)}


def _reference_sets(photos: np.ndarray, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Reference sets of one person: every photo for k = 1, else up to DRAWS distinct draws."""
    if k == 1:
        return [photos[i : i + 1] for i in range(len(photos))]
    possible = math.comb(len(photos), k)
    draws: list[np.ndarray] = []
    seen: set[tuple[int, ...]] = set()
    while len(draws) < min(DRAWS, possible):
        pick = tuple(sorted(rng.choice(photos, k, replace=False).tolist()))
        if pick not in seen:
            seen.add(pick)
            draws.append(np.array(pick))
    return draws


def score_references(
    vectors: np.ndarray,
    labels: np.ndarray,
    references: int,
    fusions: Sequence[str],
    *,
    seed: int = 0,
    impostors: ImpostorCounts | None = None,
) -> dict[str, ReferenceScores]:
    """Genuine and impostor scores for identities with `references` references.

    Genuine: each person with more photos than references, reference sets drawn from them and
    the rest as probes. Impostor: each person with enough photos enrolled with one set, scored
    against every photo of everyone else (or, for one reference, `impostors` when given: all
    pairs, which is the same comparison counted once).
    """
    v = unit_rows(vectors)
    rng = np.random.default_rng(seed + references)
    people = _people(labels)
    genuine: dict[str, list[np.ndarray]] = {f: [] for f in fusions}
    weights: list[np.ndarray] = []
    enrolled: list[np.ndarray] = []
    probes = people_measured = 0
    for photos in people.values():
        if len(photos) < references:
            continue
        sets = _reference_sets(photos, references, rng)
        enrolled.append(sets[0])
        if len(photos) <= references:
            continue
        people_measured += 1
        rest = len(photos) - references
        probes += rest
        for refs in sets:
            others = np.setdiff1d(photos, refs)
            best, template = _identity_scores(v[others], v[refs][None, :, :])
            for f in fusions:
                genuine[f].append(fused(best[:, 0], template[:, 0], f))
            weights.append(np.full(rest, min(rest, PERSON_CAP) / (len(sets) * rest)))
    counts = {f: ImpostorCounts() for f in fusions}
    if references == 1 and impostors is not None:
        counts = {f: impostors for f in fusions}
    elif enrolled:
        refs_all = np.stack([v[s] for s in enrolled])  # (I, k, d)
        owner = np.array([labels[s[0]] for s in enrolled])
        # Each identity against each other person weighs 1, shared by that person's photos.
        per_photo = 1.0 / np.bincount(labels)[labels]
        for start in range(0, len(v), 2048):
            block = slice(start, start + 2048)
            best, template = _identity_scores(v[block], refs_all)
            other = labels[block][:, None] != owner[None, :]
            pair_weight = np.broadcast_to(per_photo[block][:, None], other.shape)[other]
            for f in fusions:
                counts[f].add(fused(best, template, f)[other], pair_weight)
    w = np.concatenate(weights) if weights else np.zeros(0)
    return {
        f: ReferenceScores(
            references=references,
            impostor=counts[f],
            genuine=np.concatenate(genuine[f]) if genuine[f] else np.zeros(0),
            weights=w,
            probes=probes,
            people=people_measured,
        )
        for f in fusions
    }


# --- curves and the tail ------------------------------------------------------------------------
def found_curve(scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted share of genuine scores >= s on the grid from -0.5 to 1."""
    grid = np.round(np.arange(-0.5, 1.0 + GRID_STEP / 2, GRID_STEP), 4)
    if not len(scores):
        return grid, np.zeros(len(grid))
    order = np.argsort(scores)
    sorted_scores = scores[order]
    tail_weight = np.concatenate([np.cumsum(weights[order][::-1])[::-1], [0.0]])
    at = np.searchsorted(sorted_scores, grid, side="left")
    return grid, tail_weight[at] / weights.sum()


def _genuine_density(scores: np.ndarray, weights: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Weighted genuine score density at `at` (histogram of 0.01 bins)."""
    edges = np.linspace(-1.0, 1.0, 201)
    hist, _ = np.histogram(scores, edges, weights=weights)
    density = hist / max(weights.sum(), 1e-300) / 0.01
    return density[np.clip(((at + 1.0) / 0.01).astype(np.int64), 0, 199)]


def tail_start(impostor: ImpostorCounts) -> float:
    """The highest grid point with at least the wanted number of comparisons at or above it."""
    n = impostor.comparisons
    wanted = max(TAIL_MIN_EXCEEDANCES, min(TAIL_EXCEEDANCES, round(n * TAIL_RATE)))
    if impostor.events_at_or_above(FMR_GRID_FROM) < wanted:
        raise ValueError(
            f"{n} impostor comparisons are too few to calibrate on "
            f"(the tail fit needs {wanted} at its start)"
        )
    s = FMR_GRID_FROM
    while impostor.events_at_or_above(s + GRID_STEP) >= wanted and s < 1.0:
        s = round(s + GRID_STEP, 4)
    return s


def fit_tail(
    scores: ReferenceScores, relatives: float | None = None, iterations: int = 500
) -> tuple[Tail, float]:
    """Fit strangers (exponential) + relatives (genuine-shaped) to the scores above the start.

    Maximum likelihood by EM on the binned exceedances. With `relatives` given (the prevalence
    measured with one reference), only the strangers' scale is fitted: how common look-alike
    relatives are does not depend on how many references an identity has.
    """
    imp = scores.impostor
    start = tail_start(imp)
    first = math.floor((start + 1.0) / BIN + 1e-9)
    counts = imp.weight[first:]  # the likelihood of each bin's comparisons, by their weight
    centres = (_EDGES[first:-1] + _EDGES[first + 1 :]) / 2
    y = centres - start
    rate_at_start = imp.rate_at_or_above(start)
    grid, found = found_curve(scores.genuine, scores.weights)
    found_at_start = float(np.interp(start, grid, found))
    g = _genuine_density(scores.genuine, scores.weights, centres)
    relatives_density = g / found_at_start if found_at_start > 0 else np.zeros_like(g)
    if relatives is None:
        share = 0.01
    else:
        share = min(0.999, relatives * found_at_start / rate_at_start)
    scale = float((counts * y).sum() / counts.sum())
    for _ in range(iterations):
        strangers = (1 - share) * np.exp(-y / scale) / scale
        rel = share * relatives_density
        resp = np.where(strangers + rel > 0, rel / np.maximum(strangers + rel, 1e-300), 0.0)
        if relatives is None:
            share = float((counts * resp).sum() / counts.sum())
        stranger_weight = counts * (1 - resp)
        scale = float(max((stranger_weight * y).sum() / max(stranger_weight.sum(), 1e-300), 1e-4))
    prevalence = share * rate_at_start / found_at_start if found_at_start > 0 else 0.0
    tail = Tail(
        start=start,
        strangers_rate=rate_at_start * (1 - share),
        strangers_scale=scale,
        exceedances=imp.events_at_or_above(start),
    )
    return tail, (prevalence if relatives is None else relatives)


def curves_from(scores: ReferenceScores, relatives: float | None = None) -> tuple[Curves, float]:
    """The stored curves for one number of references, and the relatives' prevalence."""
    tail, prevalence = fit_tail(scores, relatives)
    imp = scores.impostor
    fmr_grid = np.round(np.arange(FMR_GRID_FROM, tail.start + GRID_STEP / 2, GRID_STEP), 4)
    fmr = [imp.rate_at_or_above(float(s)) for s in fmr_grid]
    grid, found = found_curve(scores.genuine, scores.weights)
    return (
        Curves(
            references=scores.references,
            comparisons=imp.comparisons,
            fmr_similarity=tuple(float(s) for s in fmr_grid),
            fmr=tuple(fmr),
            tail=tail,
            probes=scores.probes,
            people=scores.people,
            found_similarity=tuple(float(s) for s in grid),
            found=tuple(float(f) for f in found),
        ),
        prevalence,
    )


def floor_of(curves: Curves) -> float:
    """The highest grid similarity that FLOOR_FOUND of one-reference genuine probes reach."""
    reached = [
        s for s, f in zip(curves.found_similarity, curves.found, strict=True) if f >= FLOOR_FOUND
    ]
    return reached[-1] if reached else curves.found_similarity[0]


def build_calibration(
    vectors: np.ndarray,
    labels: np.ndarray,
    *,
    model: str,
    recognizer_sha256: str,
    recipe: str,
    fusion: str,
    source: str,
    detector_sha256: str = "",
    notes: Sequence[str] = (),
    impostors: ImpostorCounts | None = None,
    seed: int = 0,
) -> Calibration:
    """A calibration for 1..MAX_REFERENCES references under `fusion` from labelled embeddings."""
    labels = np.asarray(labels)
    one = score_references(
        vectors,
        labels,
        1,
        [fusion],
        seed=seed,
        impostors=impostors or all_pair_impostors(vectors, labels),
    )[fusion]
    curves1, prevalence = curves_from(one)
    curves = {1: curves1}
    for k in range(2, MAX_REFERENCES + 1):
        scores = score_references(vectors, labels, k, [fusion], seed=seed)[fusion]
        if scores.people == 0 or scores.impostor.comparisons == 0:
            break
        try:
            curves[k], _ = curves_from(scores, prevalence)
        except ValueError:
            break  # too few comparisons: fmr() uses the curves for fewer references
    return Calibration(
        model=model,
        recognizer_sha256=recognizer_sha256,
        detector_sha256=detector_sha256,
        recipe=recipe,
        fusion=fusion,
        source=source,
        created=datetime.now(UTC).strftime("%Y-%m-%d"),
        floor=floor_of(curves1),
        relatives=prevalence,
        curves=curves,
        notes=tuple(notes),
    )
