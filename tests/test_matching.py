"""Identification rules without models or database: bands, joint assignment, dominant face."""

from __future__ import annotations

import numpy as np
import pytest

from facefind.enrollment import choose_face
from facefind.errors import AmbiguousFaces, FaceIndexOutOfRange, NoFaceFound
from facefind.matching import assign_jointly, dominant_face
from facefind.settings import Settings, SettingsError, Thresholds
from gallery import Match
from recognition import DetectedFace, Quality

T = Thresholds(strong=0.50, possible=0.35)


def m(identity: int, sim: float) -> Match:
    return Match(identity, f"P{identity}", None, identity * 10, sim)


def face(index: int, size: float) -> DetectedFace:
    q = Quality(True, (), int(size), 0.9, 100.0, 0.0, 0.0)
    return DetectedFace(
        index, (0.0, 0.0, size, size), np.zeros((5, 2), np.float32), 0.9, q,
        np.zeros((112, 112, 3), np.uint8), np.zeros(512, np.float32),
    )  # fmt: skip


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
    assert [c.identity_id for c in second] == [1, 3]
    # face 1 loses identity 1 to face 2 and moves on to its next candidate
    assert [c.identity_id for c in first] == [2]
    assert first[0].rank == 1 and first[0].band == "possible"


def test_a_tie_goes_to_the_larger_face() -> None:
    first, second = assign_jointly([[m(7, 0.6)], [m(7, 0.6)]], T, 3)
    assert [c.identity_id for c in first] == [7] and second == []


def test_at_most_three_candidates_ranked_by_similarity() -> None:
    cands = assign_jointly([[m(i, 0.4 + i / 100) for i in range(1, 8)]], T, 3)[0]
    assert [c.identity_id for c in cands] == [7, 6, 5]
    assert [c.rank for c in cands] == [1, 2, 3]


def test_the_dominant_face_must_be_clearly_larger() -> None:
    assert dominant_face([face(1, 200), face(2, 100)]) is not None
    assert dominant_face([face(1, 120), face(2, 100)]) is None
    assert dominant_face([]) is None


def test_choosing_the_face_to_enroll() -> None:
    big, small = face(1, 200), face(2, 50)
    assert choose_face([big], None) == (big, "only")
    assert choose_face([big, small], None) == (big, "dominant")
    assert choose_face([big, small], 2) == (small, "index")
    with pytest.raises(FaceIndexOutOfRange):
        choose_face([big, small], 3)
    with pytest.raises(AmbiguousFaces):
        choose_face([face(1, 100), face(2, 95)], None)
    with pytest.raises(NoFaceFound):
        choose_face([], None)


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
    assert s.thresholds_for("buffalo_s") == Thresholds(0.6, 0.40)
    with pytest.raises(SettingsError, match="FACEFIND_MAX_FACES"):
        Settings.from_env({"FACEFIND_MAX_FACES": "many"})
    with pytest.raises(SettingsError, match="possible"):
        Settings.from_env({"FACEFIND_POSSIBLE_THRESHOLD": "0.7"}).thresholds_for("buffalo_s")
