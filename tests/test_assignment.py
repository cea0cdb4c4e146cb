"""Identification rules without models or database: bands, joint assignment (one identity per
face, leads), the settings they read."""

from __future__ import annotations

import pytest

from facefind.runtime.settings import Settings, SettingsError, Thresholds
from facefind.scoring.assignment import Candidate, assign_jointly
from gallery import Match

T = Thresholds(strong=0.50, possible=0.35)


def m(identity: int, sim: float) -> Match:
    return Match(identity, f"P{identity}", None, identity * 10, sim)


def own(cands: list[Candidate]) -> list[int]:
    """The identities assigned to a face (its candidates, not its leads)."""
    return [c.identity_id for c in cands if c.held_by_face is None]


def leads(cands: list[Candidate]) -> list[tuple[int, int | None, float]]:
    """(identity, the face that holds it, this face's score) of a face's leads."""
    return [(c.identity_id, c.held_by_face, c.similarity) for c in cands if c.held_by_face]


def test_bands_follow_the_thresholds() -> None:
    assert T.band(0.50) == "strong"
    assert T.band(0.4999) == "possible"
    assert T.band(0.35) == "possible"
    assert T.band(0.3499) is None


def test_weak_evidence_gives_no_candidate() -> None:
    assert assign_jointly([[m(1, 0.34), m(2, 0.2)]], T, 3) == [[]]


def test_an_identity_goes_to_one_face_only_the_better_one() -> None:
    per_face = [[m(1, 0.55), m(2, 0.40)], [m(1, 0.80), m(3, 0.45)]]
    first, second = assign_jointly(per_face, T, 3)
    assert own(second) == [1, 3]
    # face 1 loses identity 1 to face 2 and moves on to its next candidate
    assert own(first) == [2]
    assert first[0].rank == 1 and first[0].band == "possible"
    # and still shows identity 1, with its own score, as face 2's
    assert leads(first) == [(1, 2, 0.55)] and first[1].rank == 2


def test_a_tie_goes_to_the_larger_face() -> None:
    first, second = assign_jointly([[m(7, 0.6)], [m(7, 0.6)]], T, 3)
    assert own(first) == [7] and own(second) == []
    assert leads(second) == [(7, 1, 0.6)]


def test_at_most_three_candidates_ranked_by_similarity() -> None:
    cands = assign_jointly([[m(i, 0.4 + i / 100) for i in range(1, 8)]], T, 3)[0]
    assert [c.identity_id for c in cands] == [7, 6, 5]
    assert [c.rank for c in cands] == [1, 2, 3]


def test_a_face_keeps_the_identity_only_it_can_take() -> None:
    # face 1 can only be X (0.50); face 2 is Y (0.80) and also X (0.52). Face 2's stronger
    # match Y is assigned first, so X stays for face 1, the only face left that can take it.
    first, second = assign_jointly([[m(1, 0.50)], [m(2, 0.80), m(1, 0.52)]], T, 3)
    assert own(first) == [1]
    assert own(second) == [2]
    assert first[0].rank == 1 and second[0].rank == 1
    assert leads(second) == [(1, 1, 0.52)]


def test_lower_ranks_take_only_identities_no_face_holds() -> None:
    per_face = [[m(1, 0.9), m(3, 0.5), m(4, 0.45)], [m(2, 0.8), m(3, 0.6), m(1, 0.4)]]
    first, second = assign_jointly(per_face, T, 3)
    # rank 2: face 2's 0.6 for identity 3 is the strongest evidence left
    assert own(first) == [1, 4] and own(second) == [2, 3]
    shown = own(first) + own(second)
    assert len(shown) == len(set(shown))  # one identity, one face
    assert leads(first) == [(3, 2, 0.5)] and leads(second) == [(1, 1, 0.4)]


def test_stronger_evidence_is_never_overridden_by_weaker() -> None:
    # face A: X 0.90, Y 0.85; face B: X 0.60. The highest total (A: Y, B: X = 1.45) would tell
    # A "Y" and hide its best match; A keeps X, and B shows X as a lead held by face 1.
    a, b = assign_jointly([[m(1, 0.90), m(2, 0.85)], [m(1, 0.60)]], T, 3)
    assert own(a) == [1, 2] and [c.rank for c in a] == [1, 2]
    assert a[0].band == "strong" and a[0].held_by_face is None
    assert own(b) == [] and leads(b) == [(1, 1, 0.60)]
    assert b[0].rank == 1 and b[0].band == "strong"  # its own score's band, shown as a lead


def test_a_twin_does_not_take_the_persons_identity_and_both_faces_show_it() -> None:
    # LFW's Mary-Kate Olsen: her sister's face took her name at 0.527 from her own face, which
    # had a weaker alternative. Her face (0.61) keeps it; her sister's face shows it as a lead.
    sister, her = assign_jointly([[m(5, 0.527)], [m(5, 0.61), m(8, 0.45)]], T, 3)
    assert own(her) == [5, 8] and her[0].similarity == 0.61
    assert own(sister) == [] and leads(sister) == [(5, 2, 0.527)]


