"""Pure identification rules: bands, one identity per face of a photo, the face a photo is for."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from facefind.settings import Thresholds
from gallery import Match
from recognition import DetectedFace

# A photo with several faces is filed for its most prominent face (the portrait convention:
# large and near the centre) only when that face is clearly ahead of the next one; below this
# ratio of prominence the two are a tie, and we cannot tell who is meant.
PROMINENCE_TIE_RATIO = 1.25
# In a folder with several photos of one person, a face "agrees" with the person's other photos
# when its similarity to them is at least this and clearly above the next face's.
AGREEMENT_MIN = 0.30
AGREEMENT_MARGIN = 0.10


@dataclass(frozen=True)
class Candidate:
    rank: int
    identity_id: int
    display_name: str
    external_ref: str | None
    face_id: int
    similarity: float
    band: str  # 'strong' | 'possible'
    low_quality_ref: bool = False
    false_candidate_rate: float | None = None  # for the gallery size at the time


def assign_jointly(
    per_face: Sequence[Sequence[Match]],
    thresholds: Thresholds,
    per_face_limit: int,
    rate: Callable[[float], float | None] | None = None,
) -> list[list[Candidate]]:
    """Banded candidates per face, never giving one identity to two faces of the same photo.

    An optimal one-to-one assignment, rank by rank: the rank-1 candidates of all faces are
    chosen together so that their total similarity is highest (a face that is the only one able
    to take an identity keeps it, rather than losing it to a face with a better alternative);
    then the rank-2 candidates from the identities left, and so on. Matches below `possible`
    are dropped: a face left with nothing gets "no confident match". On equal totals the larger
    face (which comes first) and the lower identity id win, so the answer is deterministic.
    """
    eligible: list[dict[int, Match]] = []
    for matches in per_face:
        best: dict[int, Match] = {}
        for m in matches:
            if thresholds.band(m.similarity) is not None and (
                m.identity_id not in best or m.similarity > best[m.identity_id].similarity
            ):
                best[m.identity_id] = m
        eligible.append(best)
    taken: set[int] = set()
    result: list[list[Candidate]] = [[] for _ in per_face]
    for rank in range(1, per_face_limit + 1):
        faces = [i for i, r in enumerate(result) if len(r) == rank - 1 and eligible[i]]
        identities = sorted({ident for i in faces for ident in eligible[i]} - taken)
        if not faces or not identities:
            break
        for face_no, ident in _best_assignment(faces, identities, eligible):
            m = eligible[face_no][ident]
            taken.add(ident)
            result[face_no].append(
                Candidate(
                    rank=rank,
                    identity_id=m.identity_id,
                    display_name=m.display_name,
                    external_ref=m.external_ref,
                    face_id=m.face_id,
                    similarity=m.similarity,
                    band=thresholds.band(m.similarity) or "possible",
                    low_quality_ref=m.low_quality_ref,
                    false_candidate_rate=rate(m.similarity) if rate else None,
                )
            )
    return result


def _best_assignment(
    faces: list[int], identities: list[int], eligible: list[dict[int, Match]]
) -> list[tuple[int, int]]:
    """(face, identity) pairs of the assignment with the highest total similarity."""
    # Columns: the identities, then one "nothing" column per face (weight 0), so a face may go
    # without. Forbidden pairs get a weight far below any real total.
    forbidden = -1e6
    weights = np.full((len(faces), len(identities) + len(faces)), forbidden)
    for row, face_no in enumerate(faces):
        weights[row, len(identities) + row] = 0.0
        for col, ident in enumerate(identities):
            m = eligible[face_no][ident] if ident in eligible[face_no] else None
            if m is not None:
                # tiny preferences for the larger face and the lower identity id break ties
                weights[row, col] = m.similarity + 1e-9 * (len(faces) - row) - 1e-12 * col
    rows, cols = linear_sum_assignment(weights, maximize=True)
    return [
        (faces[r], identities[c])
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
        if c < len(identities) and weights[r, c] > forbidden / 2
    ]


def prominence(face: DetectedFace, width: int, height: int) -> float:
    """How much a photo is "of" this face: its size, discounted with distance from the centre.

    The side of the face (square root of the box area) times a weight that falls from 1 at the
    centre to 0.25 at a corner: a portrait's subject beats a larger bystander at the edge, and
    a poster face behind the subject loses on both counts.
    """
    x1, y1, x2, y2 = face.bbox
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_diagonal = math.hypot(width, height) / 2 or 1.0
    off = min(1.0, math.hypot(cx - width / 2, cy - height / 2) / half_diagonal)
    return math.sqrt(face.area) * (1.0 - 0.75 * off)


def most_prominent(faces: Sequence[DetectedFace], width: int, height: int) -> DetectedFace | None:
    """The face a photo is filed for by the portrait convention; None on a real tie."""
    if not faces:
        return None
    ranked = sorted(faces, key=lambda f: (-prominence(f, width, height), f.index))
    if len(ranked) == 1:
        return ranked[0]
    first, second = (prominence(f, width, height) for f in ranked[:2])
    return ranked[0] if first >= PROMINENCE_TIE_RATIO * second else None


def agreeing_face(faces: Sequence[DetectedFace], reference: np.ndarray) -> DetectedFace | None:
    """The one face that clearly matches a person's other photos (their mean embedding)."""
    if not faces:
        return None
    ref = np.asarray(reference, dtype=np.float64)
    ref = ref / (np.linalg.norm(ref) or 1.0)
    scored = sorted(
        ((float(np.dot(np.asarray(f.embedding, dtype=np.float64), ref)), f) for f in faces),
        key=lambda sf: -sf[0],
    )
    best_sim, best = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else -1.0
    if best_sim >= AGREEMENT_MIN and best_sim - runner_up >= AGREEMENT_MARGIN:
        return best
    return None
