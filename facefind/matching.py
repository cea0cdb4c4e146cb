"""Pure identification rules: bands, one identity per face of a photo, the dominant face."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from facefind.settings import Thresholds
from gallery import Match
from recognition import DetectedFace

# In bulk enrollment a photo with several faces enrolls the largest only when its area is at
# least this many times the next one (about 1.4x the side): otherwise we cannot tell who is meant.
DOMINANT_AREA_RATIO = 2.0


@dataclass(frozen=True)
class Candidate:
    rank: int
    identity_id: int
    display_name: str
    external_ref: str | None
    face_id: int
    similarity: float
    band: str  # 'strong' | 'possible'


def assign_jointly(
    per_face: Sequence[Sequence[Match]], thresholds: Thresholds, per_face_limit: int
) -> list[list[Candidate]]:
    """Banded candidates per face, never giving one identity to two faces of the same photo.

    The face with the higher similarity keeps a contested identity (on a tie, the larger face,
    which comes first); the other face moves on to its next candidate. Matches below the
    `possible` threshold are dropped: that face gets "no confident match".
    """
    owner: dict[int, tuple[float, int]] = {}
    for face_no, matches in enumerate(per_face):
        for m in matches:
            if thresholds.band(m.similarity) is None:
                continue
            current = owner.get(m.identity_id)
            if current is None or m.similarity > current[0]:
                owner[m.identity_id] = (m.similarity, face_no)
    result: list[list[Candidate]] = []
    for face_no, matches in enumerate(per_face):
        kept: list[Candidate] = []
        for m in sorted(matches, key=lambda m: (-m.similarity, m.identity_id)):
            band = thresholds.band(m.similarity)
            if band is None or owner[m.identity_id][1] != face_no:
                continue
            if any(c.identity_id == m.identity_id for c in kept):
                continue
            kept.append(
                Candidate(
                    rank=len(kept) + 1,
                    identity_id=m.identity_id,
                    display_name=m.display_name,
                    external_ref=m.external_ref,
                    face_id=m.face_id,
                    similarity=m.similarity,
                    band=band,
                )
            )
            if len(kept) == per_face_limit:
                break
        result.append(kept)
    return result


def dominant_face(faces: Sequence[DetectedFace]) -> DetectedFace | None:
    """The one face clearly larger than every other, or None when no face dominates."""
    if not faces:
        return None
    ordered = sorted(faces, key=lambda f: f.area, reverse=True)
    if len(ordered) == 1 or ordered[0].area >= DOMINANT_AREA_RATIO * ordered[1].area:
        return ordered[0]
    return None