def test_three_faces_share_identities_by_descending_evidence() -> None:
    per_face = [
        [m(1, 0.70), m(2, 0.65)],  # face 1
        [m(1, 0.75), m(3, 0.40)],  # face 2
        [m(2, 0.72), m(1, 0.71), m(4, 0.36)],  # face 3
    ]
    f1, f2, f3 = assign_jointly(per_face, T, 3, numbers=[1, 2, 3])
    # rank 1 in order of similarity: (2, X1) 0.75, (3, X2) 0.72; face 1 has no identity left
    assert (f2[0].identity_id, f3[0].identity_id) == (1, 2) and own(f1) == []
    # rank 2: face 2's identity 3 (0.40), face 3's 4 (0.36); identity 1 is face 2's
    assert own(f2) == [1, 3] and own(f3) == [2, 4]
    # nothing is hidden: face 1 shows both identities it matched, each held by a better face
    assert leads(f1) == [(1, 2, 0.70), (2, 3, 0.65)]
    assert leads(f3) == [(1, 2, 0.71)] and leads(f2) == []
    assert [c.rank for c in f3] == [1, 2, 3]  # leads after the face's own candidates


def test_leads_are_the_held_identities_above_a_faces_last_candidate() -> None:
    # face 2 has three candidates of its own; identity 1 (held by face 1) ranks among them and
    # is shown; identity 9, held too but below its third candidate, is not
    per_face = [[m(1, 0.9), m(9, 0.8)], [m(2, 0.7), m(1, 0.65), m(3, 0.6), m(4, 0.55), m(9, 0.5)]]
    first, second = assign_jointly(per_face, T, 3)
    assert own(first) == [1, 9]
    assert own(second) == [2, 3, 4] and leads(second) == [(1, 1, 0.65)]
    assert [c.rank for c in second] == [1, 2, 3, 4]


def test_settings_read_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u@h/db",
            "ADMIN_IDS": "1, 2,3",
            "FACEFIND_STRONG_THRESHOLD": "0.6",
            "FACEFIND_MAX_FACES": "4",
            "TELEGRAM_API_URL": "http://127.0.0.1:9/",
        }
    )
    assert s.database_url == "postgresql://u@h/db"
    assert s.admin_ids == (1, 2, 3)
    assert s.limits.max_faces == 4
    assert s.telegram_api_url == "http://127.0.0.1:9"
    assert s.with_overrides(Thresholds(0.5, 0.4)) == Thresholds(0.6, 0.40)
    assert s.possible_target == 0.005 and s.strong_target == 0.0005
    with pytest.raises(SettingsError, match="FACEFIND_MAX_FACES"):
        Settings.from_env({"FACEFIND_MAX_FACES": "many"})
    # one fixed threshold always wins: a derived band that would cross it is held at it
    possible_fixed = Settings.from_env({"FACEFIND_POSSIBLE_THRESHOLD": "0.7"})
    assert possible_fixed.with_overrides(Thresholds(0.55, 0.4)) == Thresholds(0.7, 0.7)
    strong_fixed = Settings.from_env({"FACEFIND_STRONG_THRESHOLD": "0.45"})
    assert strong_fixed.with_overrides(Thresholds(0.8, 0.6)) == Thresholds(0.45, 0.45)
    # two fixed thresholds that contradict each other are refused when they are read
    with pytest.raises(SettingsError, match="FACEFIND_POSSIBLE_THRESHOLD"):
        Settings.from_env(
            {"FACEFIND_POSSIBLE_THRESHOLD": "0.7", "FACEFIND_STRONG_THRESHOLD": "0.6"}
        )
    with pytest.raises(SettingsError, match="FACEFIND_STRONG_THRESHOLD"):
        Settings.from_env({"FACEFIND_STRONG_THRESHOLD": "1.5"})
    with pytest.raises(SettingsError, match="FACEFIND_POSSIBLE_TARGET"):
        Settings.from_env({"FACEFIND_POSSIBLE_TARGET": "5"})


def test_a_person_searched_with_a_fused_embedding_meets_bands_raised_by_the_margin() -> None:
    from facefind.scoring.fused import FUSED_BAND_MARGIN, FUSED_BAND_MARGIN_3, band_margin

    assert band_margin(1) == 0.0 and band_margin(2) == FUSED_BAND_MARGIN
    # more faces fused score higher still: a larger margin from three on
    assert band_margin(3) == band_margin(10) == FUSED_BAND_MARGIN_3 > FUSED_BAND_MARGIN
    rates: list[float] = []

    def rate(s: float) -> float:
        rates.append(s)
        return 0.01

    just_possible = T.possible + FUSED_BAND_MARGIN / 2  # possible for one photo, not for an album
    just_strong = T.strong + FUSED_BAND_MARGIN / 2
    one, fused = assign_jointly(
        [[m(1, just_strong), m(2, just_possible)], [m(3, just_strong), m(4, just_possible)]],
        T,
        3,
        rate,
        margins=[band_margin(1), band_margin(2)],
    )
    assert [(c.identity_id, c.band) for c in one] == [(1, "strong"), (2, "possible")]
    # the fused person: the weaker match is dropped, the stronger one is only possible
    assert [(c.identity_id, c.band, c.similarity) for c in fused] == [(3, "possible", just_strong)]
    # and its rate is the one-photo calibration's at its score less the margin
    assert rates[-1] == pytest.approx(just_strong - FUSED_BAND_MARGIN)
