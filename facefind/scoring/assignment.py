"""One identity per face of a photo: candidates and leads from each face's search results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from facefind.runtime.settings import Thresholds
from gallery import Match

# How many identities each face's search returns before joint assignment trims to the top 3:
# a face that loses an identity to another face still has its next candidates.
SEARCH_DEPTH = 10


@dataclass(frozen=True)
class Candidate:
    rank: int
    identity_id: int
    display_name: str
    external_ref: str | None
    face_id: int
    similarity: float
    band: str  # 'strong' | 'possible' (of this face's own score, also for a lead)
    low_quality_ref: bool = False
    false_candidate_rate: float | None = None  # for the gallery size at the time
    # A lead, not a candidate: the identity was assigned to this face of the same photo (its
    # number), and is shown here too with this face's own score (twins, siblings).
    held_by_face: int | None = None


def assign_jointly(
    per_face: Sequence[Sequence[Match]],
    thresholds: Thresholds,
    per_face_limit: int,
    rate: Callable[[float], float | None] | None = None,
    numbers: Sequence[int] | None = None,
    margins: Sequence[float] | None = None,
) -> list[list[Candidate]]:
    """Banded candidates per face, never giving one identity to two faces of the same photo,
    followed by the leads of each face: identities it matches that another face holds.

    Rank by rank, the strongest evidence first: of all (face, identity) pairs still open at a
    rank (faces without a candidate of that rank, identities no face holds), the one with the
    highest similarity is assigned, then the next that involves neither, and so on (the
    lexicographically best assignment: weaker evidence never overrides stronger). A face that
    is the only one able to take an identity keeps it unless a stronger match of another face
    takes it. Matches below `possible` are dropped: a face left with nothing gets "no
    confident match". On equal similarities the larger face (which comes first) and then the
    lower identity id win, so the answer is deterministic.

    A face's leads follow its own candidates (ranks after theirs; they do not count toward
    `per_face_limit`): each identity that another face holds, among this face's matches from
    its best down to its last candidate (all of them when it has fewer than the limit), with
    this face's score and `held_by_face` the holder's number (`numbers`, default 1, 2, ...).

    `margins` raise the bands of each face (facefind.scoring.fused: a person searched with the
    fused embedding of several faces); its rates are the calibration's at the score less it.
    """
    numbers = list(numbers) if numbers is not None else list(range(1, len(per_face) + 1))
    margin = list(margins) if margins is not None else [0.0] * len(per_face)
    eligible: list[dict[int, Match]] = []
    for face_no, matches in enumerate(per_face):
        best: dict[int, Match] = {}
        for m in matches:
            if thresholds.band(m.similarity - margin[face_no]) is not None and (
                m.identity_id not in best or m.similarity > best[m.identity_id].similarity
            ):
                best[m.identity_id] = m
        eligible.append(best)
    holder: dict[int, int] = {}  # identity -> the face (position) it was assigned to
    own: list[list[Match]] = [[] for _ in per_face]
    for rank in range(1, per_face_limit + 1):
        pairs = sorted(
            (-m.similarity, face, ident)
            for face, best in enumerate(eligible)
            if len(own[face]) == rank - 1
            for ident, m in best.items()
            if ident not in holder
        )
        assigned = False
        for _, face, ident in pairs:
            if len(own[face]) == rank - 1 and ident not in holder:
                holder[ident] = face
                own[face].append(eligible[face][ident])
                assigned = True
        if not assigned:
            break

    def candidate(face: int, rank: int, m: Match, held_by: int | None) -> Candidate:
        score = m.similarity - margin[face]
        return Candidate(
            rank=rank,
            identity_id=m.identity_id,
            display_name=m.display_name,
            external_ref=m.external_ref,
            face_id=m.face_id,
            similarity=m.similarity,
            band=thresholds.band(score) or "possible",
            low_quality_ref=m.low_quality_ref,
            false_candidate_rate=rate(score) if rate else None,
            held_by_face=held_by,
        )

    result: list[list[Candidate]] = []
    for face, best in enumerate(eligible):
        cands = [candidate(face, rank, m, None) for rank, m in enumerate(own[face], start=1)]
        mine = {m.identity_id for m in own[face]}
        leads: list[Match] = []
        seen = 0
        for m in sorted(best.values(), key=lambda m: (-m.similarity, m.identity_id)):
            if seen == per_face_limit:
                break
            if m.identity_id in mine:
                seen += 1
            elif m.identity_id in holder:
                leads.append(m)
        for m in leads:
            cands.append(candidate(face, len(cands) + 1, m, numbers[holder[m.identity_id]]))
        result.append(cands)
    return result
