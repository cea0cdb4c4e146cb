"""Unknown faces that come back: when a sighting joins an unknown person, when two merge, and
the thresholds for both from the model's calibration at a stated rate of wrongly joined
strangers.

A sighting is a face that got no candidate. It is scored against an unknown person (a group of
sightings) exactly as the gallery scores an identity: the better of its best sighting and the
group's template (the normalised mean of its sightings), in float64 from the full vectors. It
joins only when, besides that score reaching `join`, enough of the group's sightings and the
template itself reach `support` (a link that same-person pairs make 99% of the time): one close
sighting in a group that otherwise disagrees is a weak link, never enough. It never joins a
group holding another face of its own photo, nor one an admin dismissed while it was in it.
A face that qualifies for several groups joins the largest only when the others are the same
person on the strong evidence a merge needs (one person split, whom the nightly pass will
merge); otherwise, or when it reaches `join` without the support, it is deferred to the nightly
pass, which merges groups only on that evidence and places the deferred again.

The rate: a sighting of a person who is not among the unknown persons kept is joined to one of
them with probability 1 - prod_k (1 - FMR_k(join))^N_k (the bands' false candidate rate, with
the groups as identities of k sightings). `join` is the lowest score that keeps this at the
target. The support and template conditions only ever lower the rate, so the target is an upper
bound as far as the calibration holds; bench/sightings.py measures it on LFW.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facefind.scoring.calibration import MAX_REFERENCES, Calibration, GallerySize

# The stated rate: at most this share of the sightings of people who are not among the unknown
# persons kept are joined to one of them (1 in 10,000).
JOIN_TARGET = 1e-4
# A sighting joins a group of n sightings only with the support of at least
# max(min(SUPPORT_MIN, n), ceil(SUPPORT_SHARE * n)) of them: with a group of one, that one; of
# two, both; then at least half.
SUPPORT_MIN = 2
SUPPORT_SHARE = 0.5
# Shortlists walk half-precision copies: a group whose shortlisted score is within this of the
# join threshold is scored exactly (the copies differ from the vectors by about 1e-3).
SHORTLIST_MARGIN = 0.02
# Deferral reasons, as stored and audited.
AMBIGUOUS = "ambiguous"  # it qualifies for groups that are not one person on strong evidence
APART = "apart"  # the one group it qualifies for holds a face of its photo, or dismissed it
WEAK_SUPPORT = "weak_support"  # it reaches the join score with a group, not its support
CROWDED = "crowded"  # the shortlist was full of close sightings: some may be missing

GroupKey = tuple[str, int]  # ("group", unknown person id) or ("sighting", id of one in no group)


def group_key(group_id: int) -> GroupKey:
    return ("group", int(group_id))


def sighting_key(sighting_id: int) -> GroupKey:
    return ("sighting", int(sighting_id))


def apart_keys(lookup_id: int, photo_index: int, dismissed: Sequence[int] = ()) -> frozenset:
    """What a sighting may not share a group with: its own photo (another face there is another
    person), and each group an admin dismissed while it was in it."""
    return frozenset(
        [("photo", int(lookup_id), int(photo_index))] + [("dismissed", int(g)) for g in dismissed]
    )


@dataclass(frozen=True, eq=False)
class Member:
    """A past sighting as the rules see it."""

    id: int
    embedding: np.ndarray  # (512,), unit length
    apart: frozenset[Hashable]
    good: bool = True  # no quality flag: the template prefers good sightings


@dataclass(frozen=True, eq=False)
class Candidate:
    """An unknown person, or a sighting in none, with all its sightings."""

    key: GroupKey
    members: tuple[Member, ...]

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a candidate needs at least one sighting")

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def apart(self) -> frozenset[Hashable]:
        keys: set[Hashable] = set()
        for m in self.members:
            keys |= m.apart
        return frozenset(keys)


# --- thresholds -------------------------------------------------------------------------------
def kept_size(groups: Mapping[int, int]) -> GallerySize:
    """The unknown persons kept, {sightings: how many groups have that many} (a sighting in no
    group is a group of 1), as the calibration's gallery: a group of k <= 3 sightings is an
    identity of k references. A group of n > 3 counts as ceil(n / 3) identities of three: the
    chance that a stranger's best match among n sightings reaches a score is at most that many
    times the chance among three (the calibration stops at three references)."""
    by: dict[int, int] = {}
    for n, count in groups.items():
        if n < 1 or count <= 0:
            continue
        k = min(int(n), MAX_REFERENCES)
        weight = math.ceil(n / MAX_REFERENCES) if n > MAX_REFERENCES else 1
        by[k] = by.get(k, 0) + int(count) * weight
    return GallerySize(by)


@dataclass(frozen=True)
class SightingThresholds:
    """The scores in force for the unknown persons kept."""

    join: float  # a sighting's score with a group (the gallery's fusion) to join it
    merge: float  # the same for the sightings of a group merging into another (half the rate)
    support: float  # each supporting sighting, and the template, reach this
    target: float
    kept: int  # unknown persons kept: open groups, and sightings in none
    size: GallerySize = field(repr=False, compare=False)
    calibration: Calibration = field(repr=False, compare=False)

    def false_join_rate(self, similarity: float) -> float:
        """The chance that a stranger's sighting scores this high with one of the kept."""
        return float(self.calibration.false_candidate_rate(similarity, self.size))

    def as_dict(self) -> dict[str, Any]:
        return {
            "join": round(self.join, 4),
            "merge": round(self.merge, 4),
            "support": round(self.support, 4),
            "target": self.target,
            "kept": self.kept,
        }


def thresholds_for(
    cal: Calibration, groups: Mapping[int, int], *, target: float = JOIN_TARGET
) -> SightingThresholds:
    """The thresholds for the unknown persons kept ({sightings: groups}, see `kept_size`) at
    the stated rate `target`.

    `cal` is the calibration the bands use (with the operator's prevalence of look-alike
    relatives). `support` is its floor: the score 99% of the photos of one person reach with
    another photo of them. `merge` holds a group's merge to the same rate: at least half of its
    sightings must reach it, and the chance of that is at most twice the chance of one.
    """
    if not 0 < target < 1:
        raise ValueError(f"target must be between 0 and 1, got {target}")
    size = kept_size(groups)
    support = float(cal.floor)
    join = max(cal.threshold_for(target, size), support)
    merge = max(cal.threshold_for(target / 2, size), join)
    return SightingThresholds(
        join=join,
        merge=merge,
        support=support,
        target=target,
        kept=sum(int(c) for n, c in groups.items() if n >= 1 and c > 0),
        size=size,
        calibration=cal,
    )


# --- scoring one sighting against one candidate -----------------------------------------------
def cosines(query: np.ndarray, vectors: Sequence[np.ndarray]) -> np.ndarray:
    """Exact cosines in float64, row by row (a score never depends on which other rows are
    scored with it, as in the gallery's search)."""
    matrix = np.stack([np.asarray(v, dtype=np.float64) for v in vectors])
    norms = np.sqrt((matrix * matrix).sum(axis=1))
    norms[norms == 0] = 1.0
    q = np.asarray(query, dtype=np.float64)
    q = q / (np.sqrt((q * q).sum()) or 1.0)
    return np.asarray((matrix * q).sum(axis=1) / norms)


def template(members: Sequence[Member]) -> np.ndarray:
    """A group's template: the normalised mean of its good sightings when it has any, else of
    all (the rule of the gallery's identity templates), in float64."""
    chosen = [m for m in members if m.good] or list(members)
    mean = np.stack([np.asarray(m.embedding, dtype=np.float64) for m in chosen]).mean(axis=0)
    norm = float(np.sqrt((mean * mean).sum()))
    return mean / norm if norm > 1e-12 else mean


def support_needed(n: int) -> int:
    return max(min(SUPPORT_MIN, n), math.ceil(SUPPORT_SHARE * n))


@dataclass(frozen=True)
class Evidence:
    """How a sighting scores with one candidate."""

    key: GroupKey
    sightings: int
    best: float  # its best sighting
    template: float
    score: float  # the better of the two: the gallery's fusion
    support: int  # sightings at or above the support threshold
    needed: int
    apart: bool  # the candidate holds a sighting this one may not share a group with

    def supported(self, support: float) -> bool:
        return self.support >= self.needed and self.template >= support

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidate": f"{self.key[0]}:{self.key[1]}",
            "sightings": self.sightings,
            "score": round(self.score, 4),
            "support": f"{self.support}/{self.needed}",
        }


def evidence(
    query: np.ndarray, apart: frozenset[Hashable], candidate: Candidate, support: float
) -> Evidence:
    sims = cosines(query, [m.embedding for m in candidate.members])
    t = float(cosines(query, [template(candidate.members)])[0])
    best = float(sims.max())
    return Evidence(
        key=candidate.key,
        sightings=candidate.size,
        best=best,
        template=t,
        score=max(best, t),
        support=int((sims >= support).sum()),
        needed=support_needed(candidate.size),
        apart=bool(apart & candidate.apart),
    )


# --- placing a new sighting -------------------------------------------------------------------
@dataclass(frozen=True)
class Placement:
    """Where a sighting goes: 'joined' (target: the group, or the sighting in none that it now
    forms a group with), 'alone', or 'deferred' (reason) to the nightly pass."""

    outcome: str
    target: GroupKey | None
    reason: str | None
    evidence: tuple[Evidence, ...]  # the candidates that reached the join score, best first
    thresholds: SightingThresholds

    @property
    def score(self) -> float | None:
        """The score with the group joined, else the best reaching the join threshold."""
        for e in self.evidence:
            if self.target is None or e.key == self.target:
                return e.score
        return None

    def as_dict(self) -> dict[str, Any]:
        """What the audit record keeps of the decision."""
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "thresholds": self.thresholds.as_dict(),
            "evidence": [e.as_dict() for e in self.evidence[:5]],
        }


def decide(
    query: np.ndarray,
    apart: frozenset[Hashable],
    candidates: Sequence[Candidate],
    thresholds: SightingThresholds,
    *,
    crowded: bool = False,
) -> Placement:
    """Where a new sighting goes, given every candidate that could reach the join threshold
    (all sightings of each). `crowded`: the shortlist that named them was full of sightings at
    least that close, so a candidate may be missing: deferred, never decided on part."""
    thr = thresholds
    scored = [evidence(query, apart, c, thr.support) for c in candidates]
    reaching = sorted((e for e in scored if e.score >= thr.join), key=lambda e: (-e.score, e.key))
    found = tuple(reaching)

    def placed(
        outcome: str, target: GroupKey | None = None, reason: str | None = None
    ) -> Placement:
        return Placement(outcome, target, reason, found, thr)

    if crowded:
        return placed("deferred", reason=CROWDED)
    passing = [e for e in reaching if e.supported(thr.support)]
    if not passing:
        return placed("deferred", reason=WEAK_SUPPORT) if reaching else placed("alone")
    # Two or more qualify: the largest is joined only when each of the others has strong
    # evidence of being the same person (a split the nightly pass will merge, a sighting of
    # the person that waited); else the face may be a look-alike between two people.
    chosen = min(passing, key=lambda e: (-e.sightings, -e.score, e.key))
    by_key = {c.key: c for c in candidates}
    for e in passing:
        if e is chosen:
            continue
        same = merge_evidence(by_key[e.key], by_key[chosen.key], thr)
        if same is None or not same.strong(thr.support):
            return placed("deferred", reason=AMBIGUOUS)
    if chosen.apart:
        return placed("deferred", reason=APART)
    return placed("joined", target=chosen.key)


# --- merging two groups -----------------------------------------------------------------------
@dataclass(frozen=True)
class MergeEvidence:
    keep: GroupKey  # the larger group (ties: the lower id)
    gone: GroupKey
    passing: int  # sightings of the smaller group that would join the larger at `merge`
    needed: int
    mean: float  # mean similarity over every pair of sightings across the two

    def strong(self, support: float) -> bool:
        return self.passing >= self.needed and self.mean >= support

    def as_dict(self) -> dict[str, Any]:
        return {
            "kept": f"{self.keep[0]}:{self.keep[1]}",
            "merged": f"{self.gone[0]}:{self.gone[1]}",
            "passing": f"{self.passing}/{self.needed}",
            "mean": round(self.mean, 4),
        }


def merge_evidence(a: Candidate, b: Candidate, thr: SightingThresholds) -> MergeEvidence | None:
    """The evidence that two groups are one person; None when they may never be one (a face of
    one photo in each, or a sighting an admin dismissed from the other's members)."""
    if a.apart & b.apart:
        return None
    large, small = sorted((a, b), key=lambda c: (-c.size, c.key))
    passing = 0
    for m in small.members:
        e = evidence(m.embedding, frozenset(), large, thr.support)
        passing += e.score >= thr.merge and e.supported(thr.support)
    pairs = np.stack([np.asarray(m.embedding, dtype=np.float64) for m in small.members])
    others = np.stack([np.asarray(m.embedding, dtype=np.float64) for m in large.members])
    pairs /= np.linalg.norm(pairs, axis=1, keepdims=True)
    others /= np.linalg.norm(others, axis=1, keepdims=True)
    return MergeEvidence(
        keep=large.key,
        gone=small.key,
        passing=passing,
        needed=support_needed(small.size),
        mean=float((pairs @ others.T).mean()),
    )


def merge_partners(
    group: Candidate, neighbours: Sequence[Candidate], thr: SightingThresholds
) -> list[MergeEvidence]:
    """The neighbours `group` has strong evidence to merge with, strongest first."""
    found = []
    for other in neighbours:
        if other.key == group.key:
            continue
        ev = merge_evidence(group, other, thr)
        if ev is not None and ev.strong(thr.support):
            found.append(ev)
    return sorted(found, key=lambda e: (-e.mean, e.gone, e.keep))


def one_person(groups: Sequence[Candidate], thr: SightingThresholds) -> bool:
    """Whether every two of these groups have strong evidence to merge: only then are they
    merged together. A group that qualifies with two that do not qualify with each other is a
    look-alike bridging two people, and nothing merges."""
    for i, a in enumerate(groups):
        for b in groups[i + 1 :]:
            ev = merge_evidence(a, b, thr)
            if ev is None or not ev.strong(thr.support):
                return False
    return True


# --- naming -----------------------------------------------------------------------------------
def choose_references(
    sightings: Sequence[tuple[int, bool, float]], at_most: int = MAX_REFERENCES
) -> list[int]:
    """The sightings that become an identity's references when an admin names the group:
    (id, good, quality score) in, the ids of the best `at_most` out, good before flagged, then
    by quality score, then oldest (lowest id)."""
    if at_most < 1:
        raise ValueError("at_most must be at least 1")
    ranked = sorted(sightings, key=lambda s: (not s[1], -s[2], s[0]))
    return [int(s[0]) for s in ranked[:at_most]]
